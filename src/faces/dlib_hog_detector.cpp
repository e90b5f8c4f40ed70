// dlib's HOG+SVM frontal face detector. Its model is compiled into the header, so there is no
// file to ship; it is the detector the GenConViT reference and DeepfakeBench preprocess with.
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>

#include <cmath>
#include <mutex>
#include <opencv2/imgproc.hpp>

#include "faces/backends.hpp"

namespace dfscan::faces::detail {
namespace {

// Deserialising the embedded model is the slow part of construction; do it once and copy.
const dlib::frontal_face_detector& prototype() {
  static const dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
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
