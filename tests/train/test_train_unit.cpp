// Trainer building blocks and in-process resume.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "dfscan/status.hpp"
#include "train/augment.hpp"
#include "train/optim.hpp"
#include "train_test_util.hpp"

using namespace dfscan;
using namespace dfscan::train;
namespace fs = std::filesystem;

TEST(TrainSampler, EpochOrderIsASeededPermutation) {
  std::vector<int> labels(50, 0);
  const auto a = epoch_order(labels, 7, 0, "none");
  EXPECT_EQ(a, epoch_order(labels, 7, 0, "none"));
  EXPECT_NE(a, epoch_order(labels, 7, 1, "none"));
  EXPECT_NE(a, epoch_order(labels, 8, 0, "none"));
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 50u);
  // The same stream as torch.randperm(n, generator=torch.Generator().manual_seed(epoch_seed(...))).
  auto gen = at::make_generator<at::CPUGeneratorImpl>(epoch_seed(7, 0));
  auto ref = torch::randperm(50, gen, torch::kLong);
  EXPECT_EQ(a, std::vector<int64_t>(ref.data_ptr<int64_t>(), ref.data_ptr<int64_t>() + 50));
}

TEST(TrainSampler, BalancedSamplerEvensOutClasses) {
  std::vector<int> labels(1000, 0);
  for (int i = 0; i < 100; ++i) labels[i] = 1;  // 10 % fake
  const auto order = epoch_order(labels, 0, 0, "sampler");
  ASSERT_EQ(order.size(), 1000u);
  int fakes = 0;
  for (auto i : order) fakes += labels[static_cast<size_t>(i)];
  EXPECT_NEAR(fakes, 500, 60);
  EXPECT_THROW(epoch_order(std::vector<int>(10, 0), 0, 0, "sampler"), Error);
}

TEST(TrainSeeds, SampleSeedsDiffer) {
  std::set<uint64_t> seen;
  for (int e = 0; e < 4; ++e)
    for (int i = 0; i < 100; ++i) seen.insert(sample_seed(0, e, i));
  EXPECT_EQ(seen.size(), 400u);
}

TEST(TrainLoss, SoftmaxUsesTheFakeIndexAndSigmoidUsesBce) {
  const auto logits = torch::tensor({{2.0f, 0.0f}, {0.0f, 2.0f}});
  const auto labels = torch::tensor({1, 0}, torch::kLong);  // fake, real
  ScoreRule genconvit{"softmax", 0};
  // Both samples are confidently right: class 0 = fake for the first, class 1 = real for the second.
  EXPECT_NEAR(classification_loss(logits, labels, genconvit).item<double>(), std::log1p(std::exp(-2.0)),
              1e-6);
  ScoreRule flipped{"softmax", 1};
  EXPECT_NEAR(classification_loss(logits, labels, flipped).item<double>(), std::log1p(std::exp(2.0)), 1e-5);
  EXPECT_NEAR(fake_probability(logits, genconvit)[0].item<double>(), 1.0 / (1.0 + std::exp(-2.0)), 1e-6);

  ScoreRule npr{"sigmoid", 0};
  const auto one = torch::tensor({{3.0f}, {-1.0f}});
  const double expect = (std::log1p(std::exp(-3.0)) + std::log1p(std::exp(-1.0))) / 2;
  EXPECT_NEAR(classification_loss(one, labels, npr).item<double>(), expect, 1e-6);
  // Loss weights {w_real, w_fake} scale each sample's term.
  const double weighted = (3.0 * std::log1p(std::exp(-3.0)) + 1.0 * std::log1p(std::exp(-1.0))) / 2;
  EXPECT_NEAR(classification_loss(one, labels, npr, {1.0, 3.0}).item<double>(), weighted, 1e-6);
}

