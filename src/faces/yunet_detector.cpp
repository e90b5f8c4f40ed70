// YuNet (cv::FaceDetectorYN) for users who bring its ONNX file: the only backend with landmarks.
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect/face.hpp>

#include "dfscan/status.hpp"
#include "faces/backends.hpp"

namespace dfscan::faces::detail {
namespace {

class YunetDetector final : public FaceDetector {
 public:
  YunetDetector(const std::string& path, const DetectorOptions& options)
      : FaceDetector(options), path_(path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      throw Error(Status::error, "YuNet model not found: " + path);
    try {
      // Score 0.6 is below OpenCV's sample default (0.9): recall first, the tracker prunes.
      net_ = cv::FaceDetectorYN::create(path, "", cv::Size(320, 320), 0.6f, 0.3f, 5000);
    } catch (const cv::Exception& e) {
      throw Error(Status::error, "cannot load YuNet model " + path + ": " + one_line(e.what()));
    }
    if (!net_) throw Error(Status::error, "cannot load YuNet model " + path);
  }

  std::string name() const override { return "yunet:" + path_; }

 protected:
  std::vector<Face> detect_scaled(const cv::Mat& rgb) override {
    cv::cvtColor(rgb, bgr_, cv::COLOR_RGB2BGR);  // YuNet was trained on OpenCV's BGR order
    net_->setInputSize(bgr_.size());
    cv::Mat out;
    try {
      net_->detect(bgr_, out);
    } catch (const cv::Exception& e) {
      throw Error(Status::error, "YuNet failed: " + one_line(e.what()));
    }
    std::vector<Face> faces;
    // Each row: x, y, w, h, 5 landmark (x, y) pairs, score.
    for (int r = 0; r < out.rows; ++r) {
      const float* v = out.ptr<float>(r);
      Face f;
      f.box = cv::Rect2f(v[0], v[1], v[2], v[3]);
      for (int k = 0; k < 5; ++k) f.landmarks.emplace_back(v[4 + 2 * k], v[5 + 2 * k]);
      f.score = v[14];
      faces.push_back(std::move(f));
    }
    return faces;
  }

 private:
  std::string path_;
  cv::Ptr<cv::FaceDetectorYN> net_;
  cv::Mat bgr_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_yunet_detector(const std::string& model_path,
                                                  const DetectorOptions& options) {
  return std::make_unique<YunetDetector>(model_path, options);
}

}  // namespace dfscan::faces::detail
