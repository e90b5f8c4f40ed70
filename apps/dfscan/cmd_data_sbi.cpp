// `dfscan data sbi --preview N -o grid.png --data SPEC`: a grid of real faces
// next to their self-blended fakes (and masks), the samples `dfscan train
// --data sbi:SPEC` learns from. Media builds only: blending and the grid need OpenCV.
#include "dfscan/config.hpp"
#include "dfscan/json_text.hpp"
#if DFSCAN_WITH_MEDIA

#include <ATen/ATen.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "data_command.hpp"
#include "dfscan/atomic_file.hpp"
#include "dfscan/dataset.hpp"
#include "dfscan/sbi.hpp"
#include "dfscan/status.hpp"
#include "dfscan/train.hpp"
#include "exit_codes.hpp"

namespace dfscan::cli {
namespace {

struct SbiArgs {
  int preview = 0;
  std::string output;
  std::string data;
  uint64_t seed = 0;
  int size = 160;
  int columns = 2;
  float face_margin = 0.0f;
  bool hull = false;
  bool masks = false;
};

cv::Mat cell(const at::Tensor& hwc, int size) {
  auto t = hwc.contiguous();
  const int channels = t.dim() == 3 ? static_cast<int>(t.size(2)) : 1;
  cv::Mat view(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), channels == 3 ? CV_8UC3 : CV_8UC1,
               t.data_ptr<uint8_t>());
  cv::Mat rgb, out;
  if (channels == 1) {
    cv::cvtColor(view, rgb, cv::COLOR_GRAY2RGB);
  } else {
    rgb = view;
  }
  const bool shrink = rgb.cols > size || rgb.rows > size;
  cv::resize(rgb, out, cv::Size(size, size), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

void caption(cv::Mat& tile, const std::string& text) {
  const double scale = std::max(0.35, tile.cols / 400.0);
  cv::putText(tile, text, cv::Point(4, tile.rows - 6), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0),
              3, cv::LINE_AA);
  cv::putText(tile, text, cv::Point(4, tile.rows - 6), cv::FONT_HERSHEY_SIMPLEX, scale,
              cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
}

int run_sbi(const SbiArgs& a) {
  if (a.preview < 1 || a.output.empty() || a.data.empty()) {
    std::cerr << "dfscan data sbi: --preview N, -o FILE and --data DIR_OR_CSV "
                 "are required\n";
    return kExitUsage;
  }
  std::string ext = std::filesystem::path(a.output).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext != ".png" && ext != ".jpg" && ext != ".jpeg") {
    std::cerr << "dfscan data sbi: -o must end in .png, .jpg or .jpeg\n";
    return kExitUsage;
  }
  // The same real images `dfscan train --data sbi:SPEC` would blend; each once.
  const auto dataset = data::open_self_blend_dataset((a.hull ? "sbi-hull:" : "sbi:") + a.data);
  std::vector<data::Sample> reals;
  for (const auto& s : dataset)
    if (data::is_self_blend(s)) reals.push_back(s);

  std::unique_ptr<data::LandmarkFinder> finder;
  if (!a.hull) {
    const auto model = data::landmark_model_path();
    if (model.empty()) {
      std::cerr << "dfscan data sbi: no landmark model (install libdlib-data "
                   "or set DFSCAN_LANDMARK_MODEL); "
                   "using face-box masks\n";
    } else {
      finder = std::make_unique<data::LandmarkFinder>(model);
    }
  }
  data::SelfBlendOptions options;
  options.face_margin = a.face_margin;
  data::SampleReader reader;
  const int panels = a.masks ? 3 : 2, gap = 4;
  const int columns = std::max(1, std::min(a.columns, a.preview));
  const int rows = (a.preview + columns - 1) / columns;
  const int pair_width = panels * a.size + (panels - 1) * gap;
  cv::Mat grid(rows * a.size + (rows + 1) * gap, columns * pair_width + (columns + 1) * 3 * gap, CV_8UC3,
               cv::Scalar(255, 255, 255));
  int landmark_masks = 0;
  for (int k = 0; k < a.preview; ++k) {
    const auto& sample = reals[static_cast<size_t>(k) % reals.size()];
    const auto real = reader.read(sample);
    const auto points = finder ? finder->find(real, a.face_margin) : data::Landmarks{};
    const auto blend = data::self_blend(real, points, train::sample_seed(a.seed, 0, k), options);
    landmark_masks += blend.landmark_mask ? 1 : 0;
    std::vector<cv::Mat> tiles{cell(real, a.size), cell(blend.image, a.size)};
    caption(tiles[0], "real");
    caption(tiles[1], "self-blend");
    if (a.masks) tiles.push_back(cell(blend.mask.mul(255).round().to(at::kByte), a.size));
    const int x0 = 3 * gap + (k % columns) * (pair_width + 3 * gap),
              y0 = gap + (k / columns) * (a.size + gap);
    for (int p = 0; p < panels; ++p)
      tiles[static_cast<size_t>(p)].copyTo(grid(cv::Rect(x0 + p * (a.size + gap), y0, a.size, a.size)));
  }
  cv::Mat bgr;
  cv::cvtColor(grid, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> bytes;
  if (!cv::imencode(ext, bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, 85}))
    throw Error(Status::error, "cannot encode " + a.output);
  write_file_atomic(a.output, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  nlohmann::json summary = {{"output", a.output},
                            {"pairs", a.preview},
                            {"images", reals.size()},
                            {"landmark_masks", landmark_masks},
                            {"box_masks", a.preview - landmark_masks},
                            {"seed", a.seed},
                            {"data", dataset.source()}};
  if (landmark_masks > 0) summary["terms"] = {data::landmark_model_notice()};
  std::cout << json_text(summary) << "\n";
  return std::cout.good() ? kExitOk : kExitFailure;
}

std::function<int()> add_sbi(CLI::App& data) {
  auto a = std::make_shared<SbiArgs>();
  auto* sub = data.add_subcommand("sbi",
                                  "Self-blended images (train with --data sbi:SPEC): preview real "
                                  "faces next to their self-blends. "
                                  "Masks use dlib's 68-point landmarks when libdlib-data is "
                                  "installed; that model is trained on "
                                  "iBUG 300-W, whose licence excludes commercial use (--hull, or "
                                  "sbi-hull:SPEC, avoids it)");
  sub->add_option("--preview", a->preview, "Number of real/self-blend pairs to render")
      ->check(CLI::Range(1, 10000));
  sub->add_option("-o,--output", a->output, "Grid image to write (.png or .jpg)");
  sub->add_option("--data", a->data,
                  "Real face crops: a folder of images, or a "
                  "{train,valid,test}/{real,fake} folder or CSV "
                  "(its real train/valid samples)");
  sub->add_option("--seed", a->seed, "Seed of the blends")->capture_default_str();
  sub->add_option("--size", a->size, "Side of each panel in pixels")
      ->check(CLI::Range(16, 1024))
      ->capture_default_str();
  sub->add_option("--columns", a->columns, "Pairs per row")->check(CLI::Range(1, 64))->capture_default_str();
  sub->add_option("--face-margin", a->face_margin,
                  "Margin of the crops around the face box (0: tight detector "
                  "boxes; 0.3: dfscan's default "
                  "crops); places box masks and unfound landmarks")
      ->check(CLI::Range(0.0, 2.0))
      ->capture_default_str();
  sub->add_flag("--hull", a->hull, "Masks from the face box only (no landmark model)");
  sub->add_flag("--masks", a->masks, "Add a third panel with each blend mask");
  return [a] { return run_sbi(*a); };
}

}  // namespace
DFSCAN_DATA_COMMAND("sbi", add_sbi);
}  // namespace dfscan::cli

#endif  // DFSCAN_WITH_MEDIA