TEST(TrainSchedule, WarmupCosineAndStep) {
  TrainOptions o;
  o.lr = 1.0;
  o.epochs = 2;
  o.schedule = "cosine";
  o.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(lr_at(o, 0, 0, 10), 0.25);
  EXPECT_DOUBLE_EQ(lr_at(o, 3, 0, 10), 1.0);
  EXPECT_DOUBLE_EQ(lr_at(o, 4, 0, 10), 1.0);
  EXPECT_NEAR(lr_at(o, 12, 1, 10), 0.5, 1e-12);  // halfway through the 16 post-warm-up steps
  EXPECT_NEAR(lr_at(o, 20, 1, 10), 0.0, 1e-12);
  o.schedule = "step";
  o.warmup_steps = 0;
  o.step_epochs = 2;
  o.gamma = 0.5;
  EXPECT_DOUBLE_EQ(lr_at(o, 0, 1, 10), 1.0);
  EXPECT_DOUBLE_EQ(lr_at(o, 0, 2, 10), 0.5);
  EXPECT_DOUBLE_EQ(lr_at(o, 0, 5, 10), 0.25);
  o.schedule = "linear";
  EXPECT_THROW(lr_at(o, 0, 0, 1), Error);
}

// The multi-tensor Adam/AdamW (what CUDA training uses) against LibTorch's per-parameter step, on
// the CPU where both run: same parameters after steps in which one parameter joins late (so the
// group holds two step counts), and a state that LibTorch's own optimizer loads.
TEST(TrainOptimizer, MultiTensorAdamMatchesLibTorchsStep) {
  for (const std::string name : {"adam", "adamw"}) {
    train::TrainOptions o;
    o.optimizer = name;
    o.lr = 1e-2;
    o.weight_decay = 0.05;
    torch::manual_seed(3);
    const std::vector<at::Tensor> init{torch::randn({4, 3}), torch::randn({5}), torch::randn({2, 2, 3, 3})};
    const auto copy = [&] {
      std::vector<at::Tensor> params;
      for (const auto& t : init) params.push_back(t.clone().set_requires_grad(true));
      return params;
    };
    auto plain_params = copy(), fast_params = copy();
    auto plain = train::make_optimizer(plain_params, o, false);
    auto fast = train::make_optimizer(fast_params, o, true);
    for (int step = 0; step < 6; ++step) {
      for (size_t i = 0; i < init.size(); ++i) {
        if (i == 1 && step < 2) continue;  // joins at the third step
        const auto grad = torch::randn_like(init[i]);
        plain_params[i].mutable_grad() = grad.clone();
        fast_params[i].mutable_grad() = grad.clone();
      }
      plain->step();
      fast->step();
    }
    for (size_t i = 0; i < init.size(); ++i) {
      EXPECT_GT((plain_params[i] - init[i]).abs().max().item<double>(), 1e-3) << name << " param " << i;
      EXPECT_LE((plain_params[i] - fast_params[i]).abs().max().item<double>(), 1e-6)
          << name << " param " << i;
    }
    std::stringstream saved;
    {
      torch::serialize::OutputArchive archive;
      fast->save(archive);
      archive.save_to(saved);
    }
    auto reloaded = train::make_optimizer(copy(), o, false);
    torch::serialize::InputArchive archive;
    archive.load_from(saved);
    EXPECT_NO_THROW(reloaded->load(archive)) << name;
  }
}

TEST(TrainAugment, SeededPerSample) {
  auto img = torch::randint(0, 256, {24, 20, 3}, torch::kUInt8);
  AugmentOptions off;
  auto plain = augment(img, off, 1);
  EXPECT_TRUE(torch::equal(plain, img.permute({2, 0, 1}).to(torch::kFloat) / 255.0));
  AugmentOptions on;
  on.enabled = true;
  on.flip = on.crop = on.blur = on.noise = on.color = on.downscale = 1.0;
  auto a = augment(img, on, 42), b = augment(img, on, 42), c = augment(img, on, 43);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  EXPECT_EQ(a.sizes(), plain.sizes());
  EXPECT_GE(a.min().item<float>(), 0.0f);
  EXPECT_LE(a.max().item<float>(), 1.0f);
  EXPECT_EQ(resize_square(a, 16).sizes(), (std::vector<int64_t>{3, 16, 16}));
}

