// Audio spoofing networks. The LCNN follows the ASVspoof 2019/2021 LFCC-LCNN baseline's layer plan
// (Max-Feature-Map activations, 1x1/3x3 convolutions, non-affine batch norm), with mean pooling
// over time before the classifier head.
#include "dfscan/audio/models.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include "dfscan/status.hpp"

namespace dfscan::audio {

ProjectableHeadImpl::ProjectableHeadImpl(int in_features, std::vector<int> hidden, int classes,
                                         double dropout)
    : dropout_(dropout) {
  int width = in_features;
  hidden.push_back(classes);
  for (size_t i = 0; i < hidden.size(); ++i) {
    if (width < 1 || hidden[i] < 1) throw Error(Status::error, "audio head: layer widths must be positive");
    linears_.push_back(register_module("fc" + std::to_string(i), torch::nn::Linear(width, hidden[i])));
    width = hidden[i];
  }
}

at::Tensor ProjectableHeadImpl::forward(const at::Tensor& input) {
  auto x = input;
  last_inputs_.resize(linears_.size());
  for (size_t i = 0; i < linears_.size(); ++i) {
    if (i > 0) x = torch::relu(x);
    if (dropout_ > 0.0) x = torch::dropout(x, dropout_, is_training());
    last_inputs_[i] = x.detach();
    x = linears_[i]->forward(x);
  }
  return x;
}

void SpoofModel::install_head(int in_features, const ModelConfig& config) {
  config_ = config;
  head_ = register_module("head", ProjectableHead(in_features, config.head_hidden, 2, 0.0));
}

void SpoofModel::set_backbone_trainable(bool trainable) {
  backbone_trainable_ = trainable;
  for (auto& item : named_parameters(true))
    if (item.value().defined() && item.key().rfind("head.", 0) != 0)
      item.value().set_requires_grad(trainable);
  train(is_training());
}

void SpoofModel::train(bool on) {
  torch::nn::Module::train(on);
  if (!backbone_trainable_) {
    for (auto& child : named_children())
      if (child.key() != "head") child.value()->eval();
  }
}

at::Tensor fake_probability(const at::Tensor& logits) {
  return torch::softmax(logits, 1).select(1, 1);
}

void copy_weights(SpoofModel& to, const SpoofModel& from) {
  torch::NoGradGuard no_grad;
  auto src_p = from.named_parameters(true);
  // Non-affine batch norms register undefined weight/bias tensors.
  for (auto& item : to.named_parameters(true))
    if (item.value().defined()) item.value().copy_(*src_p.find(item.key()));
  auto src_b = from.named_buffers(true);
  for (auto& item : to.named_buffers(true))
    if (item.value().defined()) item.value().copy_(*src_b.find(item.key()));
}

std::shared_ptr<SpoofModel> clone_model(const SpoofModel& model) {
  auto copy = make_model(model.config());
  for (const auto& p : model.parameters(true))
    if (p.defined()) {
      copy->to(p.device());
      break;
    }
  copy_weights(*copy, model);
  copy->set_backbone_trainable(model.backbone_trainable());
  copy->train(model.is_training());
  return copy;
}

namespace {

// Max-Feature-Map: the element-wise max of the two channel halves.
at::Tensor mfm(const at::Tensor& x, int64_t dim = 1) {
  auto halves = x.chunk(2, dim);
  return torch::max(halves[0], halves[1]);
}

class LcnnModel : public SpoofModel {
 public:
  explicit LcnnModel(const ModelConfig& c) : dropout_(c.dropout), use_blstm_(c.lcnn_blstm) {
    // (in, out, kernel) of each convolution; MFM halves `out`.
    const int plan[9][3] = {{1, 64, 5},   {32, 64, 1}, {32, 96, 3}, {48, 96, 1}, {48, 128, 3},
                            {64, 128, 1}, {64, 64, 3}, {32, 64, 1}, {32, 64, 3}};
    for (int i = 0; i < 9; ++i) {
      const int k = plan[i][2];
      convs_.push_back(register_module(
          "conv" + std::to_string(i),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(plan[i][0], plan[i][1], k).padding(k / 2))));
    }
    // Non-affine batch norm after convs 1, 2, 3, 5, 6, 7 (the baseline's placement).
    for (int i : {1, 2, 3, 5, 6, 7})
      norms_[i] = register_module(
          "bn" + std::to_string(i),
          torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(plan[i][1] / 2).affine(false)));
    int f = c.feature_dim;
    for (int i = 0; i < 4; ++i) f /= 2;
    if (f < 1) throw Error(Status::error, "lcnn: feature_dim must be at least 16");
    dim_ = 32 * f;
    if (use_blstm_) {
      for (int i = 0; i < 2; ++i)
        lstms_.push_back(register_module(
            "blstm" + std::to_string(i),
            torch::nn::LSTM(torch::nn::LSTMOptions(dim_, dim_ / 2).bidirectional(true).batch_first(true))));
    }
    install_head(dim_, c);
  }

  at::Tensor embed(const at::Tensor& inputs) override {
    // [B, F, T] -> [B, 1, T, F]: time on the first spatial axis, as the baseline.
    auto x = inputs.transpose(1, 2).unsqueeze(1);
    auto pool = [](const at::Tensor& t) { return torch::max_pool2d(t, {2, 2}, {2, 2}); };
    for (int i = 0; i < 9; ++i) {
      x = mfm(convs_[i]->forward(x));
      if (i == 0 || i == 2 || i == 4 || i == 8) x = pool(x);
      if (norms_[i]) x = norms_[i]->forward(x);
    }
    x = torch::dropout(x, dropout_, is_training());
    // [B, C, T', F'] -> [B, T', C * F']
    x = x.permute({0, 2, 1, 3}).flatten(2);
    for (auto& lstm : lstms_) x = x + std::get<0>(lstm->forward(x));
    return x.mean(1);
  }
  int embedding_dim() const override { return dim_; }

