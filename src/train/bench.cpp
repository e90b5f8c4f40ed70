// `dfscan bench`: throughput of the model path on synthetic tensors (see include/dfscan/bench.hpp).
#include "dfscan/bench.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "detectors/architecture.hpp"
#include "detectors/device_copy.hpp"
#include "dfscan/checkpoint.hpp"
#include "dfscan/config.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/log.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/nn/shortcuts.hpp"
#include "dfscan/ordered_pipeline.hpp"
#include "dfscan/runtime.hpp"
#include "dfscan/status.hpp"
#include "dfscan/train.hpp"
#include "train/amp.hpp"
#include "train/bench_profile.hpp"
#include "train/optim.hpp"

#if DFSCAN_TORCH_CUDA
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace dfscan::bench {
namespace {

using json = nlohmann::json;

struct Network {
  std::string label;
  const detectors::Architecture* arch = nullptr;
  std::shared_ptr<torch::nn::Module> net;
  json manifest;
  int64_t input_size = 224;
  train::ScoreRule score;
};

Network build_network(const BenchOptions& o) {
  Network n;
  if (!o.model.empty()) {
    const auto path = resolve_model(o.model);
    auto file = io::read_model_file(path);
    n.manifest = file.manifest;
    n.arch = &detectors::find_architecture(n.manifest.at("arch").get<std::string>());
    n.net = n.arch->build(n.manifest.value("config", json::object()));
    io::load_into(*n.net, file.tensors, /*strict=*/true);
    n.label = n.manifest.value("name", path.stem().string());
  } else {
    if (o.arch.empty()) throw Error(Status::error, "bench needs a model (-m) or an architecture (--arch)");
    n.arch = &detectors::find_architecture(o.arch);
    n.manifest = n.arch->defaults();
    torch::manual_seed(0);
    try {
      n.net = n.arch->build(o.arch_config.is_null() ? json("official") : o.arch_config);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(Status::error, "cannot build " + o.arch + " from its config: " + one_line(e.what()));
    }
    n.label =
        o.arch + (o.arch_config.is_string() || o.arch_config.is_null()
                      ? "/" + (o.arch_config.is_string() ? o.arch_config.get<std::string>() : "official")
                      : "/custom");
  }
  n.input_size =
      o.input_size > 0 ? o.input_size : n.manifest.value("input", json::object()).value("size", 224);
  const auto score = n.manifest.value("score", json::object());
  n.score.activation = score.value("activation", "sigmoid");
  n.score.fake_index = score.value("fake_index", 0);
  return n;
}

// TF32 is a matmul/convolution setting, not an autocast dtype: "fp32" turns it off explicitly so
// that fp32 rows are true fp32 (PyTorch enables it for cuDNN convolutions by default).
void set_tf32(bool on) {
  at::globalContext().setAllowTF32CuBLAS(on);
  at::globalContext().setAllowTF32CuDNN(on);
}

std::string autocast_precision(const std::string& dtype) {
  if (dtype == "bf16" || dtype == "fp16") return dtype;
  if (dtype == "fp32" || dtype == "tf32") return "fp32";
  throw Error(Status::error, "unknown dtype '" + dtype + "' (fp32, tf32, bf16, fp16)");
}

// Measures `step` (one batch): per-batch latencies and one img/s figure per repeat.
class Timer {
 public:
  explicit Timer(const c10::Device& device) : cuda_(device.is_cuda()) {}

  template <typename Step>
  void measure(const BenchOptions& o, int64_t batch, Step&& step, BenchRow& row) {
    for (int i = 0; i < o.warmup; ++i) step();
    synchronize();
    row.iters = o.iters;
    if (o.min_repeat_ms > 0) {
      const double one = time_batches(1, step)[0];
      if (one * o.iters < o.min_repeat_ms)
        row.iters = static_cast<int>(std::ceil(o.min_repeat_ms / std::max(one, 1e-3)));
    }
    std::vector<double> latencies;
    for (int r = 0; r < o.repeats; ++r) {
      std::vector<double> ms = time_batches(row.iters, step);
      double total = 0;
      for (double m : ms) total += m;
      row.repeat_images_per_s.push_back(total > 0 ? 1000.0 * batch * row.iters / total : 0.0);
      latencies.insert(latencies.end(), ms.begin(), ms.end());
    }
    row.images_per_s = median(row.repeat_images_per_s);
    row.latency_ms_p50 = quantile(latencies, 0.50);
    row.latency_ms_p90 = quantile(latencies, 0.90);
    row.latency_ms_p99 = quantile(latencies, 0.99);
  }

 private:
  void synchronize() const {
    if (cuda_) torch::cuda::synchronize();
  }

  template <typename Step>
  std::vector<double> time_batches(int iters, Step& step) {
    std::vector<double> ms(static_cast<size_t>(iters), 0.0);
#if DFSCAN_TORCH_CUDA
    if (cuda_) {
      // Events on the stream: back-to-back batches stay queued, as they would in a real pipeline.
      std::vector<at::cuda::CUDAEvent> marks;
      marks.reserve(static_cast<size_t>(iters) + 1);
      for (int i = 0; i <= iters; ++i) marks.emplace_back(cudaEventDefault);
      marks[0].record();
      for (int i = 0; i < iters; ++i) {
        step();
        marks[static_cast<size_t>(i) + 1].record();
      }
      marks.back().synchronize();
      for (int i = 0; i < iters; ++i)
        ms[static_cast<size_t>(i)] =
            marks[static_cast<size_t>(i)].elapsed_time(marks[static_cast<size_t>(i) + 1]);
      return ms;
    }
#endif
    for (int i = 0; i < iters; ++i) {
      const auto start = std::chrono::steady_clock::now();
      step();
      synchronize();
      ms[static_cast<size_t>(i)] =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    }
    return ms;
  }

  bool cuda_;
};

at::Tensor random_input(int64_t batch, int64_t size, const c10::Device& device, bool channels_last) {
  auto x = torch::randn({batch, 3, size, size}, torch::TensorOptions().device(device));
  return channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}

// With --profile-kernels: the measured step once more under the profiler. Without a profiler the
// row keeps its figures and the log says why.
template <typename Step>
void profile_row(const BenchOptions& o, const c10::Device& device, Step&& step, BenchRow& row) {
  if (o.profile_kernels <= 0) return;
  try {
    auto profile = profile_kernels(step, o.iters, device.is_cuda(), o.profile_kernels);
    row.kernels = std::move(profile.top);
    row.kernel_total = std::move(profile.total);
    row.host_ops = std::move(profile.host);
  } catch (const Error& e) {
    log::warn(std::string("no kernel profile: ") + e.what());
  }
}

void bench_inference(Network& n, const BenchOptions& o, const c10::Device& device, BenchRow& row) {
  n.net->eval();
  auto input = random_input(row.batch, n.input_size, device, o.channels_last);
  const auto precision = autocast_precision(row.dtype);
  train::check_precision(precision, device);
  Timer timer(device);
  c10::InferenceMode inference;
  if (!row.cuda_graph) {
    train::AutocastGuard autocast(precision);
    const auto step = [&] { (void)n.arch->forward(*n.net, input, n.manifest); };
    timer.measure(o, row.batch, step, row);
    profile_row(o, device, step, row);
    return;
  }
#if DFSCAN_TORCH_CUDA
  // Capture once on a side stream after warm-up there (cuDNN picks its algorithms outside the
  // capture), then replay: one launch per batch instead of hundreds.
  train::AutocastGuard autocast(precision);
  const bool cache = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(false);  // cached casts must not outlive the capture
  at::Tensor output;
  at::cuda::CUDAGraph graph;
  {
    auto side = c10::cuda::getStreamFromPool();
    at::cuda::CUDAEvent inputs_ready;  // the side stream must see the input's initialisation
    inputs_ready.record(c10::cuda::getCurrentCUDAStream());
    inputs_ready.block(side);
    c10::cuda::CUDAStreamGuard on_side(side);
    for (int i = 0; i < 3; ++i) output = n.arch->forward(*n.net, input, n.manifest);
    side.synchronize();
    graph.capture_begin();
    output = n.arch->forward(*n.net, input, n.manifest);
    graph.capture_end();
    side.synchronize();
  }
  at::autocast::set_autocast_cache_enabled(cache);
  const auto replay = [&] { graph.replay(); };
  timer.measure(o, row.batch, replay, row);
  profile_row(o, device, replay, row);
#else
  throw Error(Status::unsupported, "CUDA graphs need a CUDA build of LibTorch");
#endif
}

void bench_training(Network& n, const BenchOptions& o, const c10::Device& device, BenchRow& row) {
  n.net->train();
  auto input = random_input(row.batch, n.input_size, device, o.channels_last);
  auto labels = torch::randint(0, 2, {row.batch}, torch::TensorOptions().dtype(torch::kLong).device(device));
  const auto precision = autocast_precision(row.dtype);
  train::check_precision(precision, device);
  // The optimizer `dfscan train` uses (multi-tensor steps on CUDA), as PyTorch's default Adam.
  train::TrainOptions adam;
  adam.optimizer = "adam";
  adam.lr = 1e-4;
  auto optimizer = train::make_optimizer(n.net->parameters(), adam);
  Timer timer(device);
  const auto step = [&] {
    optimizer->zero_grad();
    at::Tensor loss;
    {
      train::AutocastGuard autocast(precision);
      auto out = n.arch->forward(*n.net, input, n.manifest);
      loss = train::classification_loss(out.to(torch::kFloat), labels, n.score);
    }
    loss.backward();
    optimizer->step();
  };
  timer.measure(o, row.batch, step, row);
  profile_row(o, device, step, row);
}

// The scan pipeline's inference stage, fed by a synthetic tensor source in place of decoding and
// face cropping: worker threads hand over fresh uint8 [B,S,S,3] batches, page-locked for the pinned
// rows and pageable otherwise; this thread copies each to the device (asynchronously from pinned
// memory, or an ordinary copy), converts and normalises it there, and runs the network, waiting
// for the device only at the end of a repeat.
void bench_pipeline(Network& n, const BenchOptions& o, const c10::Device& device, BenchRow& row) {
  n.net->eval();
  const auto precision = autocast_precision(row.dtype);
  train::check_precision(precision, device);
  torch::manual_seed(0);
  const auto crops = torch::randint(0, 256, {row.batch, n.input_size, n.input_size, 3}, torch::kUInt8);
  // New memory for every batch, as a decoder's. Pinned by the worker, as PyTorch's DataLoader pins
  // off the main thread: the thread that launches the network then only queues an asynchronous
  // copy, with no staging pass over the batch (pinned rows exist only on CUDA).
  const auto produce = [&](std::size_t) { return row.pinned ? crops.pin_memory() : crops.clone(); };
  c10::InferenceMode inference;
  train::AutocastGuard autocast(precision);
  const auto consume = [&](std::size_t, at::Tensor&& batch) {
    auto x = detectors::to_device(batch, device, row.pinned).permute({0, 3, 1, 2}).to(torch::kFloat);
    x = x.div_(127.5).sub_(1.0).contiguous(o.channels_last ? at::MemoryFormat::ChannelsLast
                                                           : at::MemoryFormat::Contiguous);
    (void)n.arch->forward(*n.net, x, n.manifest);
  };
  const auto workers = std::max(1, o.workers);
  const auto run_batches = [&](int count) {
    ordered_pipeline<at::Tensor>(static_cast<std::size_t>(count), workers,
                                 static_cast<std::size_t>(workers) + 2, produce, consume);
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  if (o.warmup > 0) run_batches(o.warmup);
  std::vector<double> per_batch_ms;
  for (int r = 0; r < o.repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run_batches(o.iters);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    row.repeat_images_per_s.push_back(ms > 0 ? 1000.0 * static_cast<double>(row.batch * o.iters) / ms : 0.0);
    per_batch_ms.push_back(ms / o.iters);  // batches overlap: a repeat's mean, not one batch's own
  }
  row.iters = o.iters;
  row.images_per_s = median(row.repeat_images_per_s);
  row.latency_ms_p50 = quantile(per_batch_ms, 0.50);
  row.latency_ms_p90 = quantile(per_batch_ms, 0.90);
  row.latency_ms_p99 = quantile(per_batch_ms, 0.99);
}

}  // namespace

double median(std::vector<double> values) {
  return quantile(std::move(values), 0.5);
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

std::vector<BenchRow> run(const BenchOptions& o, const std::function<void(const BenchRow&)>& on_row) {
  if (o.iters < 1 || o.repeats < 1 || o.warmup < 0 || !(o.min_repeat_ms >= 0))
    throw Error(Status::error,
                "bench needs --iters >= 1, --repeats >= 1, --warmup >= 0 and --min-repeat-ms >= 0");
  for (const auto& mode : o.modes)
    if (mode != "infer" && mode != "train" && mode != "pipeline")
      throw Error(Status::error, "unknown bench mode '" + mode + "' (infer, train, pipeline)");
  if (o.pinned.empty()) throw Error(Status::error, "bench needs a pinned setting (on, off or both)");
  for (const auto& dtype : o.dtypes) (void)autocast_precision(dtype);
  for (const auto batch : o.batch_sizes)
    if (batch < 1) throw Error(Status::error, "batch sizes must be >= 1");
  const auto device = parse_device(o.device);
  const nn::ScopedShortcuts shortcuts(!o.reference_ops);
  auto n = build_network(o);
  n.net->to(device);
  if (o.channels_last) detectors::to_channels_last(*n.net);
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);

  std::vector<BenchRow> rows;
  // Pinned memory only exists with CUDA: pipeline rows on other devices copy from pageable memory.
  std::vector<bool> pinned_settings;
  for (const bool pinned : o.pinned)
    if (!pinned || device.is_cuda()) pinned_settings.push_back(pinned);
  if (pinned_settings.empty()) pinned_settings.push_back(false);

  // Measures one combination in place; an unsupported one is skipped with its reason, not dropped.
  const auto measure = [&](BenchRow& row) {
    if (row.cuda_graph && (row.mode != "infer" || !device.is_cuda())) {
      row.status = row.mode != "infer" ? "skipped: CUDA graphs are for inference on fixed inputs"
                                       : "skipped: CUDA graphs need CUDA";
      return;
    }
    set_tf32(row.dtype == "tf32");
    try {
      if (row.mode == "infer")
        bench_inference(n, o, device, row);
      else if (row.mode == "train")
        bench_training(n, o, device, row);
      else
        bench_pipeline(n, o, device, row);
    } catch (const Error& e) {
      // One unsupported combination (bf16 on a CPU) must not end the table.
      row.status = std::string("skipped: ") + e.what();
    } catch (const c10::Error& e) {
      row.status = "failed: " + one_line(e.what());
    }
  };

  for (const auto& mode : o.modes) {
    const auto pin_rows = mode == "pipeline" ? pinned_settings : std::vector<bool>{false};
    for (const auto& dtype : o.dtypes)
      for (const bool graph : o.cuda_graphs)
        for (const bool pinned : pin_rows)
          for (const auto batch : o.batch_sizes) {
            BenchRow row;
            row.model = n.label;
            row.mode = mode;
            row.dtype = dtype;
            row.device = device.str();
            row.batch = batch;
            row.input_size = n.input_size;
            row.channels_last = o.channels_last;
            row.cuda_graph = graph;
            row.reference_ops = o.reference_ops;
            row.pinned = pinned;
            measure(row);
            if (on_row) on_row(row);
            rows.push_back(std::move(row));
          }
  }
  return rows;
}

json to_json(const BenchRow& r) {
  json j = {{"model", r.model},
            {"mode", r.mode},
            {"dtype", r.dtype},
            {"device", r.device},
            {"batch", r.batch},
            {"input_size", r.input_size},
            {"channels_last", r.channels_last},
            {"cuda_graph", r.cuda_graph},
            {"reference_ops", r.reference_ops},
            {"pinned", r.pinned},
            {"status", r.status}};
  if (r.status == "ok") {
    j["images_per_s"] = r.images_per_s;
    j["iters"] = r.iters;
    j["latency_ms"] = {{"p50", r.latency_ms_p50}, {"p90", r.latency_ms_p90}, {"p99", r.latency_ms_p99}};
    j["repeat_images_per_s"] = r.repeat_images_per_s;
  }
  const auto entries = [](const std::vector<KernelTime>& list) {
    auto out = json::array();
    for (const auto& k : list)
      out.push_back({{"name", k.name}, {"ms", k.ms_per_step}, {"calls", k.calls_per_step}});
    return out;
  };
  if (!r.kernels.empty()) j["kernels"] = entries(r.kernels);
  if (r.kernel_total.calls_per_step > 0)
    j["kernel_total"] = {{"ms", r.kernel_total.ms_per_step}, {"calls", r.kernel_total.calls_per_step}};
  if (!r.host_ops.empty()) j["host_ops"] = entries(r.host_ops);
  return j;
}

}  // namespace dfscan::bench
