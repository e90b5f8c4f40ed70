// Self-blended images: the blend leaves everything outside its mask untouched and changes the inside,
// the mask is a non-empty region of the image, a seed fixes every pixel, and both mask sources (dlib
// landmarks, box ellipse) work; the `sbi:` data source doubles real samples into real + self-blend.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "dfscan/dataset.hpp"
#include "dfscan/media.hpp"
#include "dfscan/sbi.hpp"

namespace fs = std::filesystem;
using dfscan::data::Landmarks;

namespace {

// A textured RGB image (smooth gradients plus seeded noise), so any perturbation shows.
at::Tensor textured(int64_t h, int64_t w, uint64_t seed = 1) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto noise = torch::rand({h, w, 3}, gen) * 80.0;
  auto y = torch::linspace(0, 1, h).view({h, 1, 1}), x = torch::linspace(0, 1, w).view({1, w, 1});
  auto base = torch::cat(
      {60 + 100 * x.expand({h, w, 1}), 50 + 120 * y.expand({h, w, 1}), 90 + 60 * (x * y).expand({h, w, 1})},
      2);
  return (base + noise).clamp(0, 255).round().to(torch::kUInt8);
}

// 68 points on an ellipse centred at (cx, cy): stands in for a face's landmarks.
Landmarks ellipse_points(float cx, float cy, float rx, float ry) {
  Landmarks pts;
  for (int i = 0; i < 68; ++i) {
    const double a = 2 * M_PI * i / 68;
    pts.push_back({cx + rx * static_cast<float>(std::cos(a)), cy + ry * static_cast<float>(std::sin(a))});
  }
  return pts;
}

// Centre of mass (x, y) of a [H,W] mask.
std::pair<double, double> centroid(const at::Tensor& mask) {
  const auto h = mask.size(0), w = mask.size(1);
  const auto total = mask.sum().item<double>();
  const auto ys = torch::arange(h, torch::kFloat).view({h, 1}),
             xs = torch::arange(w, torch::kFloat).view({1, w});
  return {(mask * xs).sum().item<double>() / total, (mask * ys).sum().item<double>() / total};
}

void remove_tree(const fs::path& p) {  // not fs::remove_all (see CONVENTIONS: PyTorch 2.x's copy)
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(p, ec))) {
    std::vector<fs::path> children;
    for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec))
      children.push_back(it->path());
    for (const auto& c : children) remove_tree(c);
  }
  fs::remove(p, ec);
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("dfscan-sbi-" + std::to_string(::getpid()));
  TempDir() {
    remove_tree(path);
    fs::create_directories(path);
  }
  ~TempDir() { remove_tree(path); }
};

void write_png(const fs::path& p, const at::Tensor& rgb) {
  fs::create_directories(p.parent_path());
  auto t = rgb.flip({2}).contiguous();  // OpenCV writes BGR
  cv::Mat m(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC3, t.data_ptr<uint8_t>());
  ASSERT_TRUE(cv::imwrite(p.string(), m));
}

}  // namespace

TEST(SelfBlend, IdentityOutsideTheMaskAndChangedInside) {
  const auto img = textured(96, 112);
  dfscan::data::SelfBlendOptions options;
  options.face_margin = 0.3f;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    const auto b = dfscan::data::self_blend(img, {}, seed, options);
    ASSERT_EQ(b.image.sizes(), img.sizes());
    ASSERT_EQ(b.image.scalar_type(), torch::kUInt8);
    const auto outside = b.mask.eq(0);
    ASSERT_GT(outside.sum().item<int64_t>(), 0) << "seed " << seed;
    const auto same = b.image.eq(img).all(2);
    EXPECT_TRUE(same.masked_select(outside).all().item<bool>()) << "seed " << seed;
    // Inside: the blend moves each pixel by mask * (source - target), up to rounding.
    const auto expected =
        img.to(torch::kFloat) + b.mask.unsqueeze(2) * (b.source.to(torch::kFloat) - img.to(torch::kFloat));
    EXPECT_LE((b.image.to(torch::kFloat) - expected).abs().max().item<float>(), 1.0f) << "seed " << seed;
    const auto inside = b.mask.gt(0.2);
    ASSERT_GT(inside.sum().item<int64_t>(), 0) << "seed " << seed;
    const auto diff = (b.image.to(torch::kFloat) - img.to(torch::kFloat)).abs().sum(2);
    EXPECT_GT(diff.masked_select(inside).mean().item<float>(), 1.0f) << "seed " << seed;
  }
}

