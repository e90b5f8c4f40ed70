// Models, continual strategies and the task-sequence driver, on small synthetic data.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "dfscan/audio/continual.hpp"
#include "dfscan/audio/models.hpp"
#include "dfscan/checkpoint.hpp"
#include "dfscan/status.hpp"

namespace fs = std::filesystem;
using namespace dfscan::audio;

namespace {

const fs::path kReference = fs::path(DFSCAN_SOURCE_DIR) / "tests" / "data" / "audio" / "rwm-reference.pth";

// Features [N, F, T] whose per-feature means carry the class: fakes of task k are shifted on feature k.
LabeledSet toy_set(int task, int n_per_class, int features, int frames, uint64_t seed) {
  torch::manual_seed(seed);
  auto real = torch::randn({n_per_class, features, frames});
  auto fake = torch::randn({n_per_class, features, frames});
  fake.select(1, task) += 1.5;
  auto labels =
      torch::cat({torch::zeros({n_per_class}, torch::kLong), torch::ones({n_per_class}, torch::kLong)});
  return {torch::cat({real, fake}), labels};
}

std::vector<ContinualTask> toy_tasks(int count) {
  std::vector<ContinualTask> tasks;
  for (int t = 0; t < count; ++t)
    tasks.push_back(
        {"attack" + std::to_string(t), toy_set(t, 40, 4, 20, 100 + t), toy_set(t, 30, 4, 20, 200 + t)});
  return tasks;
}

}  // namespace

TEST(AudioModels, ForwardShapesAndRecordedHeadInputs) {
  torch::manual_seed(0);
  for (std::string arch : {"lcnn", "resnet", "stats-mlp"}) {
    SCOPED_TRACE(arch);
    ModelConfig c;
    c.arch = arch;
    c.feature_dim = 60;
    c.head_hidden = {32};
    c.resnet_channels = 4;
    auto m = make_model(c);
    m->eval();
    auto logits = m->forward(torch::randn({3, 60, 48}));
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{3, 2}));
    ASSERT_EQ(m->head()->last_inputs().size(), 2u);
    EXPECT_EQ(m->head()->last_inputs()[0].size(1), m->embedding_dim());
    EXPECT_EQ(m->head()->last_inputs()[1].size(1), 32);
    auto p = fake_probability(logits);
    EXPECT_TRUE(((p >= 0) & (p <= 1)).all().item<bool>());
  }
  ModelConfig bad;
  bad.arch = "aasist-xl";
  EXPECT_THROW(make_model(bad), dfscan::Error);
  bad.arch = "lcnn";
  bad.feature_dim = 8;  // pooled away to nothing
  EXPECT_THROW(make_model(bad), dfscan::Error);
}

TEST(AudioModels, FrozenBackboneKeepsOnlyTheHeadTrainable) {
  ModelConfig c;
  c.feature_dim = 20;
  auto m = make_model(c);
  m->set_backbone_trainable(false);
  for (auto& item : m->named_parameters(true))
    EXPECT_EQ(item.value().requires_grad(), item.key().rfind("head.", 0) == 0) << item.key();
  m->train();
  // The frozen batch norms stay in eval mode, so their statistics no longer move.
  auto before = m->named_buffers(true)["bn1.running_mean"].clone();
  m->forward(torch::randn({4, 20, 32}));
  EXPECT_TRUE(torch::equal(before, m->named_buffers(true)["bn1.running_mean"]));
  auto copy = clone_model(*m);
  EXPECT_FALSE(copy->backbone_trainable());
  m->eval();
  copy->eval();
  auto x = torch::randn({2, 20, 32});
  EXPECT_TRUE(torch::allclose(m->forward(x), copy->forward(x)));
}

TEST(AudioContinual, BetaFormulas) {
  auto y = torch::tensor({0, 1, 1, 1}, torch::kLong);
  EXPECT_DOUBLE_EQ(rawm_beta(y), 2.0 / 4.0);
  EXPECT_DOUBLE_EQ(rawm_beta(torch::ones({3}, torch::kLong)), 0.25);  // single-class batches are fine
  // Equal true-class logits in a balanced batch: the real and fake angles cancel, beta = tan(pi/4) = 1.
  auto z = torch::zeros({4, 2});
  EXPECT_NEAR(rwm_beta(z, torch::tensor({0, 1, 0, 1}, torch::kLong)), 1.0, 1e-6);
  // A batch of one fake: theta = pi/2, beta = tan(0) = 0.
  EXPECT_NEAR(rwm_beta(torch::zeros({1, 2}), torch::ones({1}, torch::kLong)), 0.0, 1e-6);
}

