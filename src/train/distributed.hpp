#pragma once
// Data-parallel training over PyTorch's c10d process groups (LibTorch has no C++ DDP).
//
// One process per replica. Each rank takes its slice of every global batch, gradients are
// all-reduced in buckets while the backward pass is still running, and averaged by the world size,
// so the optimizer sees the gradient of the mean loss over the whole global batch.
//
// The environment parsing below needs no c10d; the process group itself exists only in builds
// with DFSCAN_WITH_DISTRIBUTED (Gloo on CPU, NCCL on CUDA when the LibTorch has it).
#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dfscan::train {

// Where this process sits in the job, as a launcher described it.
struct DistributedEnv {
  std::string launcher;  // "torchrun" (RANK/WORLD_SIZE; also scripts/launch-local.sh) or "slurm"
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // picks the GPU on a node
  std::string master_addr;
  int master_port = 0;
  // torchrun's static rendezvous: its agent already hosts the TCPStore, so every rank is a client
  // and keys live under /worker/attempt_<restart_count>.
  bool agent_store = false;
  int restart_count = 0;
};

// Looks up one environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_environment();

// Reads the launcher's variables: torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT,
// else Slurm's SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID with the master from MASTER_ADDR or
// SLURM_LAUNCH_NODE_IPADDR (port: MASTER_PORT, else derived from SLURM_JOB_ID). Returns nullopt
// when no launcher variable is set; throws dfscan::Error naming what is missing or malformed.
std::optional<DistributedEnv> read_distributed_env(const EnvLookup& env = process_environment());

// Whether this build has c10d process groups (DFSCAN_WITH_DISTRIBUTED).
bool distributed_built();

// One rank's membership of the process group, and the bucketed gradient all-reduce.
class DataParallel {
 public:
  virtual ~DataParallel() = default;

  // Joins the group: a TCPStore at MASTER_ADDR:MASTER_PORT, then Gloo (CPU) or NCCL (CUDA tensors on
  // `device`). Throws dfscan::Error when this build has no c10d or no backend for the device.
  static std::unique_ptr<DataParallel> join(const DistributedEnv& env, const c10::Device& device,
                                            std::chrono::milliseconds timeout = std::chrono::minutes(30));

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend() const = 0;

  // Overwrites every tensor (parameters and buffers, in place) with rank 0's copy.
  virtual void broadcast_from_rank0(const std::vector<at::Tensor>& tensors) = 0;
  // Rank 0's value of a small integer vector (the same length on every rank).
  virtual std::vector<int64_t> broadcast_from_rank0(const std::vector<int64_t>& values) = 0;
  // Mean of `value` over the ranks.
  virtual double average(double value) = 0;
  virtual void barrier() = 0;

  // Hooks the gradients of `params` (the optimizer's, the same on every rank) into buckets of at
  // most `bucket_bytes`, filled in reverse parameter order as backward produces them.
  virtual void attach(const std::vector<at::Tensor>& params, std::size_t bucket_bytes = 25u << 20) = 0;
  // Call before each backward pass: buckets are launched as soon as their gradients are all in.
  virtual void prepare_backward() = 0;
  // Call after backward: launches what is left (a parameter without a gradient contributes zeros),
  // waits for every bucket and writes the averaged gradients back into the parameters' .grad.
  virtual void finish_backward() = 0;
};

// What the trainer calls: with mode "off", or "auto" and no launcher (or a world of one), nullptr;
// mode "on" joins whenever a launcher's variables are there, a world of one included.
// Otherwise joins the group; a CUDA device given without an index in `device_spec` ("cuda", "auto")
// becomes cuda:LOCAL_RANK. Throws dfscan::Error on a bad mode or launch.
std::unique_ptr<DataParallel> join_data_parallel(const std::string& mode, const std::string& device_spec,
                                                 c10::Device& device);

}  // namespace dfscan::train
