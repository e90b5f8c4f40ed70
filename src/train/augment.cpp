#include "train/augment.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "dfscan/config.hpp"
#include "dfscan/status.hpp"
#if DFSCAN_WITH_MEDIA
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace dfscan::train {
namespace F = torch::nn::functional;

namespace {

class Draw {
 public:
  explicit Draw(uint64_t seed) : gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}
  double uniform(double lo = 0.0, double hi = 1.0) {
    return lo + (hi - lo) * torch::rand({1}, gen_, torch::kDouble).item<double>();
  }
  bool chance(double p) { return p > 0.0 && uniform() < p; }
  at::Generator& gen() { return gen_; }

 private:
  at::Generator gen_;
};

at::Tensor resize_to(const at::Tensor& chw, int64_t h, int64_t w) {
  if (chw.size(1) == h && chw.size(2) == w) return chw;
  const bool down = h < chw.size(1) || w < chw.size(2);
  return F::interpolate(chw.unsqueeze(0), F::InterpolateFuncOptions()
                                              .size(std::vector<int64_t>{h, w})
                                              .mode(torch::kBilinear)
                                              .align_corners(false)
                                              .antialias(down))
      .squeeze(0);
}

at::Tensor gaussian_blur(const at::Tensor& chw, double sigma) {
  const int64_t radius = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3.0 * sigma)));
  auto x = torch::arange(-radius, radius + 1, torch::kFloat);
  auto k = torch::exp(-(x * x) / (2.0 * sigma * sigma));
  k = k / k.sum();
  const auto c = chw.size(0);
  auto img = chw.unsqueeze(0);
  const auto pad_h = std::min<int64_t>(radius, chw.size(1) - 1),
             pad_w = std::min<int64_t>(radius, chw.size(2) - 1);
  img = F::pad(img, F::PadFuncOptions({pad_w, pad_w, 0, 0}).mode(torch::kReflect));
  img = F::conv2d(img, k.view({1, 1, 1, -1}).expand({c, 1, 1, k.size(0)}),
                  F::Conv2dFuncOptions().groups(c).padding(torch::IntArrayRef{0, radius - pad_w}));
  img = F::pad(img, F::PadFuncOptions({0, 0, pad_h, pad_h}).mode(torch::kReflect));
  img = F::conv2d(img, k.view({1, 1, -1, 1}).expand({c, 1, k.size(0), 1}),
                  F::Conv2dFuncOptions().groups(c).padding(torch::IntArrayRef{radius - pad_h, 0}));
  return img.squeeze(0);
}

at::Tensor grayscale(const at::Tensor& chw) {
  return (0.299 * chw[0] + 0.587 * chw[1] + 0.114 * chw[2]).unsqueeze(0);
}

}  // namespace

at::Tensor resize_square(const at::Tensor& chw, int64_t size) {
  return resize_to(chw, size, size);
}

bool jpeg_available() {
  return DFSCAN_WITH_MEDIA != 0;
}

at::Tensor jpeg_recompress(const at::Tensor& chw, int quality) {
#if DFSCAN_WITH_MEDIA
  const auto hwc = chw.mul(255.0).round().clamp(0, 255).to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  const cv::Mat rgb(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_8UC3,
                    hwc.data_ptr<uint8_t>());
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);  // OpenCV's codecs expect BGR
  std::vector<uchar> bytes;
  if (!cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 1, 100)}))
    throw Error(Status::error, "JPEG augmentation: cannot encode the image");
  const cv::Mat decoded = cv::imdecode(bytes, cv::IMREAD_COLOR);
  if (decoded.empty() || decoded.rows != rgb.rows || decoded.cols != rgb.cols)
    throw Error(Status::error, "JPEG augmentation: cannot decode the re-compressed image");
  cv::Mat back;
  cv::cvtColor(decoded, back, cv::COLOR_BGR2RGB);
  auto out = torch::empty({back.rows, back.cols, 3}, torch::kUInt8);
  for (int y = 0; y < back.rows; ++y)
    std::memcpy(out.data_ptr<uint8_t>() + static_cast<int64_t>(y) * back.cols * 3, back.ptr<uint8_t>(y),
                static_cast<size_t>(back.cols) * 3);
  return out.permute({2, 0, 1}).to(torch::kFloat).div(255.0).contiguous();
#else
  (void)chw;
  (void)quality;
  throw Error(
      Status::unsupported,
      "JPEG re-compression augmentation needs the media build (DFSCAN_WITH_MEDIA=ON, OpenCV's codec)");
#endif
}

nlohmann::json augment_to_json(const AugmentOptions& o) {
  return {{"enabled", o.enabled},
          {"flip", o.flip},
          {"crop", o.crop},
          {"crop_min_area", o.crop_min_area},
          {"jpeg", o.jpeg},
          {"jpeg_quality_min", o.jpeg_quality_min},
          {"blur", o.blur},
          {"noise", o.noise},
          {"noise_sigma", o.noise_sigma},
          {"color", o.color},
          {"downscale", o.downscale}};
}