// The published update, step for step, against scripts/rwm-reference.py.
TEST(AudioContinual, ReferenceCompatMatchesPythonReference) {
  if (!fs::exists(kReference)) GTEST_SKIP() << "missing " << kReference;
  auto ref = dfscan::io::read_pth(kReference);
  for (std::string mode : {"owm", "rawm", "rwm"}) {
    SCOPED_TRACE(mode);
    ReferenceProjector projector(6, 1.0, torch::kFloat);
    for (int t = 0; t < 3; ++t) {
      SCOPED_TRACE(t);
      const auto s = std::to_string(t);
      auto x = ref.at("x" + s), z = ref.at("z" + s), y = ref.at("y" + s), g = ref.at("g" + s);
      const double beta = mode == "owm" ? 0.0 : mode == "rawm" ? rawm_beta(y) : rwm_beta(z, y);
      EXPECT_NEAR(beta, ref.at(mode + "_beta" + s).item<double>(), 1e-5);
      auto out = projector.step(g, x, beta, mode != "owm");
      EXPECT_TRUE(torch::allclose(projector.p(), ref.at(mode + "_p" + s), 1e-4, 1e-6));
      const auto& want = ref.at(mode + "_out" + s);
      const double q_ref = ref.at(mode + "_qnorm" + s).item<double>();
      if (mode == "owm" || std::abs(projector.last_q_raw_norm() - q_ref) <= 1e-3 * q_ref) {
        // Same round-off as the reference library: the whole gradient agrees.
        EXPECT_TRUE(torch::allclose(out, want, 1e-3, 1e-5)) << out << "\nvs\n" << want;
      } else {
        // Q is scaled round-off noise; only the P part is reproducible, Q adds at most beta * ||g||.
        auto p_part = torch::mm(g, projector.p().t());
        EXPECT_LE((want - p_part).norm().item<double>(), beta * g.norm().item<double>() * 1.001);
        EXPECT_LE((out - p_part).norm().item<double>(), beta * g.norm().item<double>() * 1.001);
      }
    }
    if (mode != "owm") {
      EXPECT_LT(projector.last_q_raw_norm(), 0.1);  // the pitfall: Q is (nearly) zero
    }
  }
}

// Intended OWM semantics: after a task, head updates leave that task's (head-input) subspace alone.
TEST(AudioContinual, OwmProjectionProtectsThePreviousInputSubspace) {
  torch::manual_seed(1);
  ModelConfig c;
  c.arch = "stats-mlp";
  c.feature_dim = 8;
  StrategyConfig sc;
  sc.name = "owm";
  sc.rls_alpha = 1e-3;
  sc.batch_size = 1;  // per-sample RLS: P removes the whole span of the old inputs
  // Task 0 inputs: only features 0 and 1 vary, so embeddings live in a low-dimensional subspace.
  LabeledSet old_set{torch::zeros({16, 8, 10}),
                     torch::cat({torch::zeros({8}), torch::ones({8})}).to(torch::kLong)};
  old_set.inputs.slice(1, 0, 2).normal_();
  TrainConfig tc;
  tc.epochs = 1;
  tc.batch_size = 16;
  tc.lr = 0.05;
  auto drift = [&](const std::string& name) {
    sc.name = name;
    torch::manual_seed(2);
    auto model = make_model(c);
    model->set_backbone_trainable(false);  // the embedding's batch norm keeps its statistics
    auto strategy = make_strategy(sc);
    strategy->end_task(*model, 0, old_set, torch::kCPU);
    model->eval();
    auto before = model->forward(old_set.inputs).detach();
    auto new_set = toy_set(5, 8, 8, 10, 3);
    new_set.inputs *= 3.0;
    tc.epochs = 5;
    train_task(*model, *strategy, 1, new_set, tc);
    model->eval();
    return (model->forward(old_set.inputs) - before).abs().max().item<double>();
  };
  const double owm = drift("owm"), finetune = drift("finetune");
  EXPECT_LT(owm, 0.1 * finetune) << "owm " << owm << " finetune " << finetune;
}

