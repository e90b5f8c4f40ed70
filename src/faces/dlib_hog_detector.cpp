// dlib's HOG+SVM frontal face detector. Its model is compiled into the header, so there is no
// file to ship; it is the detector the GenConViT reference and DeepfakeBench preprocess with.
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <dlib/revision.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "dfscan/atomic_file.hpp"
#include "faces/backends.hpp"

namespace dfscan::faces::detail {
namespace {

// dlib embeds the model compressed; decompressing it costs about half a second of CPU, a quarter
// of scanning one clip. Its plain serialisation (155 kB) loads in milliseconds, so it is kept in
// $XDG_CACHE_HOME (or ~/.cache)/dfscan/, named by the dlib version whose model it holds.
std::filesystem::path cache_file() {
  std::filesystem::path base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    base = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home)
    base = std::filesystem::path(home) / ".cache";
  else
    return {};
  return base / "dfscan" /
         ("dlib-" + std::to_string(DLIB_MAJOR_VERSION) + "." + std::to_string(DLIB_MINOR_VERSION) + "." +
          std::to_string(DLIB_PATCH_VERSION) + "-frontal-face-detector.dat");
}

dlib::frontal_face_detector load_frontal_face_detector() {
  const auto file = cache_file();
  if (!file.empty()) {
    try {
      std::ifstream in(file, std::ios::binary);
      if (in) {
        dlib::frontal_face_detector detector;
        dlib::deserialize(detector, in);
        if (detector.num_detectors() > 0) return detector;
      }
    } catch (const std::exception&) {
      // Unreadable or stale: rebuilt below.
    }
  }
  auto detector = dlib::get_frontal_face_detector();
  if (!file.empty()) {
    try {
      std::ostringstream raw;
      dlib::serialize(detector, raw);
      std::filesystem::create_directories(file.parent_path());
      write_file_atomic(file, raw.str());
    } catch (const std::exception&) {
      // A read-only home only costs the next run the decompression.
    }
  }
  return detector;
}

// Deserialising the model is the slow part of construction; do it once and copy.
const dlib::frontal_face_detector& prototype() {
  static const dlib::frontal_face_detector detector = load_frontal_face_detector();
  return detector;
}

// An instance is not thread-safe (the scanner keeps scratch buffers): one per thread.
class DlibHogDetector final : public FaceDetector {
 public:
  explicit DlibHogDetector(const DetectorOptions& options) : FaceDetector(options), detector_(prototype()) {}

  std::string name() const override { return "dlib-hog"; }

 protected:
  // HOG takes the strongest gradient over the colour channels, so RGB and BGR give the same
  // boxes; the GenConViT reference's channel swap makes no difference here.
  std::vector<Face> detect_scaled(const cv::Mat& rgb) override {
    const int up = std::max(0, options().upsample);
    cv::Mat img = rgb;
    if (up > 0) cv::resize(rgb, img, cv::Size(), std::ldexp(1.0, up), std::ldexp(1.0, up), cv::INTER_LINEAR);
    if (!img.isContinuous()) img = img.clone();
    dlib::cv_image<dlib::rgb_pixel> view(img);
    std::vector<dlib::rect_detection> dets;
    detector_(view, dets, 0.0);
    const float back = static_cast<float>(std::ldexp(1.0, -up));
    std::vector<Face> faces;
    for (const auto& d : dets) {
      Face f;
      // dlib rectangles are inclusive on both ends.
      f.box =
          cv::Rect2f(static_cast<float>(d.rect.left()) * back, static_cast<float>(d.rect.top()) * back,
                     static_cast<float>(d.rect.width()) * back, static_cast<float>(d.rect.height()) * back);
      f.score = static_cast<float>(d.detection_confidence);
      faces.push_back(std::move(f));
    }
    return faces;
  }

 private:
  dlib::frontal_face_detector detector_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_dlib_hog_detector(const DetectorOptions& options) {
  return std::make_unique<DlibHogDetector>(options);
}

}  // namespace dfscan::faces::detail
