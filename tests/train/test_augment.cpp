// Augmentations change pixels the way they claim to, and only as the seed says.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dfscan/status.hpp"
#include "dfscan/train.hpp"
#include "train/augment.hpp"

using namespace dfscan;
using namespace dfscan::train;

namespace {

// A smooth RGB image [3,H,W] in [0,1], quantised to 8 bits: no edges of its own on the 8x8 grid.
at::Tensor smooth_image(int64_t h, int64_t w) {
  auto y = torch::linspace(0, 1, h).view({h, 1}).expand({h, w});
  auto x = torch::linspace(0, 1, w).view({1, w}).expand({h, w});
  auto r = 0.5 + 0.35 * torch::sin(6.283 * (1.3 * x + 0.7 * y));
  auto g = 0.2 + 0.6 * x;
  auto b = 0.8 - 0.6 * x * y;
  return torch::stack({r, g, b}).mul(255).round().div(255).contiguous();
}

// Mean absolute step between neighbouring pixels across 8x8 block boundaries, divided by the mean
// step inside blocks: about 1 for natural images, well above 1 for blocky JPEG.
double blockiness(const at::Tensor& chw) {
  auto ratio = [](const at::Tensor& steps) {  // steps along the last dimension
    const auto n = steps.size(-1);
    auto idx = torch::arange(n);
    auto boundary = (idx % 8) == 7;  // between pixel 8k+7 and 8k+8
    auto per = steps.mean(std::vector<int64_t>{0, 1});
    return per.masked_select(boundary).mean().item<double>() /
           per.masked_select(boundary.logical_not()).mean().item<double>();
  };
  const auto horizontal = (chw.slice(2, 1) - chw.slice(2, 0, -1)).abs();
  const auto vertical = (chw.slice(1, 1) - chw.slice(1, 0, -1)).abs().transpose(1, 2);
  return 0.5 * (ratio(horizontal) + ratio(vertical));
}

AugmentOptions only_jpeg(double p, int quality_min) {
  AugmentOptions o;
  o.enabled = true;
  o.flip = o.crop = o.blur = o.noise = o.color = o.downscale = 0.0;
  o.jpeg = p;
  o.jpeg_quality_min = quality_min;
  return o;
}

at::Tensor to_hwc_u8(const at::Tensor& chw) {
  return chw.mul(255).round().clamp(0, 255).to(torch::kUInt8).permute({1, 2, 0}).contiguous();
}

}  // namespace

TEST(TrainAugmentJpeg, Quality10MakesBlockArtefacts) {
  if (!jpeg_available()) {
    EXPECT_THROW(jpeg_recompress(smooth_image(64, 64), 10), Error);
    GTEST_SKIP() << "no JPEG codec in this build (DFSCAN_WITH_MEDIA=OFF): the augmentation refuses";
  }
  const auto img = smooth_image(64, 96);
  const auto q10 = jpeg_recompress(img, 10), q95 = jpeg_recompress(img, 95);
  ASSERT_EQ(q10.sizes(), img.sizes());
  EXPECT_EQ(q10.scalar_type(), torch::kFloat);
  const double err10 = (q10 - img).abs().mean().item<double>(),
               err95 = (q95 - img).abs().mean().item<double>();
  EXPECT_GT(err10, 0.005) << "quality 10 must visibly change the image";
  EXPECT_LT(err95, err10 / 2) << "quality 95 must stay much closer to the input than quality 10";
  EXPECT_GT(err95, 0.0) << "even quality 95 is lossy";
  const double b_in = blockiness(img), b10 = blockiness(q10), b95 = blockiness(q95);
  EXPECT_LT(b_in, 1.3) << "the test image must have no grid of its own";
  EXPECT_GT(b10, 2.0) << "quality 10 leaves 8x8 block edges (input " << b_in << ")";
  EXPECT_GT(b10, b95);
  // The codec is deterministic, and values stay in [0, 1].
  EXPECT_TRUE(torch::equal(q10, jpeg_recompress(img, 10)));
  EXPECT_GE(q10.min().item<float>(), 0.0f);
  EXPECT_LE(q10.max().item<float>(), 1.0f);
}

