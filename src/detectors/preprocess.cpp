#include "detectors/preprocess.hpp"

#include <torch/nn/functional/vision.h>

#include "dfscan/status.hpp"

namespace dfscan::detectors {
namespace F = torch::nn::functional;

namespace {
at::Tensor resize_square(const at::Tensor& chw, int64_t size) {
  return F::interpolate(chw.unsqueeze(0), F::InterpolateFuncOptions()
                                              .size(std::vector<int64_t>{size, size})
                                              .mode(torch::kBilinear)
                                              .align_corners(false)
                                              .antialias(true))
      .squeeze(0);
}
}  // namespace

at::Tensor prepare_image(const at::Tensor& rgb_hwc, const nlohmann::json& input) {
  if (rgb_hwc.dim() != 3 || rgb_hwc.size(2) != 3 || rgb_hwc.scalar_type() != at::kByte)
    throw Error(Status::error, "expected an RGB uint8 image [H,W,3]");
  if (rgb_hwc.size(0) < 2 || rgb_hwc.size(1) < 2) throw Error(Status::error, "image too small to score");
  auto x = rgb_hwc.permute({2, 0, 1}).to(at::kFloat).div_(255.0);
  const std::string mode = input.value("resize", "native");
  const int64_t size = input.value("size", 0);
  if (mode == "resize") {
    x = resize_square(x, size);
  } else if (mode == "center_crop") {
    if (x.size(1) < size || x.size(2) < size) {
      // Upscale the short side to the crop size, keeping the aspect ratio.
      const double s = static_cast<double>(size) / std::min(x.size(1), x.size(2));
      const auto h = std::max<int64_t>(size, std::llround(x.size(1) * s));
      const auto w = std::max<int64_t>(size, std::llround(x.size(2) * s));
      x = F::interpolate(x.unsqueeze(0), F::InterpolateFuncOptions()
                                             .size(std::vector<int64_t>{h, w})
                                             .mode(torch::kBilinear)
                                             .align_corners(false)
                                             .antialias(true))
              .squeeze(0);
    }
    const auto top = (x.size(1) - size) / 2, left = (x.size(2) - size) / 2;
    x = x.narrow(1, top, size).narrow(2, left, size);
  } else if (mode != "native") {
    throw Error(Status::error, "unknown resize mode '" + mode + "' in model manifest");
  }
  if (input.value("even_crop", false))
    x = x.narrow(1, 0, x.size(1) & ~int64_t{1}).narrow(2, 0, x.size(2) & ~int64_t{1});
  const auto mean = input.at("mean").get<std::vector<float>>();
  const auto std = input.at("std").get<std::vector<float>>();
  auto m = torch::tensor(mean).view({3, 1, 1});
  auto s = torch::tensor(std).view({3, 1, 1});
  return ((x - m) / s).contiguous();
}

}  // namespace dfscan::detectors
