// `dfscan bench -m MODEL | --arch ARCH`: inference, training and inference-stage (pipeline)
// throughput on synthetic tensors.
// Rows go to stdout as they are measured (text table, JSON array or JSON Lines).

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "checks.hpp"
#include "command.hpp"
#include "config_file.hpp"
#include "dfscan/bench.hpp"
#include "dfscan/runtime.hpp"
#include "dfscan/status.hpp"
#include "exit_codes.hpp"

namespace dfscan::cli {
namespace {

struct BenchCliOptions {
  bench::BenchOptions bench;
  std::string arch_config;
  std::string graphs = "off";   // off | on | both
  std::string pinned = "both";  // pipeline mode: off | on | both
  std::string format = "text";
  int threads = 0;
};

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void print_text_row(const bench::BenchRow& r) {
  char line[256];
  std::snprintf(line, sizeof line, "%-24s %-8s %-5s %6lld %5s %5s %5s %12s %9s %9s %9s  %s", r.model.c_str(),
                r.mode.c_str(), r.dtype.c_str(), static_cast<long long>(r.batch),
                r.channels_last ? "yes" : "no", r.cuda_graph ? "yes" : "no",
                r.mode != "pipeline" ? "-"
                : r.pinned           ? "yes"
                                     : "no",
                r.status == "ok" ? fixed(r.images_per_s, 1).c_str() : "-",
                r.status == "ok" ? fixed(r.latency_ms_p50, 3).c_str() : "-",
                r.status == "ok" ? fixed(r.latency_ms_p90, 3).c_str() : "-",
                r.status == "ok" ? fixed(r.latency_ms_p99, 3).c_str() : "-",
                r.status == "ok" ? "" : r.status.c_str());
  std::cout << line << std::endl;
  // --profile-kernels: the device's longest kernels (the CPU's operators), their total, the host side.
  const auto print_entries = [&line](const char* heading,
                                     const std::vector<dfscan::bench::KernelTime>& list) {
    if (!list.empty()) std::cout << "  " << heading << std::endl;
    for (const auto& k : list) {
      std::snprintf(line, sizeof line, "    %9.3f ms %7.1f calls  %.150s", k.ms_per_step, k.calls_per_step,
                    k.name.c_str());
      std::cout << line << std::endl;
    }
  };
  print_entries(r.device == "cpu" ? "operators per batch (inclusive):" : "kernels per batch:", r.kernels);
  if (r.kernel_total.calls_per_step > 0) print_entries("all kernels per batch:", {r.kernel_total});
  print_entries("host per batch (operators inclusive, CUDA runtime calls):", r.host_ops);
}

int run_bench(BenchCliOptions& o) {
  if (!o.arch_config.empty()) {
    // A preset name ("official") or JSON text.
    try {
      o.bench.arch_config = nlohmann::json::parse(o.arch_config);
    } catch (const nlohmann::json::exception&) {
      o.bench.arch_config = o.arch_config;
    }
  }
  o.bench.cuda_graphs =
      o.graphs == "both" ? std::vector<bool>{false, true} : std::vector<bool>{o.graphs == "on"};
  o.bench.pinned = o.pinned == "both" ? std::vector<bool>{false, true} : std::vector<bool>{o.pinned == "on"};
  configure_threads(o.threads);

  const auto info = runtime_info();
  nlohmann::json all = nlohmann::json::array();
  // The header goes out with the first row, so that a model that cannot be built (a bad
  // --arch-config) leaves one error line and no table.
  bool header_done = o.format != "text";
  auto print_header = [&] {
    header_done = true;
    std::cout << "# torch " << info.torch_version << ", device " << o.bench.device << ", "
              << intra_op_threads() << " threads; img/s = median of " << o.bench.repeats << " repeats of "
              << o.bench.iters << " batches"
              << (o.bench.min_repeat_ms > 0
                      ? " (more where they take under " + fixed(o.bench.min_repeat_ms, 0) + " ms)"
                      : std::string())
              << "; latency per batch in ms"
              << (o.bench.reference_ops ? "; the reference's operators (--reference-ops)" : "") << "\n";
    char header[256];
    std::snprintf(header, sizeof header, "%-24s %-8s %-5s %6s %5s %5s %5s %12s %9s %9s %9s", "model", "mode",
                  "dtype", "batch", "chlst", "graph", "pin", "img/s", "p50", "p90", "p99");
    std::cout << header << std::endl;
  };
  bool any_failed = false;
  bench::run(o.bench, [&](const bench::BenchRow& row) {
    if (row.status.rfind("failed", 0) == 0) any_failed = true;
    if (!header_done) print_header();
    if (o.format == "text") {
      print_text_row(row);
    } else if (o.format == "jsonl") {
      std::cout << bench::to_json(row).dump() << std::endl;
    } else {
      all.push_back(bench::to_json(row));
    }
  });
  if (o.format == "json") std::cout << all.dump(2) << std::endl;
  return any_failed ? kExitFailure : kExitOk;
}

std::function<int()> add_bench(CLI::App& root) {
  auto o = std::make_shared<BenchCliOptions>();
  auto& b = o->bench;
  auto* sub = root.add_subcommand("bench",
                                  "Measure a model's inference and training throughput on synthetic tensors");
  auto* model = sub->add_option("-m,--model", b.model, "Model file or name");
  auto* arch =
      sub->add_option("--arch", b.arch, "Or an architecture, built untrained (see `dfscan models list`)");
  model->excludes(arch);
  sub->add_option("--arch-config", o->arch_config, "With --arch: a preset (official) or JSON config")
      ->capture_default_str();
  sub->add_option("-b,--batch", b.batch_sizes, "Batch sizes")->delimiter(',')->check(kPositive);
  sub->add_option("--dtype", b.dtypes, "Precisions: fp32, tf32, bf16, fp16 (bf16/fp16 autocast on CUDA)")
      ->delimiter(',')
      ->check(CLI::IsMember({"fp32", "tf32", "bf16", "fp16"}));
  sub->add_option("--mode", b.modes,
                  "infer, train (one Adam step per batch), pipeline (uint8 crops from a synthetic "
                  "source on --workers threads, copied to the device and scored: the scan's inference "
                  "stage); several allowed")
      ->delimiter(',')
      ->check(CLI::IsMember({"infer", "train", "pipeline"}));
  sub->add_option("--cuda-graphs", o->graphs, "Replay inference from a captured CUDA graph")
      ->check(CLI::IsMember({"off", "on", "both"}))
      ->capture_default_str();
  sub->add_flag("--channels-last", b.channels_last, "Channels-last memory format for weights and inputs");
  sub->add_flag("--reference-ops", b.reference_ops,
                "Run the reference networks' operators one for one, without dfscan's shortcuts "
                "(batched GenConViT-ED backbone, reduced-precision LayerNorms, fused layer scale)");
  sub->add_option("--pinned", o->pinned,
                  "Pipeline mode: host-to-device copies from pinned memory, asynchronous on a copy "
                  "stream (on), from pageable memory (off), or both rows (CUDA only; the CPU has no copies)")
      ->check(CLI::IsMember({"off", "on", "both"}))
      ->capture_default_str();
  sub->add_option("--workers", b.workers, "Pipeline mode: threads of the synthetic crop source")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  sub->add_option("--device", b.device, "cpu, cuda, cuda:N or auto")->check(kDevice)->capture_default_str();
  sub->add_option("--input-size", b.input_size, "Square input size (0: the model's)")->check(kNonNegative);
  sub->add_option("--warmup", b.warmup, "Warm-up batches")->check(kNonNegative)->capture_default_str();
  sub->add_option("--iters", b.iters, "Batches per repeat (at least)")
      ->check(kPositive)
      ->capture_default_str();
  sub->add_option("--min-repeat-ms", b.min_repeat_ms,
                  "Inference and training rows: more batches per repeat where --iters of them would take "
                  "less than this many milliseconds (timed on one batch after the warm-up); 0: off")
      ->check(kNonNegative)
      ->capture_default_str();
  sub->add_option("--repeats", b.repeats, "Repeats; img/s is their median")
      ->check(kPositive)
      ->capture_default_str();
  sub->add_option("--threads", o->threads, "LibTorch intra-op threads (0: every CPU this process may use)")
      ->check(kNonNegative);
  sub->add_option("--profile-kernels", b.profile_kernels,
                  "After timing, profile --iters more batches per row and report its N longest kernels "
                  "(CPU: operators)")
      ->check(kNonNegative);
  sub->add_option("-f,--format", o->format, "text, json or jsonl")
      ->check(CLI::IsMember({"text", "json", "jsonl"}))
      ->capture_default_str();
  attach_environment_and_config(*sub, "bench");
  return [o] { return run_bench(*o); };
}

}  // namespace
DFSCAN_COMMAND("bench", add_bench);
}  // namespace dfscan::cli
