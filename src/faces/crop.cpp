#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "dfscan/faces.hpp"
#include "dfscan/status.hpp"

namespace dfscan::faces {
namespace {

// Places a span of `length` centred on `centre` inside [0, limit), moving it rather than cutting.
std::pair<int, int> place(double centre, double length, int limit) {
  const int len = std::clamp(static_cast<int>(std::lround(length)), 0, limit);
  const int start = std::clamp(static_cast<int>(std::lround(centre - len / 2.0)), 0, limit - len);
  return {start, len};
}

}  // namespace

FaceSetup face_setup_from_manifest(const nlohmann::json& manifest) {
  FaceSetup setup;
  if (!manifest.is_object()) return setup;
  int input_size = 0;
  if (manifest.contains("faces") && manifest["faces"].is_object()) {
    const auto& f = manifest["faces"];
    setup.detector = f.value("detector", setup.detector);
    setup.margin = f.value("margin", setup.margin);
    setup.square = f.value("square", setup.square);
    setup.frames = f.value("frames", setup.frames);
    input_size = f.value("input_size", 0);
  }
  if (input_size <= 0 && manifest.contains("input") && manifest["input"].is_object() &&
      manifest["input"].contains("size") && manifest["input"]["size"].is_number_integer())
    input_size = manifest["input"]["size"].get<int>();
  if (input_size > 0) setup.input_size = input_size;
  return setup;
}

cv::Rect crop_rect(const cv::Rect2f& box, const cv::Size& frame, const FaceSetup& setup) {
  if (box.width <= 0.f || box.height <= 0.f || frame.width <= 0 || frame.height <= 0) return {};
  const double grow = 1.0 + 2.0 * std::max(0.f, setup.margin);
  double w = box.width * grow, h = box.height * grow;
  if (setup.square) w = h = std::max(w, h);
  // A square stays square when the frame is too small: shrink both sides to fit.
  if (setup.square)
    w = h = std::min({w, static_cast<double>(frame.width), static_cast<double>(frame.height)});
  const auto [x, cw] = place(box.x + box.width / 2.0, w, frame.width);
  const auto [y, ch] = place(box.y + box.height / 2.0, h, frame.height);
  return {x, y, cw, ch};
}

cv::Mat crop_face(const cv::Mat& frame, const cv::Rect2f& box, const FaceSetup& setup) {
  if (setup.input_size <= 0) throw Error(Status::error, "face crop size must be positive");
  const cv::Rect r = crop_rect(box, frame.size(), setup);
  if (r.empty()) return {};
  const cv::Mat roi = frame(r);
  const int size = setup.input_size;
  const bool shrinking = r.width > size || r.height > size;
  cv::Mat out;
  cv::resize(roi, out, cv::Size(size, size), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

}  // namespace dfscan::faces