namespace {

std::vector<at::Tensor> weights_of(torch::nn::Module& net) {
  std::vector<at::Tensor> out;
  for (auto& p : net.parameters()) out.push_back(p.detach().clone());
  for (auto& b : net.buffers()) out.push_back(b.detach().clone());
  return out;
}

// The log without wall-clock fields.
std::vector<nlohmann::json> read_log(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    j.erase("seconds");
    out.push_back(j);
  }
  return out;
}

TrainOptions tiny_options(const fs::path& dir) {
  TrainOptions o;
  o.epochs = 3;
  o.batch_size = 4;
  o.optimizer = "adamw";
  o.lr = 3e-3;
  o.weight_decay = 0.01;
  o.augment.enabled = true;
  o.augment.blur = o.augment.noise = 0.5;
  o.workers = 2;
  o.checkpoint_dir = dir / "ckpt";
  o.log_path = dir / "log.jsonl";
  o.progress = false;
  return o;
}

}  // namespace

TEST(TrainLoop, ResumeAfterAnEpochIsBitIdentical) {
  test::ScopedDir dir("resume");
  const auto ds = data::open_dataset(test::write_tiny_csv(dir.path).string());

  auto a = test::tiny_model(1);
  const auto ra = train::train(a, ds, tiny_options(dir.path / "a"));
  EXPECT_EQ(ra.epochs_run, 3);
  EXPECT_EQ(ra.steps, 12);
  EXPECT_GE(ra.best_epoch, 0);
  EXPECT_NE(ra.threshold_source.find("validation split (8 samples"), std::string::npos)
      << ra.threshold_source;
  EXPECT_TRUE(fs::exists(dir.path / "a/ckpt/epoch-0003.ckpt"));

  // Stop after two epochs, then resume to three.
  auto b = test::tiny_model(1);
  auto first = tiny_options(dir.path / "b");
  first.epochs = 2;
  train::train(b, ds, first);
  auto b2 = test::tiny_model(99);  // different initial weights: everything must come from the checkpoint
  auto second = tiny_options(dir.path / "b");
  second.resume = true;
  const auto rb = train::train(b2, ds, second);
  EXPECT_TRUE(rb.resumed);
  EXPECT_EQ(rb.steps, 12);
  EXPECT_EQ(rb.best_epoch, ra.best_epoch);
  EXPECT_EQ(rb.threshold, ra.threshold);

  const auto wa = weights_of(*a.net), wb = weights_of(*b2.net);
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(torch::equal(wa[i], wb[i])) << "tensor " << i;
  EXPECT_EQ(read_log(dir.path / "a/log.jsonl"), read_log(dir.path / "b/log.jsonl"));
}

TEST(TrainLoop, ResumeRefusesChangedOptions) {
  test::ScopedDir dir("refuse");
  const auto ds = data::open_dataset(test::write_tiny_csv(dir.path).string());
  auto m = test::tiny_model(1);
  auto o = tiny_options(dir.path);
  o.epochs = 1;
  o.augment.enabled = false;
  train::train(m, ds, o);
  o.resume = true;
  o.epochs = 2;
  o.lr = 1e-2;
  try {
    train::train(m, ds, o);
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'lr'"), std::string::npos) << e.what();
  }
}

TEST(TrainLoop, SelectionNeverReadsTheTestSplit) {
  test::ScopedDir dir("select");
  const auto csv = test::write_tiny_csv(dir.path);
  // Point every test row at a file that does not exist: reading one would throw.
  {
    std::ofstream out(csv, std::ios::app);
    out << (dir.path / "missing.jpg").string() << ",1,test\n";
  }
  const auto ds = data::open_dataset(csv.string());
  auto m = test::tiny_model(3);
  auto o = tiny_options(dir.path);
  o.epochs = 2;
  o.augment.enabled = false;
  o.checkpoint_dir.clear();
  o.patience = 1;
  o.select = "loss";
  o.threshold = "balanced-accuracy";
  const auto r = train::train(m, ds, o);
  EXPECT_LE(r.epochs_run, 2);
  EXPECT_NE(r.threshold_source.find("balanced-accuracy"), std::string::npos);
  EXPECT_EQ(r.validation["n"], 8);
}

