#include "train/augment.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "dfscan/status.hpp"

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

at::Tensor augment(const at::Tensor& rgb_hwc, const AugmentOptions& o, uint64_t seed) {
  auto img = rgb_hwc.permute({2, 0, 1}).to(torch::kFloat).div(255.0);
  if (!o.enabled) return img.contiguous();
  if (o.jpeg > 0.0)
    throw Error(Status::unsupported, "JPEG re-compression augmentation is not available in this build yet");
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
  return img.contiguous();
}

}  // namespace dfscan::train
