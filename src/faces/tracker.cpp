#include <algorithm>
#include <cmath>
#include <tuple>

#include "dfscan/faces.hpp"
#include "dfscan/status.hpp"

namespace dfscan::faces {
namespace {

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0.f ? inter / uni : 0.f;
}

float side(const cv::Rect2f& r) {
  return std::sqrt(std::max(r.area(), 0.f));
}

cv::Point2f centre(const cv::Rect2f& r) {
  return {r.x + r.width / 2, r.y + r.height / 2};
}

struct LiveTrack {
  Track track;
  int last_frame = 0;
  cv::Rect2f last_box;
};

struct Candidate {
  int tier;      // 0: linked by IoU, 1: linked by centre distance only
  float cost;    // lower is better within a tier
  size_t track;  // index into live tracks
  size_t face;   // index into this frame's faces
};

}  // namespace

int min_track_length(int sampled_frames, const TrackerOptions& options) {
  const double need = std::ceil(static_cast<double>(options.min_track_fraction) * sampled_frames - 1e-9);
  return std::max(1, static_cast<int>(need));
}

std::vector<Track> track_faces(const std::vector<std::vector<Face>>& faces, const std::vector<double>& times,
                               const TrackerOptions& options) {
  if (faces.size() != times.size())
    throw Error(Status::error, "track_faces: " + std::to_string(faces.size()) + " frames but " +
                                   std::to_string(times.size()) + " timestamps");
  std::vector<LiveTrack> tracks;
  for (size_t i = 0; i < faces.size(); ++i) {
    const int frame = static_cast<int>(i);
    const auto& dets = faces[i];
    std::vector<Candidate> candidates;
    for (size_t t = 0; t < tracks.size(); ++t) {
      if (frame - tracks[t].last_frame > options.max_gap + 1) continue;  // track has ended
      const cv::Rect2f& prev = tracks[t].last_box;
      for (size_t d = 0; d < dets.size(); ++d) {
        const float s_prev = side(prev), s_det = side(dets[d].box);
        if (s_prev <= 0.f || s_det <= 0.f) continue;
        if (std::max(s_prev, s_det) / std::min(s_prev, s_det) > options.max_size_ratio) continue;
        const float overlap = iou(prev, dets[d].box);
        if (overlap >= options.min_iou) {
          candidates.push_back({0, -overlap, t, d});
          continue;
        }
        const cv::Point2f delta = centre(prev) - centre(dets[d].box);
        const float shift = std::hypot(delta.x, delta.y) / std::max(s_prev, s_det);
        if (shift <= options.max_center_shift) candidates.push_back({1, shift, t, d});
      }
    }
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
      return std::tie(a.tier, a.cost, a.track, a.face) < std::tie(b.tier, b.cost, b.track, b.face);
    });
    std::vector<bool> track_used(tracks.size(), false), face_used(dets.size(), false);
    for (const auto& c : candidates) {
      if (track_used[c.track] || face_used[c.face]) continue;
      track_used[c.track] = face_used[c.face] = true;
      auto& live = tracks[c.track];
      live.track.frames.push_back({frame, times[i], dets[c.face]});
      live.last_frame = frame;
      live.last_box = dets[c.face].box;
    }
    for (size_t d = 0; d < dets.size(); ++d) {
      if (face_used[d]) continue;
      LiveTrack live;
      live.track.frames.push_back({frame, times[i], dets[d]});
      live.last_frame = frame;
      live.last_box = dets[d].box;
      tracks.push_back(std::move(live));
    }
  }

  // Tracks are created in order of first appearance, so the surviving ids follow it too.
  const size_t need = static_cast<size_t>(min_track_length(static_cast<int>(faces.size()), options));
  std::vector<Track> out;
  for (auto& live : tracks) {
    if (live.track.frames.size() < need) continue;
    live.track.id = static_cast<int>(out.size());
    out.push_back(std::move(live.track));
  }
  return out;
}

}  // namespace dfscan::faces