 private:
  std::vector<torch::nn::Conv2d> convs_;
  torch::nn::BatchNorm2d norms_[9] = {nullptr, nullptr, nullptr, nullptr, nullptr,
                                      nullptr, nullptr, nullptr, nullptr};
  std::vector<torch::nn::LSTM> lstms_;
  double dropout_;
  bool use_blstm_;
  int dim_ = 0;
};

struct BasicBlockImpl : torch::nn::Module {
  BasicBlockImpl(int in, int out, int stride) {
    conv1 = register_module(
        "conv1",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(out));
    conv2 = register_module("conv2",
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
    bn2 = register_module("bn2", torch::nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      down = register_module(
          "down", torch::nn::Sequential(
                      torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                      torch::nn::BatchNorm2d(out)));
    }
  }
  at::Tensor forward(const at::Tensor& x) {
    auto y = torch::relu(bn1->forward(conv1->forward(x)));
    y = bn2->forward(conv2->forward(y));
    return torch::relu(y + (down ? down->forward(x) : x));
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential down{nullptr};
};
TORCH_MODULE(BasicBlock);

// Four residual stages over the (frequency x time) plane, frequency averaged out, then mean and
// standard deviation over time.
class ResNetModel : public SpoofModel {
 public:
  explicit ResNetModel(const ModelConfig& c) : dropout_(c.dropout) {
    const int ch = c.resnet_channels;
    if (ch < 1) throw Error(Status::error, "resnet: resnet_channels must be positive");
    stem_ =
        register_module("stem", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, ch, 3).padding(1).bias(false)));
    stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(ch));
    int in = ch;
    for (int s = 0; s < 4; ++s) {
      const int out = ch << s;
      blocks_->push_back(BasicBlock(in, out, s == 0 ? 1 : 2));
      in = out;
    }
    register_module("blocks", blocks_);
    dim_ = 2 * in;
    install_head(dim_, c);
  }
  at::Tensor embed(const at::Tensor& inputs) override {
    auto x = torch::relu(stem_bn_->forward(stem_->forward(inputs.unsqueeze(1))));
    x = blocks_->forward(x).mean(2);  // [B, C, T']
    x = torch::cat({x.mean(2), (x.var(2, false) + 1e-5).sqrt()}, 1);
    return torch::dropout(x, dropout_, is_training());
  }
  int embedding_dim() const override { return dim_; }

 private:
  torch::nn::Conv2d stem_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  torch::nn::Sequential blocks_;
  double dropout_;
  int dim_ = 0;
};

// Per-feature mean and standard deviation over time, standardised by a non-affine batch norm (its
// statistics are the only "backbone" state; they freeze with the backbone).
class StatsMlpModel : public SpoofModel {
 public:
  explicit StatsMlpModel(const ModelConfig& c) : dim_(2 * c.feature_dim) {
    if (c.feature_dim < 1) throw Error(Status::error, "stats-mlp: feature_dim must be positive");
    norm_ =
        register_module("norm", torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(dim_).affine(false)));
    install_head(dim_, c);
  }
  at::Tensor embed(const at::Tensor& inputs) override {
    return norm_->forward(torch::cat({inputs.mean(2), (inputs.var(2, false) + 1e-5).sqrt()}, 1));
  }
  int embedding_dim() const override { return dim_; }

 private:
  int dim_;
  torch::nn::BatchNorm1d norm_{nullptr};
};

// A frozen TorchScript encoder; only the head trains.
class ScriptedModel : public SpoofModel {
 public:
  explicit ScriptedModel(const ModelConfig& c) : dim_(c.scripted_dim) {
    if (dim_ < 1) throw Error(Status::error, "scripted: scripted_dim must be positive");
    try {
      encoder_ = torch::jit::load(c.scripted_path);
    } catch (const c10::Error& e) {
      throw Error(Status::error,
                  "cannot load TorchScript encoder " + c.scripted_path + ": " + one_line(e.what()));
    }
    encoder_.eval();
    for (auto p : encoder_.parameters()) p.set_requires_grad(false);
    install_head(dim_, c);
    backbone_trainable_ = false;
  }
  at::Tensor embed(const at::Tensor& inputs) override {
    torch::NoGradGuard no_grad;
    auto wave = inputs.dim() == 3 ? inputs.squeeze(1) : inputs;
    auto out = encoder_.forward({wave}).toTensor();
    if (out.dim() == 3) out = out.mean(1);
    if (out.dim() != 2 || out.size(1) != dim_)
      throw Error(Status::error, "scripted encoder returned shape " + std::to_string(out.dim()) +
                                     "-d with last size " + std::to_string(out.size(-1)) + ", expected " +
                                     std::to_string(dim_));
    return out.detach();
  }
  int embedding_dim() const override { return dim_; }
  using SpoofModel::to;
  void to(torch::Device device, bool non_blocking) override {
    SpoofModel::to(device, non_blocking);
    encoder_.to(device, non_blocking);
  }

 private:
  torch::jit::script::Module encoder_;
  int dim_;
};

}  // namespace

std::shared_ptr<SpoofModel> make_model(const ModelConfig& config) {
  if (config.arch == "lcnn") return std::make_shared<LcnnModel>(config);
  if (config.arch == "resnet") return std::make_shared<ResNetModel>(config);
  if (config.arch == "stats-mlp") return std::make_shared<StatsMlpModel>(config);
  if (config.arch == "scripted") return std::make_shared<ScriptedModel>(config);
  throw Error(Status::error,
              "unknown audio model '" + config.arch + "' (expected lcnn, resnet, stats-mlp or scripted)");
}

}  // namespace dfscan::audio
