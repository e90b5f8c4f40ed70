// The process group and the bucketed, backward-overlapped gradient all-reduce.
//
// Design (after DDP's reducer and flashlight's CoalescingReducer, written for LibTorch's C++ API):
// parameters are grouped, in reverse order, into flat buckets of about 25 MB. A hook on each
// parameter copies its gradient into the bucket as backward produces it; once a bucket is full its
// asynchronous all-reduce starts, while backward goes on with earlier layers. Buckets are launched
// strictly in index order, so every rank issues the same collectives in the same order even when
// gradients arrive in a different order. After backward, the remaining buckets are launched, all
// are waited for, divided by the world size and copied back into .grad.
#include <torch/torch.h>

#include <algorithm>
#include <mutex>

#include "dfscan/log.hpp"
#include "dfscan/status.hpp"
#include "train/distributed.hpp"

#if DFSCAN_WITH_DISTRIBUTED
#include "train/c10d_compat.hpp"
#if DFSCAN_WITH_NCCL
#include <c10/cuda/CUDAFunctions.h>
#endif
#endif

namespace dfscan::train {

std::unique_ptr<DataParallel> join_data_parallel(const std::string& mode, const std::string& device_spec,
                                                 c10::Device& device) {
  if (mode == "off") return nullptr;
  if (mode != "auto" && mode != "on")
    throw Error(Status::error, "unknown --distributed mode '" + mode + "' (auto, on, off)");
  const auto env = read_distributed_env();
  if (!env) {
    if (mode == "on")
      throw Error(Status::error,
                  "--distributed on needs a launcher's variables (torchrun's RANK, WORLD_SIZE, MASTER_ADDR, "
                  "MASTER_PORT, or srun's)");
    return nullptr;
  }
  if (env->world_size == 1) {
    // "on" joins even a world of one: the backend's smoke test (NCCL on a one-GPU box).
    if (mode == "auto") return nullptr;
    if (env->master_addr.empty() || env->master_port == 0)
      throw Error(Status::error,
                  "--distributed on with a world of one still needs MASTER_ADDR and MASTER_PORT");
  }
  if (device.is_cuda() && device_spec.find(':') == std::string::npos) {
    // One GPU visible: the launcher bound one to this task (srun --gpus-per-task=1); else pick ours.
    const auto count = static_cast<int>(torch::cuda::device_count());
    if (count > 1 && env->local_rank >= count)
      throw Error(Status::error, "local rank " + std::to_string(env->local_rank) +
                                     " has no GPU of its own (" + std::to_string(count) +
                                     " visible); start at most one process per GPU");
    device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(count == 1 ? 0 : env->local_rank));
  }
  auto group = DataParallel::join(*env, device);
  log::info("distributed: rank " + std::to_string(env->rank) + " of " + std::to_string(env->world_size) +
            " (" + env->launcher + ", " + group->backend() + " on " + device.str() + ", store " +
            env->master_addr + ":" + std::to_string(env->master_port) + ")");
  return group;
}

bool distributed_built() {
#if DFSCAN_WITH_DISTRIBUTED
  return true;
#else
  return false;
#endif
}

#if !DFSCAN_WITH_DISTRIBUTED

std::unique_ptr<DataParallel> DataParallel::join(const DistributedEnv& env, const c10::Device&,
                                                 std::chrono::milliseconds) {
  throw Error(Status::error, "launched as rank " + std::to_string(env.rank) + " of " +
                                 std::to_string(env.world_size) +
                                 " but this dfscan was built without DFSCAN_WITH_DISTRIBUTED "
                                 "(install libgloo-dev and reconfigure), or pass --distributed off");
}

#else

namespace {

struct Bucket {
  std::vector<std::size_t> params;  // indices into ProcessGroupParallel::params_
  at::Tensor flat;
  std::size_t pending = 0;  // gradients still missing in this backward pass
  bool launched = false;
  c10::intrusive_ptr< ::c10d::Work> work;
};

class ProcessGroupParallel final : public DataParallel {
 public:
  ProcessGroupParallel(const DistributedEnv& env, const c10::Device& device,
                       std::chrono::milliseconds timeout)
      : rank_(env.rank), world_(env.world_size), device_(device) {
    // Our keys under a prefix of their own; under torchrun's agent store also under its attempt.
    auto store = c10d_compat::tcp_store(env.master_addr, env.master_port, !env.agent_store && env.rank == 0,
                                        env.world_size, timeout);
    if (env.agent_store)
      store = c10d_compat::prefix_store("/worker/attempt_" + std::to_string(env.restart_count), store);
    store = c10d_compat::prefix_store("dfscan/", store);
    if (device.is_cuda()) {
#if DFSCAN_WITH_NCCL
      c10::cuda::set_device(static_cast<c10::DeviceIndex>(device.index()));
      nccl_ = c10::make_intrusive< ::c10d::ProcessGroupNCCL>(store, rank_, world_,
                                                             c10d_compat::nccl_options(timeout));
      group_ = nccl_;
      backend_ = "nccl";
#else
      throw Error(Status::error, "distributed training on " + device.str() +
                                     " needs NCCL, which this LibTorch (or build) lacks; train on the CPU");
#endif
    } else {
#if DFSCAN_WITH_GLOO
      const char* interfaces = std::getenv("GLOO_SOCKET_IFNAME");
      group_ = c10::make_intrusive< ::c10d::ProcessGroupGloo>(
          store, rank_, world_, c10d_compat::gloo_options(interfaces ? interfaces : "", timeout));
      backend_ = "gloo";
#else
      throw Error(Status::error, "distributed training on the CPU needs Gloo, which this build lacks");
#endif
    }
  }