TEST(TrainLoop, BadOptionsAreRejected) {
  test::ScopedDir dir("bad");
  const auto ds = data::open_dataset(test::write_tiny_csv(dir.path).string());
  auto m = test::tiny_model(1);
  auto o = tiny_options(dir.path);
  o.batch_size = 64;
  EXPECT_THROW(train::train(m, ds, o), Error);
  o = tiny_options(dir.path);
  o.optimizer = "rmsprop";
  EXPECT_THROW(train::train(m, ds, o), Error);
  o = tiny_options(dir.path);
  o.precision = "bf16";  // CUDA only
  EXPECT_THROW(train::train(m, ds, o), Error);
}

TEST(TrainLoop, FreshRunClearsAnOlderRunsCheckpoints) {
  test::ScopedDir dir("fresh");
  const auto ds = data::open_dataset(test::write_tiny_csv(dir.path).string());
  auto o = tiny_options(dir.path);
  o.epochs = 1;
  o.augment.enabled = false;
  fs::create_directories(o.checkpoint_dir);
  std::ofstream(o.checkpoint_dir / "epoch-0009.ckpt") << "stale";
  auto m = test::tiny_model(1);
  train::train(m, ds, o);
  EXPECT_FALSE(fs::exists(o.checkpoint_dir / "epoch-0009.ckpt"));
  EXPECT_TRUE(fs::exists(o.checkpoint_dir / "epoch-0001.ckpt"));
}

TEST(TrainLoop, UnreadableSamplesAreLeftOutNamedAndResumeTheSame) {
  // A corrupt file among many must not cost the run: it is left out of its batches and listed.
  test::ScopedDir dir("unreadable");
  const auto csv = test::write_tiny_csv(dir.path);
  {
    std::ofstream out(csv, std::ios::app);
    out << test::tiny_shard().string() << "#99,1,train\n";  // past the shard's end
    out << (dir.path / "missing.png").string() << ",0,train\n";
    out << test::tiny_shard().string() << "#98,0,valid\n";
  }
  const auto ds = data::open_dataset(csv.string());
  auto a = test::tiny_model(1);
  const auto ra = train::train(a, ds, tiny_options(dir.path / "a"));
  EXPECT_EQ(ra.epochs_run, 3);
  EXPECT_EQ(ra.unreadable["count"], 3) << ra.unreadable;
  ASSERT_EQ(ra.unreadable["files"].size(), 3u);
  for (const auto& f : ra.unreadable["files"]) EXPECT_FALSE(f["error"].get<std::string>().empty()) << f;
  EXPECT_EQ(ra.validation["n"], 8);  // the readable validation rows
  for (const auto& epoch : ra.history) EXPECT_TRUE(epoch["train_loss"].is_number()) << epoch;

  // Reading fails the same way every time, so a resumed run ends bit-identical.
  auto b = test::tiny_model(1);
  auto first = tiny_options(dir.path / "b");
  first.epochs = 1;
  train::train(b, ds, first);
  auto b2 = test::tiny_model(7);
  auto second = tiny_options(dir.path / "b");
  second.resume = true;
  train::train(b2, ds, second);
  const auto wa = weights_of(*a.net), wb = weights_of(*b2.net);
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(torch::equal(wa[i], wb[i])) << "tensor " << i;
}

TEST(TrainLoop, NothingReadableIsAnErrorThatNamesAFile) {
  test::ScopedDir dir("none_readable");
  const auto csv = dir.path / "bad.csv";
  {
    std::ofstream out(csv);
    out << "path,label,split\n";
    for (int i = 0; i < 8; ++i)
      out << test::tiny_shard().string() << "#" << 100 + i << "," << i % 2 << ",train\n";
  }
  auto m = test::tiny_model(1);
  auto o = tiny_options(dir.path);
  o.epochs = 1;
  try {
    train::train(m, data::open_dataset(csv.string()), o);
    FAIL() << "trained on nothing";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("no training batch could be read in epoch 1 (8 unreadable samples; first: "),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("row out of range"), std::string::npos) << message;
  }
}
