// `dfscan probe PATH...`: what each file holds (modality, container, codecs, duration, frames,
// size, audio), one record per input, without scoring anything.
#include "checks.hpp"
#include "dfscan/config.hpp"
#if DFSCAN_WITH_MEDIA

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "command.hpp"
#include "dfscan/media.hpp"
#include "dfscan/status.hpp"
#include "exit_codes.hpp"
#include "interrupt.hpp"
#include "output.hpp"
#include "scan_inputs.hpp"
#include "stdin_file.hpp"

namespace dfscan::cli {
namespace {

struct ProbeArgs {
  std::vector<std::string> paths;
  bool recursive = false;
  std::string format = "text";
  std::int64_t max_pixels = 100'000'000;
  double deadline = 120.0;
  int decode_frames = 0;
  int threads = 0;
};

template <typename T>
nlohmann::json optional_json(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json or_null(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}
nlohmann::json or_null(int v) {
  return v ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json to_record(const media::ProbeInfo& p) {
  nlohmann::json r;
  r["type"] = "file";
  r["schema"] = "dfscan.probe/1";
  r["path"] = p.path;
  r["status"] = to_string(p.status);
  r["warnings"] = p.warnings;
  r["error"] = or_null(p.message);
  bool known = p.modality != media::Modality::unknown;
  r["modality"] = known ? nlohmann::json(to_string(p.modality)) : nlohmann::json(nullptr);
  r["container"] = or_null(p.container);
  r["video_codec"] = or_null(p.video_codec);
  r["audio_codec"] = or_null(p.audio_codec);
  r["duration"] = optional_json(p.duration);
  r["fps"] = optional_json(p.fps);
  bool has_video = !p.video_codec.empty();
  r["frames"] = has_video && known ? nlohmann::json(p.frames) : nlohmann::json(nullptr);
  r["frames_header"] = optional_json(p.frames_header);
  r["width"] = or_null(p.width);
  r["height"] = or_null(p.height);
  r["rotation"] = has_video ? nlohmann::json(p.rotation) : nlohmann::json(nullptr);
  r["pixel_format"] = or_null(p.pixel_format);
  r["audio_rate"] = or_null(p.audio_rate);
  r["audio_channels"] = or_null(p.audio_channels);
  r["audio_packets"] =
      !p.audio_codec.empty() && known ? nlohmann::json(p.audio_packets) : nlohmann::json(nullptr);
  r["size_bytes"] = p.size_bytes ? nlohmann::json(p.size_bytes) : nlohmann::json(nullptr);
  return r;
}

std::string text_line(const nlohmann::json& r) {
  std::string line = r["path"].get<std::string>() + ": " + r["status"].get<std::string>();
  auto add = [&](const std::string& s) { line += "  " + s; };
  if (!r["modality"].is_null()) add(r["modality"].get<std::string>());
  if (!r["container"].is_null()) add(r["container"].get<std::string>());
  std::string codecs;
  if (!r["video_codec"].is_null()) codecs = r["video_codec"].get<std::string>();
  if (!r["audio_codec"].is_null())
    codecs += (codecs.empty() ? "" : "/") + r["audio_codec"].get<std::string>();
  if (!codecs.empty()) add(codecs);
  char buf[128];
  if (!r["width"].is_null()) {
    std::snprintf(buf, sizeof buf, "%dx%d", r["width"].get<int>(), r["height"].get<int>());
    add(buf);
    if (r["rotation"].is_number() && r["rotation"].get<int>() != 0) add("rotated " + r["rotation"].dump());
  }
  if (!r["fps"].is_null()) {
    std::snprintf(buf, sizeof buf, "%.3f fps", r["fps"].get<double>());
    add(buf);
  }
  if (!r["duration"].is_null()) {
    std::snprintf(buf, sizeof buf, "%.3f s", r["duration"].get<double>());
    add(buf);
  }
  if (!r["frames"].is_null()) add(r["frames"].dump() + " frames");
  if (!r["audio_rate"].is_null()) add(r["audio_rate"].dump() + " Hz " + r["audio_channels"].dump() + " ch");
  if (r.contains("decode"))
    add("decoded " + r["decode"]["frames"].dump() + " frames in " + r["decode"]["ms"].dump() + " ms");
  for (const auto& w : r["warnings"]) add("warning: " + w.get<std::string>());
  if (!r["error"].is_null()) line += "  (" + r["error"].get<std::string>() + ")";
  return line;
}

int run_probe(const ProbeArgs& args) {
  media::Limits limits;
  limits.max_pixels = args.max_pixels;
  limits.deadline_seconds = args.deadline;
  InputOptions folders;
  folders.recursive = args.recursive;
  std::vector<std::string> paths;
  for (auto& input : expand_inputs(args.paths, folders)) paths.push_back(std::move(input.path));
  const StdinFile stdin_file(paths);
  const InterruptGuard interrupt;
  limits.cancel = &InterruptGuard::flag();

  RecordWriter::Layout layout;
  layout.schema = "dfscan.probe/1";
  layout.text = text_line;
  layout.csv_columns = {"path",        "status",   "modality", "container",  "video_codec",
                        "audio_codec", "duration", "fps",      "frames",     "frames_header",
                        "width",       "height",   "rotation", "audio_rate", "audio_channels",
                        "warnings",    "error"};
  layout.text_summary = status_summary_line;
  RecordWriter writer(std::cout, parse_output_format(args.format), layout);
  StatusCounts counts;
  int exit_code = kExitOk;
  for (const auto& named : paths) {
    if (InterruptGuard::requested()) break;
    const auto path = stdin_file.readable(named);
    auto info = media::probe(path, limits);
    auto record = to_record(info);
    stdin_file.restore(record);
    bool has_video = info.modality == media::Modality::video || info.modality == media::Modality::video_audio;
    if (args.decode_frames > 0 && info.status == Status::ok && has_video) {
      // Hidden, for scripts/bench-decode.sh: the real frame reader, timed.
      media::VideoOptions options;
      options.limits = limits;
      options.threads = args.threads;
      auto t0 = std::chrono::steady_clock::now();
      auto video = media::read_video(path, media::FrameSelection::uniform(args.decode_frames), options);
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      record["decode"] = {{"status", to_string(video.status)},
                          {"frames", video.frames.size()},
                          {"frames_decoded", video.frames_decoded},
                          {"ms", std::round(ms * 10) / 10}};
    }
    counts.add(record["status"].get<std::string>());
    if (is_failure(status_from_string(record["status"].get<std::string>()).value_or(Status::error)))
      exit_code = worst_exit(exit_code, kExitFailure);
    writer.write(std::move(record));
  }
  writer.finish({{"files", counts.total()}, {"counts", counts.to_json()}});
  return InterruptGuard::requested() ? kExitInterrupted : exit_code;
}

std::function<int()> add_probe(CLI::App& root) {
  auto args = std::make_shared<ProbeArgs>();
  auto* sub =
      root.add_subcommand("probe", "Report what media files hold (modality, codecs, duration, frames, size)");
  sub->add_option("paths", args->paths, "Files or folders to probe; - reads one file from standard input")
      ->required()
      ->expected(1, -1);
  sub->add_flag("-r,--recursive", args->recursive, "Descend into sub-folders");
  sub->add_option("-f,--format", args->format, "Output format")
      ->check(CLI::IsMember(output_format_names()))
      ->capture_default_str();
  sub->add_option("--max-pixels", args->max_pixels, "Pixel limit per image or frame (too_large above it)")
      ->check(kPositive)
      ->capture_default_str();
  sub->add_option("--deadline", args->deadline, "Seconds allowed per file; 0 for no limit")
      ->check(kNonNegative)
      ->capture_default_str();
  // Benchmark hooks, not part of the documented interface.
  sub->add_option("--decode-frames", args->decode_frames, "Also decode N uniform frames and time it")
      ->check(kNonNegative)
      ->group("");
  sub->add_option("--threads", args->threads, "Decoder threads for --decode-frames (0: FFmpeg chooses)")
      ->check(kNonNegative)
      ->group("");
  return [args] { return run_probe(*args); };
}

}  // namespace
DFSCAN_COMMAND("probe", add_probe);
}  // namespace dfscan::cli

#endif  // DFSCAN_WITH_MEDIA
