// Issue 6 "Reproduction": dfscan's trainer against scripts/train-reference.py (PyTorch 1.13).
// Setup: GenConViT-ED with a ConvNeXt-atto backbone and swin_micro embedder, initial weights from the
// shared parity .pth, the train split of dfdc-faces-sample, no augmentation, SGD, the sampler's
// seeded batch order. The reference's per-step losses are committed in data/; each step must agree
// within 1e-3.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dfscan/checkpoint.hpp"
#include "dfscan/config.hpp"
#include "dfscan/nn/genconvit.hpp"
#include "dfscan/nn/infer_config.hpp"
#include "dfscan/train.hpp"
#include "train_test_util.hpp"

using namespace dfscan;
namespace fs = std::filesystem;
using nlohmann::json;

TEST(TrainReproduction, GenConViTEdAttoSgdMatchesReferenceLoop) {
  const fs::path shared(DFSCAN_SHARED_DIR);
  const auto weights = shared / "parity/genconvit_ed_atto/weights.pth";
  const auto root = shared / "data/dfdc-faces-sample";
  if (!fs::exists(weights) || !fs::is_directory(root)) GTEST_SKIP() << "no shared fixtures at " << shared;
#if !DFSCAN_WITH_MEDIA
  GTEST_SKIP() << "decoding the JPEG faces needs the media build";
#endif
  json fixture;
  std::ifstream(fs::path(DFSCAN_TEST_DATA_DIR) / "genconvit_ed_atto_sgd.json") >> fixture;
  const auto& setup = fixture["setup"];

  const auto state = io::read_pth(weights);
  nn::ShapeMap shapes;
  for (const auto& [key, tensor] : state) shapes[key] = tensor.sizes().vec();
  nn::GenConViTED net(nn::infer_genconvit_config(shapes, nn::GenConViTArch::ed));
  io::load_into(*net, state, /*strict=*/true);

  train::TrainableModel model;
  model.net = net.ptr();
  model.forward = [net](const at::Tensor& x) mutable { return net->forward(x); };
  model.score = {"softmax", 0};
  model.input.size = 224;

  // The train split alone: the reference validates nothing.
  const auto full = data::read_folder_dataset(root);
  const data::Dataset train_only(full.source(), full.split(data::Split::train));

  // The batch order the reference used is the sampler's.
  const auto steps = setup["steps"].get<int64_t>();
  const auto batch = setup["batch"].get<int64_t>();
  std::vector<int> labels;
  for (const auto& s : train_only) labels.push_back(s.label);
  const auto split_dir = root / "train";
  int64_t step = 0;
  for (int64_t epoch = 0; step < steps; ++epoch) {
    const auto order = train::epoch_order(labels, setup["seed"].get<uint64_t>(), epoch, "none");
    for (size_t b = 0; b + static_cast<size_t>(batch) <= order.size() && step < steps; b += batch, ++step)
      for (int64_t k = 0; k < batch; ++k)
        ASSERT_EQ(fs::relative(train_only.samples()[static_cast<size_t>(order[b + k])].path, split_dir)
                      .generic_string(),
                  fixture["order"][step][k].get<std::string>())
            << "step " << step;
  }

  test::ScopedDir dir("repro");
  train::TrainOptions o;
  o.epochs = 100;
  o.max_steps = steps;
  o.batch_size = batch;
  o.optimizer = "sgd";
  o.lr = setup["lr"].get<double>();
  o.momentum = setup["momentum"].get<double>();
  o.weight_decay = setup["weight_decay"].get<double>();
  o.seed = setup["seed"].get<uint64_t>();
  o.select = "loss";
  o.log_path = dir.path / "log.jsonl";
  o.progress = false;
  const auto result = train::train(model, train_only, o);
  EXPECT_EQ(result.steps, steps);

  std::vector<double> losses;
  std::ifstream log(o.log_path);
  for (std::string line; std::getline(log, line);) {
    const auto j = json::parse(line);
    if (j["type"] == "step") losses.push_back(j["loss"].get<double>());
  }
  ASSERT_EQ(losses.size(), static_cast<size_t>(steps));
  double worst = 0.0;
  for (int64_t i = 0; i < steps; ++i) {
    const double ref = fixture["losses"][i].get<double>();
    const double diff = std::abs(losses[i] - ref);
    worst = std::max(worst, diff);
    std::printf("step %2lld  dfscan %.6f  reference %.6f  |diff| %.2e\n", static_cast<long long>(i),
                losses[i], ref, diff);
    EXPECT_LE(diff, 1e-3) << "step " << i;
  }
  std::printf("max |diff| over %lld steps: %.2e\n", static_cast<long long>(steps), worst);
}
