#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "dfscan/cpus.hpp"
#include "dfscan/faces.hpp"
#include "dfscan/status.hpp"
#include "dfscan/text.hpp"
#include "faces/backends.hpp"

namespace dfscan::faces {
namespace {

struct CascadeSpec {
  const char* name;
  const char* file;
  int min_neighbors;
  double scale_factor;
};

// Tuned on the DFDC face-crop sample for recall and on 16 frames of the shared 720p clip for
// speed and false positives (scripts/eval-face-recall.sh). OpenCV's own defaults are 3 and 1.1.
constexpr CascadeSpec kCascades[] = {
    {"haar", "haarcascades/haarcascade_frontalface_default.xml", 3, 1.1},
    {"haar-alt", "haarcascades/haarcascade_frontalface_alt.xml", 3, 1.1},
    {"haar-alt2", "haarcascades/haarcascade_frontalface_alt2.xml", 3, 1.1},
    {"lbp", "lbpcascades/lbpcascade_frontalface.xml", 3, 1.1},
    // Coarser scale steps with fewer neighbours: as many faces as Haar alt2, about 3x faster.
    {"lbp-improved", "lbpcascades/lbpcascade_frontalface_improved.xml", 2, 1.15},
};

constexpr const char* kDefaultDetector = "lbp-improved";
constexpr const char* kYunetPrefix = "yunet:";

// Any supported pixel type to 8 bits, keeping the channel count.
cv::Mat to_8bit(const cv::Mat& image) {
  switch (image.depth()) {
    case CV_8U:
      return image;
    case CV_16U: {
      cv::Mat out;
      image.convertTo(out, CV_8U, 1.0 / 257.0);
      return out;
    }
    case CV_32F:
    case CV_64F: {  // float images are taken to be in [0, 1]
      cv::Mat out;
      image.convertTo(out, CV_8U, 255.0);
      return out;
    }
    default:
      throw Error(Status::unsupported,
                  "face detection: unsupported pixel depth " + std::to_string(image.depth()));
  }
}

cv::Mat to_layout(const cv::Mat& image8, bool grey) {
  cv::Mat out;
  switch (image8.channels()) {
    case 1:
      if (grey) return image8;
      cv::cvtColor(image8, out, cv::COLOR_GRAY2RGB);
      return out;
    case 3:
      if (!grey) return image8;
      cv::cvtColor(image8, out, cv::COLOR_RGB2GRAY);
      return out;
    case 4:
      cv::cvtColor(image8, out, grey ? cv::COLOR_RGBA2GRAY : cv::COLOR_RGBA2RGB);
      return out;
    default:
      throw Error(Status::unsupported,
                  "face detection: unsupported channel count " + std::to_string(image8.channels()));
  }
}

float overlap_of_smaller(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float smaller = std::min(a.area(), b.area());
  return smaller > 0.f ? inter / smaller : 0.f;
}

// Cascades sometimes report a face and a box nested inside it; keep the more confident one.
std::vector<Face> drop_nested(std::vector<Face> faces) {
  std::stable_sort(faces.begin(), faces.end(),
                   [](const Face& a, const Face& b) { return a.score > b.score; });
  std::vector<Face> kept;
  for (auto& f : faces) {
    bool nested = std::any_of(kept.begin(), kept.end(),
                              [&](const Face& k) { return overlap_of_smaller(k.box, f.box) > 0.6f; });
    if (!nested) kept.push_back(std::move(f));
  }
  return kept;
}

// At least one pixel per side, so extreme aspect ratios (3 x 4000) still scale.
cv::Size scaled_size(const cv::Size& size, double scale) {
  return {std::max(1, static_cast<int>(std::lround(size.width * scale))),
          std::max(1, static_cast<int>(std::lround(size.height * scale)))};
}

// "a,b,...": each backend in turn on the frame, until one finds a face. The later (slower or less
// precise) ones run only on the frames the first misses.
class FallbackDetector : public FaceDetector {
 public:
  FallbackDetector(std::string name, std::vector<std::unique_ptr<FaceDetector>> chain,
                   DetectorOptions options)
      : FaceDetector(options), name_(std::move(name)), chain_(std::move(chain)) {}
  std::string name() const override { return name_; }

 protected:
  // `image` is already scaled to the detection size, so each backend's own scaling leaves it as is.
  std::vector<Face> detect_scaled(const cv::Mat& image) override {
    for (auto& d : chain_) {
      auto faces = d->detect(image);
      if (!faces.empty()) return faces;
    }
    return {};
  }