TEST(SelfBlend, MaskIsANonEmptyRegionInsideTheImage) {
  const auto img = textured(80, 80);
  dfscan::data::SelfBlendOptions options;
  options.face_margin = 0.6f;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    const auto b = dfscan::data::self_blend(img, {}, seed, options);
    ASSERT_EQ(b.mask.sizes(), (std::vector<int64_t>{80, 80}));
    EXPECT_GE(b.mask.min().item<float>(), 0.0f);
    EXPECT_LE(b.mask.max().item<float>(), 1.0f);
    EXPECT_GT(b.mask.sum().item<float>(), 0.02f * 80 * 80) << "seed " << seed;
    // The face sits in the middle of a crop with margin: the corners stay outside the mask.
    for (auto [y, x] : {std::pair{0, 0}, {0, 79}, {79, 0}, {79, 79}})
      EXPECT_EQ(b.mask[y][x].item<float>(), 0.0f) << "seed " << seed << " corner " << y << "," << x;
  }
  // The undeformed region of landmarks partly outside the image is clipped to it.
  const auto region = dfscan::data::face_region(50, 60, ellipse_points(55, 25, 20, 15));
  ASSERT_EQ(region.sizes(), (std::vector<int64_t>{50, 60}));
  EXPECT_GT(region.sum().item<float>(), 100.0f);
  EXPECT_EQ(region[25][59].item<float>(), 1.0f);
  EXPECT_EQ(region[25][5].item<float>(), 0.0f);
}

TEST(SelfBlend, DeterministicUnderASeed) {
  const auto img = textured(64, 64);
  const auto lm = ellipse_points(32, 34, 18, 22);
  const auto a = dfscan::data::self_blend(img, lm, 42), b = dfscan::data::self_blend(img, lm, 42);
  EXPECT_TRUE(a.image.equal(b.image));
  EXPECT_TRUE(a.mask.equal(b.mask));
  EXPECT_TRUE(a.source.equal(b.source));
  const auto c = dfscan::data::self_blend(img, lm, 43);
  EXPECT_FALSE(a.image.equal(c.image));
}

TEST(SelfBlend, LandmarkHullAndBoxFallbackBothPlaceTheMask) {
  const auto img = textured(100, 100);
  // Landmarks of a face in the upper-left quarter: the mask follows them, not the crop's centre.
  const auto lm = ellipse_points(30, 30, 14, 18);
  const auto region = dfscan::data::face_region(100, 100, lm);
  EXPECT_EQ(region[30][30].item<float>(), 1.0f);
  EXPECT_EQ(region[75][75].item<float>(), 0.0f);
  for (uint64_t seed = 0; seed < 6; ++seed) {
    const auto b = dfscan::data::self_blend(img, lm, seed);
    EXPECT_TRUE(b.landmark_mask);
    const auto [cx, cy] = centroid(b.mask);
    EXPECT_NEAR(cx, 30, 12) << "seed " << seed;
    EXPECT_NEAR(cy, 30, 12) << "seed " << seed;
    EXPECT_EQ(b.mask.slice(0, 80).slice(1, 80).max().item<float>(), 0.0f) << "seed " << seed;
  }
  // No landmarks (or fewer than 3): the ellipse in the face box, centred in the crop.
  for (uint64_t seed = 0; seed < 6; ++seed) {
    const auto b = dfscan::data::self_blend(img, Landmarks{{1.f, 1.f}}, seed);
    EXPECT_FALSE(b.landmark_mask);
    const auto [cx, cy] = centroid(b.mask);
    EXPECT_NEAR(cx, 50, 12) << "seed " << seed;
    EXPECT_NEAR(cy, 50, 12) << "seed " << seed;
  }
}

TEST(SelfBlend, RejectsNonRgbInput) {
  EXPECT_THROW(dfscan::data::self_blend(torch::zeros({8, 8}, torch::kUInt8), {}, 0), dfscan::Error);
  EXPECT_THROW(dfscan::data::self_blend(torch::zeros({8, 8, 3}, torch::kFloat), {}, 0), dfscan::Error);
}

