// `dfscan faces FILE...`: the face tracks a scan would score, per file, without any model:
// what the detector finds, how the tracker links it, and (--save-crops) what the model sees.
#include "checks.hpp"
#include "dfscan/config.hpp"
#if DFSCAN_WITH_MEDIA

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>

#include "command.hpp"
#include "dfscan/faces.hpp"
#include "dfscan/media.hpp"
#include "dfscan/status.hpp"
#include "exit_codes.hpp"
#include "interrupt.hpp"
#include "output.hpp"
#include "scan_inputs.hpp"

namespace dfscan::cli {
namespace {

struct FacesArgs {
  std::vector<std::string> paths;
  bool recursive = false;
  std::string format = "text";
  std::string detector = "default";
  int frames = 16;
  int max_side = 640;
  std::string save_crops;
  float margin = faces::FaceSetup{}.margin;
  int crop_size = faces::FaceSetup{}.input_size;
  bool tight = false;
  int threads = 0;
  std::int64_t max_pixels = 100'000'000;
  double deadline = 120.0;
};

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::round(std::chrono::duration<double, std::milli>(Clock::now() - t0).count() * 10) / 10;
}
double round_to(double v, double step) {
  return std::round(v / step) * step;
}

nlohmann::json tracks_json(const std::vector<faces::Track>& tracks) {
  auto out = nlohmann::json::array();
  for (const auto& track : tracks) {
    auto frames = nlohmann::json::array();
    for (const auto& f : track.frames) {
      const auto& b = f.face.box;
      frames.push_back(
          {{"t", round_to(f.t, 0.001)},
           {"box", {round_to(b.x, 0.1), round_to(b.y, 0.1), round_to(b.width, 0.1), round_to(b.height, 0.1)}},
           {"score", round_to(f.face.score, 0.001)}});
    }
    out.push_back({{"id", track.id}, {"frames", std::move(frames)}});
  }
  return out;
}

nlohmann::json faces_of(const std::string& path, const FacesArgs& args, const media::Limits& limits,
                        faces::FaceDetectorPool& pool, const faces::FaceSetup& setup) {
  const auto t0 = Clock::now();
  const auto found = faces::find_faces_in_file(path, pool, setup, limits, args.save_crops);
  nlohmann::json r;
  r["type"] = "file";
  r["path"] = path;
  r["status"] = to_string(found.status);
  r["warnings"] = found.warnings;
  r["modality"] = found.modality.empty() ? nlohmann::json(nullptr) : nlohmann::json(found.modality);
  r["detector"] = pool.detector_name();
  r["frames_sampled"] = found.frames_sampled;
  r["tracks"] = tracks_json(found.tracks);
  r["timings_ms"] = {{"decode", round_to(found.decode_ms, 0.1)},
                     {"faces", round_to(found.faces_ms, 0.1)},
                     {"total", ms_since(t0)}};
  r["error"] = found.message.empty() ? nlohmann::json(nullptr) : nlohmann::json(found.message);
  return r;
}

std::string text_line(const nlohmann::json& r) {
  std::string line = r["path"].get<std::string>() + ": " + r["status"].get<std::string>();
  const auto& tracks = r["tracks"];
  if (r["status"] == "ok" || r["status"] == "no_face") {
    line += "  " + std::to_string(tracks.size()) + " track(s) in " + r["frames_sampled"].dump() + " frame(s)";
    for (const auto& t : tracks) {
      const auto& first = t["frames"].front();
      const auto& box = first["box"];
      char buf[160];
      std::snprintf(buf, sizeof buf, "  #%d: %zu frames, first at %.2f s [%.0f %.0f %.0f %.0f]",
                    t["id"].get<int>(), t["frames"].size(), first["t"].get<double>(), box[0].get<double>(),
                    box[1].get<double>(), box[2].get<double>(), box[3].get<double>());
      line += buf;
    }
    char ms[48];
    std::snprintf(ms, sizeof ms, "  (faces %.1f ms)", r["timings_ms"]["faces"].get<double>());
    line += ms;
  }
  for (const auto& w : r["warnings"]) line += "  warning: " + w.get<std::string>();
  if (!r["error"].is_null()) line += "  (" + r["error"].get<std::string>() + ")";
  return line;
}

int run_faces(const FacesArgs& args) {
  faces::DetectorOptions options;
  options.max_side = args.max_side;
  faces::FaceSetup setup;
  setup.detector = args.detector;
  setup.margin = args.tight ? 0.f : args.margin;
  setup.square = !args.tight;
  setup.input_size = args.crop_size;
  setup.frames = args.frames;
  std::unique_ptr<faces::FaceDetectorPool> pool;
  try {
    pool = std::make_unique<faces::FaceDetectorPool>(args.detector, options, args.threads);
  } catch (const Error& e) {
    std::cerr << "dfscan faces: " << e.what() << "\n";
    return kExitUsage;
  }

  media::Limits limits;
  limits.max_pixels = args.max_pixels;
  limits.deadline_seconds = args.deadline;
  const InterruptGuard interrupt;
  limits.cancel = &InterruptGuard::flag();

  RecordWriter::Layout layout;
  layout.schema = "dfscan.faces/1";
  layout.text = text_line;
  layout.text_summary = status_summary_line;
  RecordWriter writer(std::cout, parse_output_format(args.format), layout);
  StatusCounts counts;
  int exit_code = kExitOk;
  InputOptions folders;
  folders.recursive = args.recursive;
  std::vector<std::string> paths;
  for (auto& input : expand_inputs(args.paths, folders)) paths.push_back(std::move(input.path));
  for (const auto& path : paths) {
    if (InterruptGuard::requested()) break;
    nlohmann::json record;
    try {
      record = faces_of(path, args, limits, *pool, setup);
    } catch (const Error& e) {
      record = {{"type", "file"},
                {"path", path},
                {"status", to_string(e.status())},
                {"warnings", nlohmann::json::array()},
                {"modality", nullptr},
                {"detector", pool->detector_name()},
                {"frames_sampled", 0},
                {"tracks", nlohmann::json::array()},
                {"timings_ms", nullptr},
                {"error", e.what()}};
    }
    const auto status = status_from_string(record["status"].get<std::string>()).value_or(Status::error);
    counts.add(record["status"].get<std::string>());
    if (is_failure(status)) exit_code = worst_exit(exit_code, kExitFailure);
    writer.write(std::move(record));
  }
  writer.finish(
      {{"files", counts.total()}, {"counts", counts.to_json()}, {"detector", pool->detector_name()}});
  return InterruptGuard::requested() ? kExitInterrupted : exit_code;
}

std::function<int()> add_faces(CLI::App& root) {
  auto args = std::make_shared<FacesArgs>();
  auto* sub = root.add_subcommand("faces", "Find and track faces in videos and images, without scoring them");
  sub->add_option("paths", args->paths, "Video or image files, or folders of them")
      ->required()
      ->expected(1, -1);
  sub->add_flag("-r,--recursive", args->recursive, "Descend into sub-folders");
  sub->add_option("--frames", args->frames, "Frames sampled uniformly per video (images are one frame)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  std::string names;
  for (const auto& n : faces::detector_names()) names += (names.empty() ? "" : ", ") + n;
  sub->add_option("--detector", args->detector,
                  "Face detector: default (" + faces::default_detector_name() + "), " + names +
                      ", or a list tried in turn per frame (dlib-hog,lbp-improved)")
      ->capture_default_str();
  sub->add_option("-f,--format", args->format, "Output format")
      ->check(CLI::IsMember({"text", "json", "jsonl"}))
      ->capture_default_str();
  sub->add_option("--save-crops", args->save_crops,
                  "Write each track's crops as DIR/<stem>_t<track>_f<frame>.png");
  sub->add_option("--margin", args->margin, "Crop margin per side, as a fraction of the face box")
      ->check(CLI::Range(0.0, 2.0))
      ->capture_default_str();
  sub->add_flag("--tight", args->tight,
                "Crop the detector's box as is (no margin, not squared), as GenConViT");
  sub->add_option("--crop-size", args->crop_size, "Crop side in pixels")
      ->check(CLI::Range(8, 4096))
      ->capture_default_str();
  sub->add_option("--max-side", args->max_side,
                  "Detect on frames downscaled to this longest side (0: full size)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  sub->add_option("--threads", args->threads, "Detection threads (0: one per usable CPU)")
      ->check(kNonNegative)
      ->capture_default_str();
  sub->add_option("--max-pixels", args->max_pixels, "Pixel limit per image or frame (too_large above it)")
      ->check(kPositive)
      ->capture_default_str();
  sub->add_option("--deadline", args->deadline, "Seconds allowed per file for decoding; 0 for no limit")
      ->check(kNonNegative)
      ->capture_default_str();
  return [args] { return run_faces(*args); };
}

}  // namespace
DFSCAN_COMMAND("faces", add_faces);
}  // namespace dfscan::cli

#endif  // DFSCAN_WITH_MEDIA
