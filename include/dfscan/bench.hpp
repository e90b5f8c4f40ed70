#pragma once
// `dfscan bench`: inference and training-step throughput of one network, on synthetic tensors, so
// the figures measure the model path alone (no decoding). Timing: warm-up, then the median of
// `repeats` runs of `iters` batches each; on CUDA with CUDA events, on the CPU with a steady clock.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dfscan::bench {

// One kernel (CUDA) or operator (CPU) of a profiled bench row.
struct KernelTime {
  std::string name;
  double ms_per_step = 0;     // summed over its launches in one batch
  double calls_per_step = 0;  // launches per batch
};

struct BenchOptions {
  std::string model;           // a model file or name; or, when empty,
  std::string arch;            // an architecture built untrained from
  nlohmann::json arch_config;  // a preset name (string; see `dfscan models list --arch`) or a config
  std::vector<int64_t> batch_sizes{1, 32};
  std::vector<std::string> dtypes{"fp32"};  // fp32 | tf32 | bf16 | fp16 (bf16/fp16: CUDA autocast)
  // infer | train (one Adam step on random labels) | pipeline (the scan pipeline's inference
  // stage: uint8 crops from a synthetic source on worker threads, copied to the device,
  // normalised there and scored; wall time includes the source and the copies)
  std::vector<std::string> modes{"infer"};
  std::vector<bool> cuda_graphs{false};  // inference only; needs a CUDA build of LibTorch
  bool channels_last = false;
  bool reference_ops = false;  // the reference's operators one for one (dfscan/nn/shortcuts.hpp)
  // pipeline mode: copies from pageable memory (false) and/or pinned, asynchronous ones (true;
  // CUDA only, left out on the CPU)
  std::vector<bool> pinned{false, true};
  int workers = 4;  // pipeline mode: threads of the synthetic source
  std::string device = "auto";
  int64_t input_size = 0;  // 0: the model's input size
  int warmup = 3;
  int iters = 10;  // batches per repeat (at least)
  // > 0: more batches per repeat where `iters` of them would take less than this (timed on one
  // batch after the warm-up), so fast rows are not timed over a few milliseconds. Inference and
  // training rows; the row reports the count it used.
  double min_repeat_ms = 0;
  int repeats = 5;
  // > 0: after timing, each inference or training row runs `iters` more batches under LibTorch's
  // profiler and keeps its `profile_kernels` longest kernels (on the CPU: aten operators)
  int profile_kernels = 0;
};

struct BenchRow {
  std::string model, mode, dtype, device;
  int64_t batch = 0;
  int64_t input_size = 0;
  bool channels_last = false;
  bool cuda_graph = false;
  bool reference_ops = false;  // without dfscan's shortcuts over the reference's operators
  bool pinned = false;         // pipeline mode: pinned, asynchronous host-to-device copies
  std::string status = "ok";   // "ok", or why this combination was skipped
  double images_per_s = 0;     // median over repeats
  int iters = 0;               // batches per repeat
  double latency_ms_p50 = 0, latency_ms_p90 = 0, latency_ms_p99 = 0;  // per batch
  std::vector<double> repeat_images_per_s;
  std::vector<KernelTime> kernels;  // with BenchOptions::profile_kernels
  // With profile_kernels on CUDA: every kernel of one batch together (time and launches, not only
  // the longest), and the host side of the same batches: aten operators (inclusive times) and CUDA
  // runtime calls, longest first. Together they tell a launch-bound row from a kernel-bound one.
  KernelTime kernel_total;
  std::vector<KernelTime> host_ops;
};

// Runs every combination of batch size, dtype, mode and CUDA-graph setting; `on_row` sees each row
// as soon as it is measured. Throws dfscan::Error when the model cannot be built or loaded.
std::vector<BenchRow> run(const BenchOptions& options,
                          const std::function<void(const BenchRow&)>& on_row = {});

nlohmann::json to_json(const BenchRow& row);

// The median of `values` (the mean of the middle two for an even count); 0 when empty.
double median(std::vector<double> values);
// The q-quantile (0..1) of `values` by linear interpolation between order statistics.
double quantile(std::vector<double> values, double q);

}  // namespace dfscan::bench
