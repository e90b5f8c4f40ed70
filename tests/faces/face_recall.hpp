#pragma once
// Recall of a face detector on a folder of face crops (e.g. the DFDC face-crop sample), each
// centred on a grey canvas twice its size so the detector sees context around the face.
// Shared by the slow recall test and the eval-face-recall tool; reads images with OpenCV,
// which only test code does (the library leaves decoding to the media layer).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "dfscan/faces.hpp"

namespace dfscan::faces::testing {

inline std::vector<std::filesystem::path> list_images(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    auto ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The crop in RGB, centred on a grey (128) canvas of twice its width and height.
inline cv::Mat on_grey_canvas(const cv::Mat& rgb) {
  cv::Mat canvas;
  const int px = rgb.cols / 2, py = rgb.rows / 2;
  cv::copyMakeBorder(rgb, canvas, py, rgb.rows - py, px, rgb.cols - px, cv::BORDER_CONSTANT,
                     cv::Scalar(128, 128, 128));
  return canvas;
}

struct RecallResult {
  int images = 0;
  int found = 0;
  double ms_per_image = 0.0;      // wall clock
  double cpu_ms_per_image = 0.0;  // all threads of the process together
  std::vector<std::string> missed;
};

// An image counts as found when some detection's centre lies inside the original crop.
inline RecallResult measure_recall(FaceDetector& detector, const std::vector<std::filesystem::path>& images) {
  RecallResult r;
  double total_ms = 0.0, cpu_ms = 0.0;
  for (const auto& path : images) {
    cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_COLOR);
    if (bgr.empty()) continue;
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    const cv::Mat canvas = on_grey_canvas(rgb);
    const cv::Rect2f inner(static_cast<float>(rgb.cols / 2), static_cast<float>(rgb.rows / 2),
                           static_cast<float>(rgb.cols), static_cast<float>(rgb.rows));
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    const auto faces = detector.detect(canvas);
    cpu_ms += 1000.0 * static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++r.images;
    const bool hit = std::any_of(faces.begin(), faces.end(), [&](const Face& f) {
      return inner.contains(cv::Point2f(f.box.x + f.box.width / 2, f.box.y + f.box.height / 2));
    });
    if (hit)
      ++r.found;
    else
      r.missed.push_back(path.string());
  }
  r.ms_per_image = r.images ? total_ms / r.images : 0.0;
  r.cpu_ms_per_image = r.images ? cpu_ms / r.images : 0.0;
  return r;
}

}  // namespace dfscan::faces::testing