AugmentOptions parse_augment_spec(const std::string& spec) {
  AugmentOptions out;
  if (spec.empty() || spec == "none") return out;
  const AugmentOptions defaults;
  // The probability a name alone selects: its default, and 0.5 for those off by default.
  const std::map<std::string, std::pair<double AugmentOptions::*, double>> names = {
      {"flip", {&AugmentOptions::flip, defaults.flip}},
      {"crop", {&AugmentOptions::crop, defaults.crop}},
      {"jpeg", {&AugmentOptions::jpeg, 0.5}},
      {"blur", {&AugmentOptions::blur, defaults.blur}},
      {"noise", {&AugmentOptions::noise, defaults.noise}},
      {"color", {&AugmentOptions::color, defaults.color}},
      {"downscale", {&AugmentOptions::downscale, defaults.downscale}}};
  auto known = [&] {
    std::string list = "none, default";
    for (const auto& [name, field] : names) list += ", " + name;
    return list;
  };
  // A list starts from nothing; "default" brings in the default set.
  out.enabled = true;
  for (const auto& [name, field] : names) out.*(field.first) = 0.0;
  std::stringstream items(spec);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item.empty()) continue;
    if (item == "default") {
      for (const auto& [name, field] : names) out.*(field.first) = defaults.*(field.first);
      continue;
    }
    const bool off = item[0] == '-';
    std::string name = off ? item.substr(1) : item;
    std::optional<double> p;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      try {
        size_t used = 0;
        p = std::stod(name.substr(eq + 1), &used);
        if (used != name.size() - eq - 1) throw std::invalid_argument("trailing text");
      } catch (const std::exception&) {
        throw Error(Status::error, "--augment: '" + item + "' needs a probability, as in jpeg=0.3");
      }
      if (!(*p >= 0.0 && *p <= 1.0))
        throw Error(Status::error, "--augment: '" + item + "': probability not in [0, 1]");
      name = name.substr(0, eq);
    }
    const auto it = names.find(name);
    if (it == names.end() || (off && p))
      throw Error(Status::error, "--augment: unknown item '" + item + "' (" + known() +
                                     "; NAME=P sets a probability, -NAME drops it)");
    out.*(it->second.first) = off ? 0.0 : p.value_or(it->second.second);
  }
  return out;
}

at::Tensor augment(const at::Tensor& rgb_hwc, const AugmentOptions& o, uint64_t seed) {
  auto img = rgb_hwc.permute({2, 0, 1}).to(torch::kFloat).div(255.0);
  if (!o.enabled) return img.contiguous();
  if (o.jpeg > 0.0 && !jpeg_available()) jpeg_recompress(img, 0);  // throws its clear message
  Draw draw(seed);
  const int64_t h = img.size(1), w = img.size(2);

  // Every probability is drawn, used or not, so that one option never shifts another's randomness.
  const bool do_crop = draw.chance(o.crop);
  const double area = draw.uniform(std::clamp(o.crop_min_area, 0.05, 1.0), 1.0);
  const double log_aspect = draw.uniform(std::log(3.0 / 4.0), std::log(4.0 / 3.0));
  const double cy = draw.uniform(), cx = draw.uniform();
  if (do_crop) {
    const double aspect = std::exp(log_aspect);
    const int64_t ch = std::clamp<int64_t>(std::llround(std::sqrt(area / aspect) * h), 1, h);
    const int64_t cw = std::clamp<int64_t>(std::llround(std::sqrt(area * aspect) * w), 1, w);
    const auto y0 = static_cast<int64_t>(cy * static_cast<double>(h - ch));
    const auto x0 = static_cast<int64_t>(cx * static_cast<double>(w - cw));
    img = resize_to(img.slice(1, y0, y0 + ch).slice(2, x0, x0 + cw), h, w);
  }
  if (draw.chance(o.flip)) img = img.flip({2});

  const bool do_down = draw.chance(o.downscale);
  const double factor = draw.uniform(0.25, 0.9);
  if (do_down) {
    const auto dh = std::max<int64_t>(1, std::llround(factor * h)),
               dw = std::max<int64_t>(1, std::llround(factor * w));
    img = resize_to(resize_to(img, dh, dw), h, w);
  }

  const bool do_blur = draw.chance(o.blur);
  const double sigma = draw.uniform(0.1, 2.0);
  if (do_blur) img = gaussian_blur(img, sigma);

  const bool do_color = draw.chance(o.color);
  const double brightness = draw.uniform(0.8, 1.2), contrast = draw.uniform(0.8, 1.2),
               saturation = draw.uniform(0.8, 1.2);
  if (do_color) {
    img = (img * brightness).clamp(0.0, 1.0);
    img = (contrast * img + (1.0 - contrast) * grayscale(img).mean()).clamp(0.0, 1.0);
    img = (saturation * img + (1.0 - saturation) * grayscale(img)).clamp(0.0, 1.0);
  }

  const bool do_noise = draw.chance(o.noise);
  const double noise_sigma = draw.uniform(0.0, o.noise_sigma / 255.0);
  if (do_noise)
    img = (img + noise_sigma * torch::randn(img.sizes(), draw.gen(), torch::kFloat)).clamp(0.0, 1.0);

  // JPEG last, like a photo saved after editing; its draws come after every older one, so runs
  // without it keep the random streams they had before it existed.
  const bool do_jpeg = draw.chance(o.jpeg);
  const int quality_min = std::clamp(o.jpeg_quality_min, 1, 95);
  const int quality = std::min(95, quality_min + static_cast<int>(draw.uniform() * (96 - quality_min)));
  if (do_jpeg) img = jpeg_recompress(img, quality);
  return img.contiguous();
}

}  // namespace dfscan::train
