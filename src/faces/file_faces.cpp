#include <chrono>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dfscan/atomic_file.hpp"
#include "dfscan/faces.hpp"

namespace dfscan::faces {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

void save_crops(const std::filesystem::path& dir, const std::string& path, const std::vector<cv::Mat>& frames,
                const std::vector<Track>& tracks, const FaceSetup& setup) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(Status::error, "cannot create " + dir.string() + ": " + ec.message());
  const std::string stem = std::filesystem::path(path).stem().string();
  for (const auto& track : tracks) {
    for (const auto& f : track.frames) {
      const cv::Mat crop = crop_face(frames[static_cast<size_t>(f.frame_index)], f.face.box, setup);
      if (crop.empty()) continue;
      cv::Mat bgr;
      cv::cvtColor(crop, bgr, cv::COLOR_RGB2BGR);  // imencode expects OpenCV's BGR order
      std::vector<uchar> png;
      if (!cv::imencode(".png", bgr, png)) throw Error(Status::error, "cannot encode a crop as PNG");
      const auto name =
          stem + "_t" + std::to_string(track.id) + "_f" + std::to_string(f.frame_index) + ".png";
      write_file_atomic(dir / name, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
    }
  }
}

}  // namespace

SampledFrames sample_frames(const std::string& path, int frames, const media::Limits& limits,
                            int decode_threads) {
  SampledFrames out;
  auto fail = [&](Status status, const std::string& message) {
    out.status = status;
    out.message = message;
    out.frames.clear();
    out.times.clear();
    return std::move(out);
  };
  const auto info = media::probe(path, limits);
  out.warnings = info.warnings;
  if (info.modality != media::Modality::unknown) out.modality = media::to_string(info.modality);
  if (info.status != Status::ok) return fail(info.status, info.message);

  if (info.modality == media::Modality::image) {
    auto img = media::read_image(path, limits);
    if (img.status != Status::ok) return fail(img.status, img.message);
    out.warnings.insert(out.warnings.end(), img.warnings.begin(), img.warnings.end());
    out.frames.push_back(std::move(img.rgb));
    out.times.push_back(0.0);
  } else if (info.modality == media::Modality::video || info.modality == media::Modality::video_audio) {
    media::VideoOptions options;
    options.limits = limits;
    options.threads = decode_threads;
    auto video = media::read_video(path, media::FrameSelection::uniform(frames), options);
    out.warnings.insert(out.warnings.end(), video.warnings.begin(), video.warnings.end());
    if (video.status != Status::ok) return fail(video.status, video.message);
    for (auto& f : video.frames) {
      out.frames.push_back(std::move(f.rgb));
      out.times.push_back(f.pts);
    }
    if (out.frames.empty()) return fail(Status::empty, "no frame could be decoded");
  } else {
    return fail(Status::not_scored, "no video or image stream to look for faces in");
  }
  return out;
}

FileFaces find_faces_in_file(const std::string& path, FaceDetectorPool& pool, const FaceSetup& setup,
                             const media::Limits& limits, const std::string& crops_dir,
                             const TrackerOptions& tracker) {
  const auto t0 = Clock::now();
  FileFaces out;
  auto sampled = sample_frames(path, setup.frames, limits);
  out.status = sampled.status;
  out.message = sampled.message;
  out.warnings = std::move(sampled.warnings);
  out.modality = sampled.modality;
  if (sampled.status != Status::ok) return out;
  auto& frames = sampled.frames;
  const auto& times = sampled.times;
  out.frames_sampled = static_cast<int>(frames.size());
  out.decode_ms = ms_since(t0);

  const auto t1 = Clock::now();
  out.tracks = track_faces(pool.detect(frames), times, tracker);
  out.faces_ms = ms_since(t1);
  if (!crops_dir.empty()) save_crops(crops_dir, path, frames, out.tracks, setup);
  if (out.tracks.empty()) out.status = Status::no_face;
  return out;
}

}  // namespace dfscan::faces
