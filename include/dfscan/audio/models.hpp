#pragma once
// Spoofing-detection networks over front-end features: LFCC-LCNN (Max-Feature-Map CNN, the
// ASVspoof baseline), a ResNet with statistics pooling, an utterance-statistics MLP, and a frozen
// TorchScript encoder (for example a user-exported wav2vec 2.0) feeding a trainable head.
// Two logits per input: index 0 = real (bona fide), index 1 = fake; score = softmax[1].
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace dfscan::audio {

// Linear layers (with ReLU between) that remember the input each of them saw in the last forward
// pass, so gradient-projection strategies (OWM, RAWM, RWM) can use it.
class ProjectableHeadImpl : public torch::nn::Module {
 public:
  // in_features -> hidden... -> classes.
  ProjectableHeadImpl(int in_features, std::vector<int> hidden, int classes = 2, double dropout = 0.0);
  at::Tensor forward(const at::Tensor& x);
  const std::vector<torch::nn::Linear>& linears() const { return linears_; }
  // Detached inputs of each linear layer from the last forward (empty before the first).
  const std::vector<at::Tensor>& last_inputs() const { return last_inputs_; }

 private:
  std::vector<torch::nn::Linear> linears_;
  std::vector<at::Tensor> last_inputs_;
  double dropout_;
};
TORCH_MODULE(ProjectableHead);

struct ModelConfig {
  std::string arch = "lcnn";     // lcnn | resnet | stats-mlp | scripted
  int feature_dim = 60;          // features per frame from the front end (ignored by scripted)
  std::vector<int> head_hidden;  // hidden widths of the head (empty: one linear layer)
  double dropout = 0.0;          // before the head (LCNN baseline: 0.7)
  bool lcnn_blstm = false;       // LCNN: two residual BLSTM layers over time, as the 2021 baseline
  int resnet_channels = 16;      // ResNet: channels of the first stage (doubling per stage)
  std::string scripted_path;     // scripted: TorchScript file mapping [B, N] waveform to [B, D] or [B, T, D]
  int scripted_dim = 0;          // scripted: D
};

// Backbone + ProjectableHead. Inputs are [B, F, T] features (scripted: [B, 1, N] waveforms).
class SpoofModel : public torch::nn::Module {
 public:
  // [B, F, T] -> [B, D] utterance embedding.
  virtual at::Tensor embed(const at::Tensor& inputs) = 0;
  virtual int embedding_dim() const = 0;
  at::Tensor forward(const at::Tensor& inputs) { return head_->forward(embed(inputs)); }
  ProjectableHead& head() { return head_; }
  // Freezes or unfreezes everything but the head (frozen parts also stay in eval mode).
  void set_backbone_trainable(bool trainable);
  bool backbone_trainable() const { return backbone_trainable_; }
  void train(bool on = true) override;
  const ModelConfig& config() const { return config_; }

 protected:
  void install_head(int in_features, const ModelConfig& config);
  ProjectableHead head_{nullptr};
  bool backbone_trainable_ = true;
  ModelConfig config_;
};

// The configuration as a model manifest's "config" stores it, and back (missing fields keep their
// defaults; throws dfscan::Error on a malformed object).
nlohmann::json model_config_to_json(const ModelConfig& config);
ModelConfig model_config_from_json(const nlohmann::json& json);

// Throws dfscan::Error on an unknown arch or bad sizes.
std::shared_ptr<SpoofModel> make_model(const ModelConfig& config);

// P(fake) per input: softmax(logits)[:, 1].
at::Tensor fake_probability(const at::Tensor& logits);

// Copies parameters and buffers from `from` into `to` (same architecture).
void copy_weights(SpoofModel& to, const SpoofModel& from);

// A new model with the same configuration, weights, trainability and device as `model`.
std::shared_ptr<SpoofModel> clone_model(const SpoofModel& model);

}  // namespace dfscan::audio