TEST(SelfBlend, DlibLandmarksOnARealFace) {
  const auto model = dfscan::data::landmark_model_path();
  const std::string photo = "/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg";
  if (model.empty() || !fs::exists(photo))
    GTEST_SKIP() << "needs libdlib-data and facedetect's example photo";
  auto image = dfscan::media::read_image(photo);
  ASSERT_EQ(image.status, dfscan::Status::ok);
  const auto& m = image.rgb;
  const auto rgb =
      torch::from_blob(m.data, {m.rows, m.cols, 3}, {static_cast<int64_t>(m.step[0]), 3, 1}, torch::kUInt8)
          .clone();
  dfscan::data::LandmarkFinder finder(model);
  const auto pts = finder.find(rgb);
  ASSERT_EQ(pts.size(), 68u);
  // iBUG 68-point order: 36-47 eyes, 48-67 mouth, 30 nose tip, 8 chin; eyes above nose above mouth.
  double eyes = 0, mouth = 0;
  for (int i = 36; i < 48; ++i) eyes += pts[i][1] / 12.0;
  for (int i = 48; i < 68; ++i) mouth += pts[i][1] / 20.0;
  EXPECT_LT(eyes, pts[30][1]);
  EXPECT_LT(pts[30][1], mouth);
  EXPECT_LT(mouth, pts[8][1]);
  for (const auto& p : pts) {
    EXPECT_GE(p[0], 0);
    EXPECT_LT(p[0], m.cols);
  }
  const auto b = dfscan::data::self_blend(rgb, pts, 7);
  EXPECT_TRUE(b.landmark_mask);
  const auto [cx, cy] = centroid(b.mask);
  EXPECT_NEAR(cx, pts[30][0], 0.1 * m.cols);
  EXPECT_NEAR(cy, pts[30][1], 0.12 * m.rows);
}

TEST(SelfBlendData, EachRealImageBecomesARealAndASelfBlendSample) {
  TempDir dir;
  for (int i = 0; i < 10; ++i)
    write_png(dir.path / "crops" / ("face" + std::to_string(i) + ".png"), textured(40, 40, i));
  const auto ds = dfscan::data::open_dataset("sbi-hull:" + (dir.path / "crops").string());
  ASSERT_EQ(ds.size(), 20u);
  EXPECT_EQ(ds.source().rfind("sbi-hull:", 0), 0u);
  int fakes = 0, valid = 0;
  for (size_t i = 0; i < ds.size(); i += 2) {
    const auto &real = ds.samples()[i], &blend = ds.samples()[i + 1];
    EXPECT_EQ(real.path, blend.path);
    EXPECT_EQ(real.label, 0);
    EXPECT_EQ(blend.label, 1);
    EXPECT_EQ(real.split, blend.split);
    EXPECT_FALSE(dfscan::data::is_self_blend(real));
    EXPECT_TRUE(dfscan::data::is_self_blend(blend));
    fakes += blend.label;
    valid += real.split == dfscan::data::Split::valid;
  }
  EXPECT_EQ(fakes, 10);
  EXPECT_LT(valid, 10);

  dfscan::data::SampleReader reader;
  const auto img = reader.read(ds.samples()[1]);
  EXPECT_TRUE(dfscan::data::blend_sample(img, ds.samples()[0], 3).equal(img));
  const auto blended = dfscan::data::blend_sample(img, ds.samples()[1], 3);
  EXPECT_FALSE(blended.equal(img));
  EXPECT_TRUE(blended.equal(dfscan::data::blend_sample(img, ds.samples()[1], 3)));

  // A labelled folder: only real train/valid samples are used; its fakes and test split never are.
  write_png(dir.path / "set/train/real/a.png", textured(32, 32, 1));
  write_png(dir.path / "set/train/fake/b.png", textured(32, 32, 2));
  write_png(dir.path / "set/valid/real/c.png", textured(32, 32, 3));
  write_png(dir.path / "set/test/real/d.png", textured(32, 32, 4));
  const auto labelled = dfscan::data::open_dataset("sbi:" + (dir.path / "set").string());
  ASSERT_EQ(labelled.size(), 4u);
  for (const auto& s : labelled) {
    EXPECT_EQ(s.path.find("fake"), std::string::npos);
    EXPECT_NE(s.split, dfscan::data::Split::test);
  }
  EXPECT_THROW(dfscan::data::open_dataset("sbi:" + (dir.path / "set/train/fake").string() + "/none"),
               dfscan::Error);
}