 private:
  std::string name_;
  std::vector<std::unique_ptr<FaceDetector>> chain_;
};

}  // namespace

std::vector<Face> FaceDetector::detect(const cv::Mat& image) {
  try {
    return detect_checked(image);
  } catch (const cv::Exception& e) {
    throw Error(Status::error, "face detector " + name() + ": " + one_line(e.what()));
  }
}

std::vector<Face> FaceDetector::detect_checked(const cv::Mat& image) {
  if (image.empty() || image.cols < 2 || image.rows < 2) return {};
  const bool grey = grey_input();
  // Convert channels after scaling when shrinking (fewer pixels), before when enlarging.
  cv::Mat img = to_8bit(image);
  const int longest = std::max(img.cols, img.rows);
  double scale = 1.0;
  if (options_.max_side > 0 && longest > options_.max_side)
    scale = static_cast<double>(options_.max_side) / longest;
  else if (options_.min_side > 0 && longest < options_.min_side)
    scale = static_cast<double>(options_.min_side) / longest;
  if (scale < 1.0) {
    if (img.channels() == 3 && grey) img = to_layout(img, true);
    cv::Mat small;
    cv::resize(img, small, scaled_size(img.size(), scale), 0, 0, cv::INTER_AREA);
    img = to_layout(small, grey);
  } else {
    img = to_layout(img, grey);
    if (scale > 1.0) {
      cv::Mat big;
      cv::resize(img, big, scaled_size(img.size(), scale), 0, 0, cv::INTER_LINEAR);
      img = big;
    }
  }
  // Scaling rounds the size, so map back with the exact per-axis factors.
  const float sx = static_cast<float>(image.cols) / img.cols;
  const float sy = static_cast<float>(image.rows) / img.rows;
  const cv::Rect2f frame(0.f, 0.f, static_cast<float>(image.cols), static_cast<float>(image.rows));

  std::vector<Face> out;
  for (auto& f : detect_scaled(img)) {
    if (!(f.score >= options_.min_score)) continue;
    f.box = cv::Rect2f(f.box.x * sx, f.box.y * sy, f.box.width * sx, f.box.height * sy) & frame;
    if (f.box.width < 1.f || f.box.height < 1.f) continue;
    for (auto& p : f.landmarks) p = cv::Point2f(p.x * sx, p.y * sy);
    out.push_back(std::move(f));
  }
  return drop_nested(std::move(out));
}

std::string default_detector_name() {
  return kDefaultDetector;
}

std::vector<std::string> detector_names() {
  std::vector<std::string> names;
  for (const auto& c : kCascades) names.emplace_back(c.name);
  names.emplace_back("dlib-hog");
  names.emplace_back(std::string(kYunetPrefix) + "PATH");
  return names;
}

std::unique_ptr<FaceDetector> make_face_detector(const std::string& name, const DetectorOptions& options) {
  if (name == "default" || name.empty()) return make_face_detector(kDefaultDetector, options);
  if (name.find(',') != std::string::npos) {
    std::vector<std::unique_ptr<FaceDetector>> chain;
    for (const auto& part : split_on(name, ',')) {
      if (part.empty()) throw Error(Status::error, "face detector '" + name + "': an empty name in the list");
      chain.push_back(make_face_detector(part, options));
    }
    return std::make_unique<FallbackDetector>(name, std::move(chain), options);
  }
  for (const auto& c : kCascades)
    if (name == c.name)
      return detail::make_cascade_detector(c.name, c.file, c.min_neighbors, c.scale_factor, options);
  if (name == "dlib-hog") return detail::make_dlib_hog_detector(options);
  if (name.rfind(kYunetPrefix, 0) == 0) {
    const std::string path = name.substr(std::char_traits<char>::length(kYunetPrefix));
    if (path.empty()) throw Error(Status::error, "face detector yunet needs a model path: yunet:PATH.onnx");
    return detail::make_yunet_detector(path, options);
  }
  std::string known;
  for (const auto& n : detector_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error(Status::error, "unknown face detector '" + name + "' (known: " + known + ", default)");
}

FaceDetectorPool::FaceDetectorPool(std::string detector_name, DetectorOptions options, int threads)
    : name_(std::move(detector_name)), options_(options) {
  if (threads <= 0) threads = usable_cpus();
  workers_.resize(static_cast<size_t>(threads));
  workers_[0] = make_face_detector(name_, options_);  // fail early on a bad name or model
}

FaceDetectorPool::~FaceDetectorPool() = default;

std::vector<std::vector<Face>> FaceDetectorPool::detect(const std::vector<cv::Mat>& frames) {
  std::vector<std::vector<Face>> results(frames.size());
  const size_t n_workers = std::min(workers_.size(), std::max<size_t>(frames.size(), 1));
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(n_workers);
  auto work = [&](size_t w) {
    try {
      if (!workers_[w]) workers_[w] = make_face_detector(name_, options_);
      for (size_t i = next++; i < frames.size(); i = next++) results[i] = workers_[w]->detect(frames[i]);
    } catch (...) {
      errors[w] = std::current_exception();
      next = frames.size();  // stop the other workers early
    }
  };
  std::vector<std::thread> threads;
  for (size_t w = 1; w < n_workers; ++w) threads.emplace_back(work, w);
  work(0);
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return results;
}

}  // namespace dfscan::faces
