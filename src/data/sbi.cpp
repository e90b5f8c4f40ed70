// Self-blended images: the generator (OpenCV, float pixels in [0, 255]) and the `sbi:` data source.
// Written from the paper's description (Shiohara & Yamasaki, CVPR 2022, §3).
#include "dfscan/sbi.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "dfscan/config.hpp"
#include "dfscan/log.hpp"
#include "dfscan/status.hpp"
#if DFSCAN_WITH_MEDIA
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace dfscan::data {
namespace fs = std::filesystem;

namespace {

constexpr const char* kLandmarkPrefix = "sbi:";
constexpr const char* kHullPrefix = "sbi-hull:";
constexpr const char* kDebianLandmarkModel = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

#if DFSCAN_WITH_MEDIA

// Every draw comes from this generator, so a seed fixes the result on any platform
// (the standard distributions are implementation-defined; these are not).
class Draw {
 public:
  explicit Draw(uint64_t seed) : state_(seed) {}
  double uniform(double lo = 0.0, double hi = 1.0) {
    return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53;
  }
  bool chance(double p) { return uniform() < p; }
  size_t index(size_t n) { return std::min(n - 1, static_cast<size_t>(uniform() * static_cast<double>(n))); }
  double normal() {
    const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  uint64_t next() {  // splitmix64
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint64_t state_;
};

cv::Mat to_mat(const at::Tensor& rgb_hwc) {
  if (rgb_hwc.dim() != 3 || rgb_hwc.size(2) != 3 || rgb_hwc.scalar_type() != at::kByte ||
      rgb_hwc.size(0) < 2 || rgb_hwc.size(1) < 2)
    throw Error(Status::error, "self-blending needs an RGB uint8 [H,W,3] image of at least 2x2");
  auto t = rgb_hwc.to(torch::kCPU).contiguous();
  cv::Mat view(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC3, t.data_ptr<uint8_t>());
  return view.clone();
}

at::Tensor to_tensor(const cv::Mat& m) {
  const int channels = m.channels();
  const auto type = m.depth() == CV_8U ? torch::kUInt8 : torch::kFloat;
  std::vector<int64_t> sizes{m.rows, m.cols};
  if (channels > 1) sizes.push_back(channels);
  return torch::from_blob(m.data, sizes, type).clone();
}

// The centre and size of the face box of a crop (see SelfBlendOptions::face_margin).
cv::Rect2f face_box(int height, int width, float margin) {
  const float f = 1.0f / (1.0f + 2.0f * std::max(0.0f, margin));
  const float w = static_cast<float>(width) * f, h = static_cast<float>(height) * f;
  return {(static_cast<float>(width) - w) / 2, (static_cast<float>(height) - h) / 2, w, h};
}

std::vector<cv::Point2f> outline(int height, int width, const Landmarks& landmarks, float margin) {
  std::vector<cv::Point2f> points;
  if (landmarks.size() >= 3) {
    for (const auto& p : landmarks) points.emplace_back(p[0], p[1]);
  } else {
    const auto box = face_box(height, width, margin);
    const float cx = box.x + box.width / 2, cy = box.y + box.height / 2;
    constexpr int kSteps = 48;
    for (int i = 0; i < kSteps; ++i) {
      const double a = 2.0 * M_PI * i / kSteps;
      points.emplace_back(cx + static_cast<float>(std::cos(a)) * box.width / 2,
                          cy + static_cast<float>(std::sin(a)) * box.height / 2);
    }
  }
  return points;
}

// 1 inside the convex hull of `points` (clipped to the image), 0 elsewhere; CV_32F.
cv::Mat fill_hull(int height, int width, const std::vector<cv::Point2f>& points) {
  std::vector<cv::Point> pixels;
  for (const auto& p : points)
    pixels.emplace_back(std::clamp(static_cast<int>(std::lround(p.x)), 0, width - 1),
                        std::clamp(static_cast<int>(std::lround(p.y)), 0, height - 1));
  std::vector<cv::Point> hull;
  cv::convexHull(pixels, hull);
  cv::Mat mask = cv::Mat::zeros(height, width, CV_32F);
  if (hull.size() >= 3) cv::fillConvexPoly(mask, hull, cv::Scalar(1.0));
  return mask;
}

cv::Mat blur(const cv::Mat& m, double sigma) {
  if (sigma < 0.3) return m.clone();
  cv::Mat out;
  cv::GaussianBlur(m, out, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
  return out;
}

// The blend mask: the hull moved, scaled and rotated a little, elastically warped, then blurred,
// re-cut (which grows or shrinks it) and blurred again for a soft edge; finally scaled by a ratio.
cv::Mat deformed_mask(int height, int width, const std::vector<cv::Point2f>& points,
                      const SelfBlendOptions& o, Draw& draw) {
  cv::Point2f centre(0, 0);
  for (const auto& p : points) centre += p;
  centre *= 1.0f / static_cast<float>(points.size());
  const cv::Mat region = fill_hull(height, width, points);
  const double face = std::sqrt(std::max(1.0, cv::sum(region)[0]));

  const double j = o.mask_jitter;
  const double sx = draw.uniform(1 - 2 * j, 1 + 2 * j), sy = draw.uniform(1 - 2 * j, 1 + 2 * j);
  const double angle = draw.uniform(-0.1, 0.1);  // radians
  const double tx = draw.uniform(-j, j) * face, ty = draw.uniform(-j, j) * face;
  std::vector<cv::Point2f> moved;
  for (const auto& p : points) {
    const double dx = (p.x - centre.x) * sx, dy = (p.y - centre.y) * sy;
    moved.emplace_back(static_cast<float>(centre.x + std::cos(angle) * dx - std::sin(angle) * dy + tx),
                       static_cast<float>(centre.y + std::sin(angle) * dx + std::cos(angle) * dy + ty));
  }
  cv::Mat mask = fill_hull(height, width, moved);

  // Elastic warp: a smooth displacement field interpolated from a coarse grid of random offsets.
  constexpr int kGrid = 4;
  const double amplitude = draw.uniform(0.2, 1.0) * j * face;
  cv::Mat coarse_x(kGrid, kGrid, CV_32F), coarse_y(kGrid, kGrid, CV_32F);
  for (int r = 0; r < kGrid; ++r)
    for (int c = 0; c < kGrid; ++c) {
      coarse_x.at<float>(r, c) = static_cast<float>(draw.normal() * amplitude);
      coarse_y.at<float>(r, c) = static_cast<float>(draw.normal() * amplitude);
    }
  cv::Mat map_x, map_y;
  cv::resize(coarse_x, map_x, cv::Size(width, height), 0, 0, cv::INTER_CUBIC);
  cv::resize(coarse_y, map_y, cv::Size(width, height), 0, 0, cv::INTER_CUBIC);
  for (int r = 0; r < height; ++r) {
    auto* mx = map_x.ptr<float>(r);
    auto* my = map_y.ptr<float>(r);
    for (int c = 0; c < width; ++c) {
      mx[c] += static_cast<float>(c);
      my[c] += static_cast<float>(r);
    }
  }
  cv::Mat warped;
  cv::remap(mask, warped, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0));
  if (cv::countNonZero(warped > 0.5f) > 0) mask = warped;

  const double sigma1 = draw.uniform(0.02, 0.12) * face;
  const double cut = draw.uniform(0.25, 0.75);
  const double sigma2 = draw.uniform(0.02, 0.1) * face;
  cv::Mat soft = blur(mask, sigma1);
  cv::Mat recut;
  cv::threshold(soft, recut, cut, 1.0, cv::THRESH_BINARY);
  if (cv::countNonZero(recut) > 0) mask = recut;
  mask = blur(mask, sigma2);
  cv::min(mask, 1.0, mask);  // float blurs of an all-ones patch can overshoot 1 by an ulp
  const auto& ratios = o.blend_ratios;
  const float ratio = ratios.empty() ? 1.0f : ratios[draw.index(ratios.size())];
  mask *= std::clamp(ratio, 0.0f, 1.0f);
  return mask;
}

// The source: the image with its colours, sharpness and geometry changed a little (CV_32FC3, 0..255).
cv::Mat perturbed_source(const cv::Mat& rgb8, const SelfBlendOptions& o, Draw& draw) {
  cv::Mat img;
  rgb8.convertTo(img, CV_32FC3);
  const int h = img.rows, w = img.cols;

  // Colour. Every draw happens whether used or not, so one choice never shifts the others.
  const bool do_shift = draw.chance(0.5);
  const cv::Scalar shift(draw.uniform(-20, 20), draw.uniform(-20, 20), draw.uniform(-20, 20));
  const bool do_hsv = draw.chance(0.5);
  const double hue = draw.uniform(-10, 10), sat = draw.uniform(-0.12, 0.12), val = draw.uniform(-0.08, 0.08);
  const bool do_contrast = draw.chance(0.5);
  const double contrast = draw.uniform(0.85, 1.15), brightness = draw.uniform(-20, 20);
  if (do_shift) img += shift;
  if (do_hsv) {
    cv::Mat hsv, unit = img / 255.0;
    cv::max(cv::min(unit, 1.0), 0.0, unit);
    cv::cvtColor(unit, hsv, cv::COLOR_RGB2HSV);  // float: H in degrees, S and V in [0, 1]
    std::vector<cv::Mat> ch;
    cv::split(hsv, ch);
    ch[0] += hue;
    for (int r = 0; r < h; ++r) {
      auto* hp = ch[0].ptr<float>(r);
      for (int c = 0; c < w; ++c) hp[c] = std::fmod(hp[c] + 360.0f, 360.0f);
    }
    ch[1] += sat;
    ch[2] += val;
    cv::max(cv::min(ch[1], 1.0), 0.0, ch[1]);
    cv::max(cv::min(ch[2], 1.0), 0.0, ch[2]);
    cv::merge(ch, hsv);
    cv::cvtColor(hsv, img, cv::COLOR_HSV2RGB);
    img *= 255.0;
  }
  if (do_contrast) {
    const cv::Scalar mean = cv::mean(img);
    img = (img - mean) * contrast + mean + cv::Scalar::all(brightness);
  }

  // Frequency: either lose detail (down then up) or exaggerate it (unsharp mask).
  const bool downscale = draw.chance(0.5);
  const double factor = draw.uniform(0.3, 0.7);
  const double amount = draw.uniform(0.3, 1.0), radius = draw.uniform(0.8, 1.6);
  if (downscale) {
    cv::Mat small;
    cv::resize(img, small,
               cv::Size(std::max(1, static_cast<int>(std::lround(w * factor))),
                        std::max(1, static_cast<int>(std::lround(h * factor)))),
               0, 0, cv::INTER_AREA);
    cv::resize(small, img, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
  } else {
    img = img + (img - blur(img, radius)) * amount;
  }

  // Geometry: a small rescale about the centre and a small shift.
  const double scale = draw.uniform(1 - o.max_scale, 1 + o.max_scale);
  const double dx = draw.uniform(-o.max_shift, o.max_shift) * w,
               dy = draw.uniform(-o.max_shift, o.max_shift) * h;
  cv::Mat affine =
      cv::getRotationMatrix2D(cv::Point2f(static_cast<float>(w) / 2, static_cast<float>(h) / 2), 0.0, scale);
  affine.at<double>(0, 2) += dx;
  affine.at<double>(1, 2) += dy;
  cv::Mat moved;
  cv::warpAffine(img, moved, affine, img.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT);
  cv::max(cv::min(moved, 255.0), 0.0, moved);
  return moved;
}

#else

[[noreturn]] void no_media() {
  throw Error(Status::unsupported, "self-blended images need the media build (DFSCAN_WITH_MEDIA=ON)");
}

#endif  // DFSCAN_WITH_MEDIA

}  // namespace

at::Tensor face_region(int64_t height, int64_t width, const Landmarks& landmarks,
                       const SelfBlendOptions& options) {
#if DFSCAN_WITH_MEDIA
  if (height < 1 || width < 1) throw Error(Status::error, "face_region: empty image size");
  const int h = static_cast<int>(height), w = static_cast<int>(width);
  return to_tensor(fill_hull(h, w, outline(h, w, landmarks, options.face_margin)));
#else
  (void)height, (void)width, (void)landmarks, (void)options;
  no_media();
#endif
}

SelfBlend self_blend(const at::Tensor& rgb_hwc, const Landmarks& landmarks, uint64_t seed,
                     const SelfBlendOptions& options) {
#if DFSCAN_WITH_MEDIA
  const cv::Mat rgb8 = to_mat(rgb_hwc);
  const int h = rgb8.rows, w = rgb8.cols;
  Draw draw(seed);
  const auto points = outline(h, w, landmarks, options.face_margin);
  const cv::Mat mask = deformed_mask(h, w, points, options, draw);
  const cv::Mat source = perturbed_source(rgb8, options, draw);

  cv::Mat target, mask3, blended;
  rgb8.convertTo(target, CV_32FC3);
  cv::merge(std::vector<cv::Mat>{mask, mask, mask}, mask3);
  // target + m * (source - target): exactly the target wherever the mask is 0.
  blended = target + mask3.mul(source - target);
  cv::Mat out8, source8;
  blended.convertTo(out8, CV_8UC3);
  source.convertTo(source8, CV_8UC3);

  SelfBlend result;
  result.image = to_tensor(out8);
  result.source = to_tensor(source8);
  result.mask = to_tensor(mask);
  result.landmark_mask = landmarks.size() >= 3;
  return result;
#else
  (void)rgb_hwc, (void)landmarks, (void)seed, (void)options;
  no_media();
#endif
}

std::string landmark_model_path() {
  if (const char* env = std::getenv("DFSCAN_LANDMARK_MODEL"); env && *env) return env;
  std::error_code ec;
  return fs::is_regular_file(kDebianLandmarkModel, ec) ? kDebianLandmarkModel : "";
}

std::string landmark_model_notice() {
  return "self-blend masks use dlib's 68-point landmark model, trained on iBUG 300-W, whose licence "
         "excludes commercial use (use sbi-hull: for box masks without it)";
}

// ---- data source --------------------------------------------------------------------------------

bool is_self_blend_spec(const std::string& spec) {
  return starts_with(spec, kLandmarkPrefix) || starts_with(spec, kHullPrefix);
}

namespace {

bool is_image_file(const fs::path& p) {
  auto ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* known : {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
    if (ext == known) return true;
  return false;
}

bool has_split_folders(const fs::path& root) {
  std::error_code ec;
  for (const char* name : {"train", "valid", "val", "validation", "test"})
    if (fs::is_directory(root / name, ec)) return true;
  return false;
}

// FNV-1a 64: a split that stays put when files are added or removed elsewhere.
uint64_t stable_hash(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

Dataset plain_image_folder(const fs::path& root) {
  std::vector<std::pair<std::string, fs::path>> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file(ec) && is_image_file(it->path()))
      files.emplace_back(fs::relative(it->path(), root, ec).generic_string(), it->path());
  if (ec) throw Error(Status::error, "cannot list " + root.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<Sample> samples;
  for (const auto& [rel, path] : files) {
    Sample s;
    s.path = path.string();
    s.label = 0;
    s.split = stable_hash(rel) % 5 == 0 ? Split::valid : Split::train;
    samples.push_back(std::move(s));
  }
  return Dataset("images:" + root.string(), std::move(samples));
}

}  // namespace

Dataset open_self_blend_dataset(const std::string& spec) {
  if (!is_self_blend_spec(spec)) throw Error(Status::error, "not a self-blend data spec: " + spec);
  const bool hull = starts_with(spec, kHullPrefix);
  const std::string inner = spec.substr(std::string(hull ? kHullPrefix : kLandmarkPrefix).size());
  if (inner.empty()) throw Error(Status::error, "'" + spec + "' names no folder or CSV");
  std::error_code ec;
  const Dataset reals = fs::is_directory(inner, ec) && !has_split_folders(inner) ? plain_image_folder(inner)
                                                                                 : open_dataset(inner);
  const std::string mode = hull ? "hull" : "landmarks";
  std::vector<Sample> samples;
  for (const auto& s : reals) {
    if (s.label != 0 || s.split == Split::test) continue;
    Sample real = s, blend = s;
    real.groups["sbi"] = "real";
    blend.label = 1;
    blend.groups["sbi"] = mode;
    samples.push_back(std::move(real));
    samples.push_back(std::move(blend));
  }
  if (samples.empty()) throw Error(Status::error, spec + ": no real train or valid images to self-blend");
  return Dataset((hull ? std::string(kHullPrefix) : std::string(kLandmarkPrefix)) + reals.source(),
                 std::move(samples));
}

bool is_self_blend(const Sample& sample) {
  if (sample.label != 1) return false;
  const auto it = sample.groups.find("sbi");
  return it != sample.groups.end() && (it->second == "landmarks" || it->second == "hull");
}

namespace {

// The landmark model and each path's landmarks, shared by the trainer's loader threads.
struct LandmarkCache {
  std::mutex mutex;
  bool tried = false;
  std::unique_ptr<LandmarkFinder> finder;
  std::unordered_map<std::string, Landmarks> points;
};

LandmarkCache& landmark_cache() {
  static LandmarkCache cache;
  return cache;
}

Landmarks cached_landmarks(const at::Tensor& rgb, const std::string& path) {
  auto& cache = landmark_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  if (!cache.tried) {
    cache.tried = true;
    const auto model = landmark_model_path();
    if (model.empty()) {
      log::info("no landmark model (libdlib-data); self-blend masks come from the face box");
    } else {
      cache.finder = std::make_unique<LandmarkFinder>(model);
    }
  }
  if (!cache.finder) return {};
  auto it = cache.points.find(path);
  if (it == cache.points.end()) it = cache.points.emplace(path, cache.finder->find(rgb)).first;
  return it->second;
}

}  // namespace

bool landmark_model_used() {
  auto& cache = landmark_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  return cache.finder != nullptr && !cache.points.empty();
}

at::Tensor blend_sample(const at::Tensor& rgb_hwc, const Sample& sample, uint64_t seed) {
  if (!is_self_blend(sample)) return rgb_hwc;
  const bool landmarks = sample.groups.at("sbi") == "landmarks";
  return self_blend(rgb_hwc, landmarks ? cached_landmarks(rgb_hwc, sample.path) : Landmarks{}, seed).image;
}

}  // namespace dfscan::data