TEST(AudioContinual, ReplayBufferIsBoundedAndMixedIntoBatches) {
  StrategyConfig sc;
  sc.name = "replay";
  sc.replay_capacity = 10;
  sc.replay_batch = 4;
  auto replay = make_strategy(sc);
  ModelConfig c;
  c.arch = "stats-mlp";
  c.feature_dim = 4;
  auto model = make_model(c);
  auto set = toy_set(0, 20, 4, 5, 1);
  StepBatch batch{set.inputs.slice(0, 0, 3), set.labels.slice(0, 0, 3)};
  EXPECT_EQ(replay->prepare_batch(*model, 0, batch).inputs.size(0), 3);  // empty buffer
  replay->end_task(*model, 0, set, torch::kCPU);
  auto mixed = replay->prepare_batch(*model, 1, batch);
  EXPECT_EQ(mixed.inputs.size(0), 7);
  EXPECT_EQ(mixed.labels.size(0), 7);
}

TEST(AudioContinual, EwcAndLwfPenalties) {
  ModelConfig c;
  c.arch = "stats-mlp";
  c.feature_dim = 4;
  auto set = toy_set(0, 10, 4, 5, 1);
  StepBatch batch{set.inputs, set.labels};
  for (std::string name : {"ewc", "lwf"}) {
    SCOPED_TRACE(name);
    torch::manual_seed(0);
    auto model = make_model(c);
    model->eval();  // teacher and student see the same batch-norm statistics
    StrategyConfig sc;
    sc.name = name;
    auto s = make_strategy(sc);
    EXPECT_FALSE(s->penalty(*model, 0, batch, model->forward(batch.inputs)).defined());
    s->end_task(*model, 0, set, torch::kCPU);
    auto same = s->penalty(*model, 1, batch, model->forward(batch.inputs));
    ASSERT_TRUE(same.defined());
    EXPECT_NEAR(same.item<double>(), 0.0, 1e-6);  // unchanged model: nothing to pay
    {
      torch::NoGradGuard g;
      for (auto& p : model->parameters())
        if (p.defined()) p.add_(torch::randn_like(p) * 0.5);
    }
    EXPECT_GT(s->penalty(*model, 1, batch, model->forward(batch.inputs)).item<double>(), 1e-4);
  }
}

TEST(AudioContinual, DriverReportsTheEerMatrixAverageAndForgetting) {
  auto tasks = toy_tasks(3);
  ModelConfig c;
  c.arch = "stats-mlp";
  c.feature_dim = 4;
  c.head_hidden = {16};
  TrainConfig tc;
  tc.epochs = 30;
  tc.lr = 1e-2;
  for (std::string name : {"finetune", "rwm"}) {
    SCOPED_TRACE(name);
    torch::manual_seed(0);
    auto model = make_model(c);
    StrategyConfig sc;
    sc.name = name;
    auto strategy = make_strategy(sc);
    auto r = run_continual(*model, *strategy, tasks, tc);
    ASSERT_EQ(r.eer.size(), 3u);
    for (size_t t = 0; t < 3; ++t) EXPECT_LT(r.eer[t][t], 0.2) << "task " << t << " not learnt";
    double avg = (r.eer[0][2] + r.eer[1][2] + r.eer[2][2]) / 3.0;
    EXPECT_NEAR(r.average_eer, avg, 1e-12);
    EXPECT_NEAR(r.forgetting, ((r.eer[0][2] - r.eer[0][0]) + (r.eer[1][2] - r.eer[1][1])) / 2.0, 1e-12);
    auto j = nlohmann::json::parse(to_json(r));
    EXPECT_EQ(j["strategy"], name);
    EXPECT_EQ(j["eer"].size(), 3u);
    EXPECT_NE(format_table(r).find("attack2"), std::string::npos);
  }
  StrategyConfig bad;
  bad.name = "gem";
  EXPECT_THROW(make_strategy(bad), dfscan::Error);
}
