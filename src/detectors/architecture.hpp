#pragma once
// Internal registry of detector architectures. Each architecture lives in its own
// src/detectors/<arch>.cpp and registers itself with DFSCAN_REGISTER_ARCHITECTURE.
#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "dfscan/checkpoint.hpp"

namespace dfscan::detectors {

struct Architecture {
  std::string name;
  std::string modality;  // "image", "face" or "audio"
  // Builds an untrained network for a manifest "config".
  std::function<std::shared_ptr<torch::nn::Module>(const nlohmann::json& config)> build;
  // Runs the network in eval mode: prepared batch [N,C,H,W] -> raw outputs [N,K].
  std::function<at::Tensor(torch::nn::Module& net, const at::Tensor& batch, const nlohmann::json& manifest)>
      forward;
  // Derives "config" from the tensor shapes of an official checkpoint, so import needs only --arch.
  std::function<nlohmann::json(const io::StateDict& state)> infer_config;
  // Manifest fields this architecture fills by default: "input", "faces", "score", "threshold".
  std::function<nlohmann::json()> defaults;
  // Applies per-run options (e.g. {"vae_sampling": "reference", "seed": 0}); may be empty.
  std::function<void(torch::nn::Module& net, const nlohmann::json& options)> configure;
};

void register_architecture(Architecture arch);
// Throws dfscan::Error naming the known architectures when `name` is not one of them.
const Architecture& find_architecture(const std::string& name);
std::vector<std::string> architecture_names();

struct ArchitectureRegistrar {
  explicit ArchitectureRegistrar(Architecture arch) { register_architecture(std::move(arch)); }
};

}  // namespace dfscan::detectors

#define DFSCAN_REGISTER_ARCHITECTURE(ident, ...) \
  static const ::dfscan::detectors::ArchitectureRegistrar dfscan_arch_registrar_##ident(__VA_ARGS__)