  ~ProcessGroupParallel() override {
    for (std::size_t i = 0; i < hooks_.size(); ++i) params_[i].remove_hook(hooks_[i]);
    try {
      for (auto& b : buckets_)
        if (b.work) b.work->wait();
    } catch (...) {
      // The group is going away; a failed collective was already reported by finish_backward.
    }
#if DFSCAN_WITH_NCCL
    if (nccl_) c10d_compat::shutdown(*nccl_);
#endif
  }

  int rank() const override {
    return rank_;
  }
  int world_size() const override {
    return world_;
  }
  std::string backend() const override {
    return backend_;
  }

  void broadcast_from_rank0(const std::vector<at::Tensor>& tensors) override {
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> targets, staged;
    std::vector<c10::intrusive_ptr< ::c10d::Work> > works;
    ::c10d::BroadcastOptions options;
    options.rootRank = 0;
    for (const auto& t : tensors) {
      if (!t.defined() || t.numel() == 0) continue;
      // Collectives write a dense buffer; a non-contiguous tensor goes through a copy.
      auto buffer = t.is_contiguous() ? t.detach() : t.detach().contiguous();
      std::vector<at::Tensor> one{buffer};
      works.push_back(group_->broadcast(one, options));
      targets.push_back(t);
      staged.push_back(buffer);
    }
    for (auto& w : works) w->wait();
    for (std::size_t i = 0; i < targets.size(); ++i)
      if (!staged[i].is_same(targets[i])) targets[i].detach().copy_(staged[i]);
  }

  std::vector<int64_t> broadcast_from_rank0(const std::vector<int64_t>& values) override {
    auto t = torch::tensor(values, torch::kLong).to(device_);
    std::vector<at::Tensor> one{t};
    ::c10d::BroadcastOptions options;
    options.rootRank = 0;
    group_->broadcast(one, options)->wait();
    t = t.to(torch::kCPU);
    return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
  }

  double average(double value) override {
    auto t = torch::tensor({value}, torch::kDouble).to(device_);
    std::vector<at::Tensor> one{t};
    group_->allreduce(one)->wait();
    return t.item<double>() / world_;
  }

  // An all-reduce of one element rather than c10d's barrier: NCCL's barrier guesses the device.
  void barrier() override {
    (void)average(0.0);
  }

  void attach(const std::vector<at::Tensor>& params, std::size_t bucket_bytes) override {
    if (!params_.empty()) throw Error(Status::error, "DataParallel::attach called twice");
    params_ = params;
    bucket_of_.assign(params_.size(), 0);
    offset_of_.assign(params_.size(), 0);
    got_.assign(params_.size(), false);
    // Reverse order: backward produces the last layers' gradients first. The first bucket is
    // small (1 MB, as DDP does) so that communication starts early in the backward pass.
    std::size_t bytes = 0;
    for (std::size_t k = params_.size(); k-- > 0;) {
      const auto& p = params_[k];
      if (p.is_sparse())
        throw Error(Status::error, "distributed training does not support sparse parameters");
      const auto size = static_cast<std::size_t>(p.numel()) * p.element_size();
      const auto cap = buckets_.size() <= 1 ? std::min<std::size_t>(bucket_bytes, 1u << 20) : bucket_bytes;
      const bool fresh = buckets_.empty() || bytes + size > cap ||
                         params_[buckets_.back().params.front()].scalar_type() != p.scalar_type() ||
                         params_[buckets_.back().params.front()].device() != p.device();
      if (fresh) {
        buckets_.emplace_back();
        bytes = 0;
      }
      buckets_.back().params.push_back(k);
      bytes += size;
    }
    for (std::size_t b = 0; b < buckets_.size(); ++b) {
      int64_t n = 0;
      for (auto k : buckets_[b].params) {
        bucket_of_[k] = b;
        offset_of_[k] = n;
        n += params_[k].numel();
      }
      const auto& first = params_[buckets_[b].params.front()];
      buckets_[b].flat = torch::zeros({n}, first.options().requires_grad(false));
    }
    for (std::size_t k = 0; k < params_.size(); ++k)
      hooks_.push_back(params_[k].register_hook([this, k](const at::Tensor& grad) { on_gradient(k, grad); }));
    log::info("distributed: " + std::to_string(params_.size()) + " parameter tensors in " +
              std::to_string(buckets_.size()) + " all-reduce bucket(s) of at most " +
              std::to_string(bucket_bytes >> 20) + " MB (" + backend_ + ")");
  }

