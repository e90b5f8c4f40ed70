// OpenCV Haar/LBP cascades from Debian's opencv-data: no weights to download.
#include <cstdlib>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "dfscan/status.hpp"
#include "faces/backends.hpp"

namespace dfscan::faces::detail {
namespace {

// $DFSCAN_OPENCV_DATA_DIR first, then where OpenCV packages install their data.
std::filesystem::path find_cascade(const std::string& relative) {
  std::vector<std::filesystem::path> roots;
  if (const char* env = std::getenv("DFSCAN_OPENCV_DATA_DIR"); env && *env) roots.emplace_back(env);
  roots.emplace_back("/usr/share/opencv4");
  roots.emplace_back("/usr/local/share/opencv4");
  roots.emplace_back("/usr/share/opencv");
  for (const auto& root : roots) {
    std::error_code ec;
    auto p = root / relative;
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  throw Error(Status::error, "cascade " + relative +
                                 " not found under /usr/share/opencv4 (install opencv-data or set "
                                 "DFSCAN_OPENCV_DATA_DIR)");
}

// Cascades also fire on part of a face (mouth and chin) with a handful of neighbours, next to the
// face itself with dozens. Such a box, mostly inside a far stronger one, is not a second face.
bool overshadowed(const std::vector<cv::Rect>& rects, const std::vector<int>& neighbours, size_t i) {
  if (neighbours.size() != rects.size()) return false;
  const double area = rects[i].area();
  for (size_t j = 0; j < rects.size(); ++j) {
    if (j == i || neighbours[j] < 4 * neighbours[i]) continue;
    if ((rects[i] & rects[j]).area() >= 0.4 * area) return true;
  }
  return false;
}

class CascadeDetector final : public FaceDetector {
 public:
  CascadeDetector(std::string name, const std::string& file, int min_neighbors, double scale_factor,
                  const DetectorOptions& options)
      : FaceDetector(options),
        name_(std::move(name)),
        min_neighbors_(min_neighbors),
        scale_factor_(scale_factor) {
    const auto path = find_cascade(file);
    if (!cascade_.load(path.string())) throw Error(Status::error, "cannot load cascade " + path.string());
    if (options.min_neighbors >= 0) min_neighbors_ = options.min_neighbors;
    if (options.scale_factor != 0.0) scale_factor_ = options.scale_factor;
    if (!(scale_factor_ > 1.0)) throw Error(Status::error, "cascade scale factor must be above 1");
  }

  std::string name() const override { return name_; }

 protected:
  bool grey_input() const override { return true; }

  std::vector<Face> detect_scaled(const cv::Mat& grey) override {
    // No histogram equalisation: on frames with large flat areas (letterboxing, padded crops)
    // it stretches the background and cost 20-30 points of recall on the DFDC crop sample.
    std::vector<cv::Rect> rects;
    std::vector<int> neighbours;
    cascade_.detectMultiScale(grey, rects, neighbours, scale_factor_, min_neighbors_);
    std::vector<Face> faces;
    for (size_t i = 0; i < rects.size(); ++i) {
      const int mine = i < neighbours.size() ? neighbours[i] : 0;
      if (overshadowed(rects, neighbours, i)) continue;
      Face f;
      f.box = cv::Rect2f(rects[i]);
      f.score = static_cast<float>(mine);
      faces.push_back(std::move(f));
    }
    return faces;
  }

 private:
  std::string name_;
  int min_neighbors_;
  double scale_factor_;
  cv::CascadeClassifier cascade_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_cascade_detector(const std::string& name, const std::string& cascade_file,
                                                    int default_min_neighbors, double default_scale_factor,
                                                    const DetectorOptions& options) {
  return std::make_unique<CascadeDetector>(name, cascade_file, default_min_neighbors, default_scale_factor,
                                           options);
}

}  // namespace dfscan::faces::detail
