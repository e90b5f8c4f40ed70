// dlib's 68-point landmarks for self-blend masks. The model file is iBUG 300-W-trained (no commercial
// use), so constructing a finder logs a notice saying so.
#include "dfscan/config.hpp"
#include "dfscan/log.hpp"
#include "dfscan/sbi.hpp"
#include "dfscan/status.hpp"

#if DFSCAN_WITH_MEDIA
#include <dlib/image_processing/shape_predictor.h>
#include <dlib/opencv/cv_image.h>
#include <dlib/serialize.h>

#include <mutex>
#include <opencv2/core.hpp>

#include "dfscan/faces.hpp"
#endif

namespace dfscan::data {

#if DFSCAN_WITH_MEDIA

struct LandmarkFinder::Impl {
  std::mutex mutex;
  dlib::shape_predictor predictor;
  std::unique_ptr<faces::FaceDetector> detector;
};

LandmarkFinder::LandmarkFinder(const std::string& model_path) : impl_(std::make_unique<Impl>()) {
  try {
    dlib::deserialize(model_path) >> impl_->predictor;
  } catch (const std::exception& e) {
    throw Error(Status::error, "cannot read landmark model " + model_path + ": " + one_line(e.what()));
  }
  if (impl_->predictor.num_parts() != 68)
    throw Error(Status::error, model_path + ": expected a 68-point shape predictor, got " +
                                   std::to_string(impl_->predictor.num_parts()) + " points");
  // Crops are often smaller than the 80 px faces HOG finds unaided: upscale them first.
  faces::DetectorOptions options;
  options.min_side = 320;
  impl_->detector = faces::make_face_detector("dlib-hog", options);
  log::warn(landmark_model_notice() + ": " + model_path);
}

LandmarkFinder::~LandmarkFinder() = default;

Landmarks LandmarkFinder::find(const at::Tensor& rgb_hwc, float face_margin) const {
  if (rgb_hwc.dim() != 3 || rgb_hwc.size(2) != 3 || rgb_hwc.scalar_type() != at::kByte)
    throw Error(Status::error, "landmarks need an RGB uint8 [H,W,3] image");
  const auto t = rgb_hwc.contiguous();
  const cv::Mat rgb(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC3,
                    const_cast<uint8_t*>(t.data_ptr<uint8_t>()));
  std::lock_guard<std::mutex> lock(impl_->mutex);
  cv::Rect2f box;
  float best_area = 0;
  for (const auto& f : impl_->detector->detect(rgb))
    if (f.box.area() > best_area) {
      best_area = f.box.area();
      box = f.box;
    }
  if (best_area <= 0) {
    const float k = 1.0f / (1.0f + 2.0f * std::max(0.0f, face_margin));
    const float w = static_cast<float>(rgb.cols) * k, h = static_cast<float>(rgb.rows) * k;
    box = cv::Rect2f((static_cast<float>(rgb.cols) - w) / 2, (static_cast<float>(rgb.rows) - h) / 2, w, h);
  }
  const dlib::cv_image<dlib::rgb_pixel> view(rgb);
  const dlib::rectangle rect(std::lround(box.x), std::lround(box.y), std::lround(box.x + box.width) - 1,
                             std::lround(box.y + box.height) - 1);
  const auto shape = impl_->predictor(view, rect);
  Landmarks points;
  for (unsigned long i = 0; i < shape.num_parts(); ++i)
    points.push_back({static_cast<float>(shape.part(i).x()), static_cast<float>(shape.part(i).y())});
  return points;
}

#else

struct LandmarkFinder::Impl {};

LandmarkFinder::LandmarkFinder(const std::string&) {
  throw Error(Status::unsupported, "landmarks need the media build (DFSCAN_WITH_MEDIA=ON)");
}
LandmarkFinder::~LandmarkFinder() = default;
Landmarks LandmarkFinder::find(const at::Tensor&, float) const {
  return {};
}

#endif

}  // namespace dfscan::data