  void prepare_backward() override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& b : buckets_) {
      b.pending = b.params.size();
      b.launched = false;
      b.work.reset();
    }
    std::fill(got_.begin(), got_.end(), false);
    next_ = 0;
    armed_ = true;
  }

  void finish_backward() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!armed_) throw Error(Status::error, "finish_backward without prepare_backward");
      armed_ = false;
      if (steps_++ == 0)
        log::debug("distributed: " + std::to_string(next_) + " of " + std::to_string(buckets_.size()) +
                   " bucket(s) launched during the first backward pass");
      // Parameters that took no part in this pass contribute zeros, so every rank still launches
      // every bucket.
      for (std::size_t b = next_; b < buckets_.size(); ++b) {
        auto& bucket = buckets_[b];
        for (auto k : bucket.params)
          if (!got_[k]) slice(k).zero_();
        bucket.pending = 0;
      }
      launch_ready();
    }
    torch::NoGradGuard no_grad;
    for (auto& b : buckets_) {
      b.work->wait();
      b.work.reset();
      b.flat.div_(world_);
    }
    for (std::size_t k = 0; k < params_.size(); ++k) {
      if (!got_[k]) continue;  // leave a parameter without a local gradient as the optimizer left it
      auto averaged = slice(k).view(params_[k].sizes());
      auto& grad = params_[k].mutable_grad();
      if (grad.defined()) {
        grad.copy_(averaged);
      } else {
        grad = averaged.clone();
      }
    }
  }

 private:
  at::Tensor slice(std::size_t k) {
    return buckets_[bucket_of_[k]].flat.narrow(0, offset_of_[k], params_[k].numel());
  }

  void on_gradient(std::size_t k, const at::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!armed_) return;  // a backward pass outside a training step is not ours to reduce
    auto& bucket = buckets_[bucket_of_[k]];
    if (got_[k] || bucket.launched)
      throw Error(Status::error,
                  "a parameter received two gradients in one backward pass; "
                  "distributed training needs one backward per step");
    torch::NoGradGuard no_grad;
    if (grad.is_sparse())
      throw Error(Status::error, "distributed training does not support sparse gradients");
    slice(k).copy_(grad.detach().reshape({-1}));
    got_[k] = true;
    --bucket.pending;
    launch_ready();
  }

  // Launches the complete buckets in index order, stopping at the first incomplete one. Caller holds mutex_.
  void launch_ready() {
    while (next_ < buckets_.size() && buckets_[next_].pending == 0) {
      auto& bucket = buckets_[next_++];
      std::vector<at::Tensor> one{bucket.flat};
      bucket.work = group_->allreduce(one);
      bucket.launched = true;
    }
  }

  int rank_, world_;
  c10::Device device_;
  std::string backend_;
  c10::intrusive_ptr<c10d_compat::Collectives> group_;
#if DFSCAN_WITH_NCCL
  c10::intrusive_ptr< ::c10d::ProcessGroupNCCL> nccl_;
#endif
  std::vector<at::Tensor> params_;
  std::vector<unsigned> hooks_;
  std::vector<std::size_t> bucket_of_;
  std::vector<int64_t> offset_of_;
  std::vector<bool> got_;
  std::vector<Bucket> buckets_;
  std::size_t next_ = 0;
  bool armed_ = false;
  int64_t steps_ = 0;
  std::mutex mutex_;
};

}  // namespace

std::unique_ptr<DataParallel> DataParallel::join(const DistributedEnv& env, const c10::Device& device,
                                                 std::chrono::milliseconds timeout) {
  try {
    return std::make_unique<ProcessGroupParallel>(env, device, timeout);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(Status::error, "cannot join the process group at " + env.master_addr + ":" +
                                   std::to_string(env.master_port) + " as rank " + std::to_string(env.rank) +
                                   " of " + std::to_string(env.world_size) + ": " + one_line(e.what()));
  }
}

#endif

}  // namespace dfscan::train