TEST(TrainAugmentJpeg, SeededAndAppliedWithItsProbability) {
  const auto img = to_hwc_u8(smooth_image(40, 48));
  const auto plain = img.permute({2, 0, 1}).to(torch::kFloat).div(255.0);
  if (!jpeg_available()) {
    EXPECT_THROW(augment(img, only_jpeg(1.0, 30), 1), Error);
    GTEST_SKIP() << "no JPEG codec in this build";
  }
  // p = 0: untouched; p = 1: always re-compressed, identically for one seed.
  EXPECT_TRUE(torch::equal(augment(img, only_jpeg(0.0, 30), 5), plain));
  const auto a = augment(img, only_jpeg(1.0, 10), 5);
  EXPECT_FALSE(torch::equal(a, plain));
  EXPECT_TRUE(torch::equal(a, augment(img, only_jpeg(1.0, 10), 5)));
  // The drawn quality is one of [min, 95]: some seed must give another quality, hence other pixels.
  bool differs = false;
  for (uint64_t seed = 6; seed < 16 && !differs; ++seed)
    differs = !torch::equal(a, augment(img, only_jpeg(1.0, 10), seed));
  EXPECT_TRUE(differs);
  // jpeg_quality_min = 95 pins the quality to 95.
  EXPECT_TRUE(torch::equal(augment(img, only_jpeg(1.0, 95), 9), jpeg_recompress(plain, 95)));
}

TEST(TrainAugmentJpeg, ComesLastAndLeavesTheOtherDrawsAlone) {
  if (!jpeg_available()) GTEST_SKIP() << "no JPEG codec in this build";
  const auto img = torch::randint(0, 256, {32, 40, 3}, torch::kUInt8);
  AugmentOptions all;
  all.enabled = true;
  all.flip = all.crop = all.blur = all.noise = all.color = all.downscale = 1.0;
  auto with_jpeg = all;
  with_jpeg.jpeg = 1.0;
  with_jpeg.jpeg_quality_min = 95;
  for (uint64_t seed : {1u, 2u, 3u})
    EXPECT_TRUE(torch::equal(augment(img, with_jpeg, seed), jpeg_recompress(augment(img, all, seed), 95)))
        << "seed " << seed;
}

TEST(TrainAugment, EachListedAugmentationChangesPixels) {
  const auto img = to_hwc_u8(smooth_image(48, 48));
  const auto plain = img.permute({2, 0, 1}).to(torch::kFloat).div(255.0);
  AugmentOptions none = only_jpeg(0.0, 30);
  std::vector<std::pair<std::string, double AugmentOptions::*>> each = {
      {"flip", &AugmentOptions::flip},   {"crop", &AugmentOptions::crop},
      {"blur", &AugmentOptions::blur},   {"noise", &AugmentOptions::noise},
      {"color", &AugmentOptions::color}, {"downscale", &AugmentOptions::downscale}};
  if (jpeg_available()) each.emplace_back("jpeg", &AugmentOptions::jpeg);
  for (const auto& [name, field] : each) {
    auto o = none;
    o.*field = 1.0;
    const auto out = augment(img, o, 3);
    EXPECT_EQ(out.sizes(), plain.sizes()) << name;
    EXPECT_FALSE(torch::equal(out, plain)) << name << " left the image unchanged";
    EXPECT_TRUE(torch::equal(out, augment(img, o, 3))) << name << " is not seeded";
  }
  // A flip is exactly a mirror image.
  auto flip = none;
  flip.flip = 1.0;
  EXPECT_TRUE(torch::equal(augment(img, flip, 3), plain.flip({2})));
}

TEST(TrainAugmentSpec, ParsesNamesProbabilitiesAndDefault) {
  const AugmentOptions defaults;
  EXPECT_FALSE(parse_augment_spec("none").enabled);
  EXPECT_FALSE(parse_augment_spec("").enabled);
  const auto d = parse_augment_spec("default");
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.flip, defaults.flip);
  EXPECT_EQ(d.noise, defaults.noise);
  EXPECT_EQ(d.jpeg, 0.0) << "the default set leaves JPEG off (media-free builds cannot run it)";
  const auto dj = parse_augment_spec("default,jpeg");
  EXPECT_EQ(dj.jpeg, 0.5);
  EXPECT_EQ(dj.blur, defaults.blur);
  const auto list = parse_augment_spec("flip,jpeg=0.3,noise");
  EXPECT_TRUE(list.enabled);
  EXPECT_EQ(list.flip, defaults.flip);
  EXPECT_EQ(list.jpeg, 0.3);
  EXPECT_EQ(list.noise, defaults.noise);
  EXPECT_EQ(list.crop, 0.0);
  EXPECT_EQ(list.color, 0.0);
  const auto minus = parse_augment_spec("default,-crop,blur=1");
  EXPECT_EQ(minus.crop, 0.0);
  EXPECT_EQ(minus.blur, 1.0);
  EXPECT_EQ(minus.flip, defaults.flip);
  for (const char* bad : {"sharpen", "jpeg=2", "jpeg=x", "-jpeg=0.2", "flip=0.5x", "defaults"})
    EXPECT_THROW(parse_augment_spec(bad), Error) << bad;
}
