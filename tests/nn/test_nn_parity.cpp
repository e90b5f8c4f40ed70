// dfscan's networks against the reference implementations' outputs (/work/shared/parity), fp32,
// eval mode, tolerance 1e-4 absolute. Weights and io are read with dfscan's own .pth reader.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "dfscan/checkpoint.hpp"
#include "dfscan/nn/convnext.hpp"
#include "dfscan/nn/genconvit.hpp"
#include "dfscan/nn/infer_config.hpp"
#include "dfscan/nn/npr.hpp"
#include "nn_test_util.hpp"

namespace dfscan::nn {
namespace {

using test::max_abs_diff;
using test::parity_dir;

constexpr double kTolerance = 1e-4;

ShapeMap shapes_of(const io::StateDict& state) {
  ShapeMap shapes;
  for (const auto& [key, tensor] : state) shapes[key] = tensor.sizes().vec();
  return shapes;
}

// Loads weights strictly, runs io["input"] in eval mode on `device`, returns max |out - io["output"]|.
double run_case(torch::nn::Module& module, const std::function<at::Tensor(const at::Tensor&)>& forward,
                const std::filesystem::path& weights, const std::filesystem::path& io_file,
                torch::Device device = torch::kCPU) {
  const auto report = io::load_into(module, io::read_pth(weights), /*strict=*/true);
  EXPECT_TRUE(report.unexpected.empty());
  module.eval();
  module.to(device);
  const auto io = io::read_pth(io_file);
  torch::NoGradGuard no_grad;
  const auto out = forward(io.at("input").to(device));
  const double diff = max_abs_diff(out, io.at("output"));
  std::printf("[parity] %s on %s: max abs diff %.3g\n", io_file.parent_path().filename().c_str(),
              device.str().c_str(), diff);
  return diff;
}

std::vector<torch::Device> devices() {
  std::vector<torch::Device> out{torch::kCPU};
  if (torch::cuda::is_available()) out.emplace_back(torch::kCUDA);
  return out;
}

// CUDA comparisons at the fp32 tolerance need TF32 off (parity README).
struct NoTf32 {
  NoTf32()
      : saved_(at::globalContext().allowTF32CuBLAS()), saved_cudnn_(at::globalContext().allowTF32CuDNN()) {
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
  }
  ~NoTf32() {
    at::globalContext().setAllowTF32CuBLAS(saved_);
    at::globalContext().setAllowTF32CuDNN(saved_cudnn_);
  }
  bool saved_, saved_cudnn_;
};

TEST(NprParity, Square224) {
  const auto dir = parity_dir() / "npr_resnet50";
  DFSCAN_NEED_FIXTURE(dir);
  NoTf32 no_tf32;
  for (const auto& device : devices()) {
    NprNet net(infer_npr_config(shapes_of(io::read_pth(dir / "weights.pth"))));
    EXPECT_LE(run_case(
                  *net, [&](const at::Tensor& x) { return net->forward(x); }, dir / "weights.pth",
                  dir / "io.pth", device),
              kTolerance);
  }
}

TEST(NprParity, NonSquare256x200) {
  const auto dir = parity_dir() / "npr_resnet50";
  DFSCAN_NEED_FIXTURE(dir);
  NprNet net;
  EXPECT_LE(run_case(
                *net, [&](const at::Tensor& x) { return net->forward(x); }, dir / "weights.pth",
                dir / "io_256x200.pth"),
            kTolerance);
}

TEST(ConvNeXtParity, Atto) {
  const auto dir = parity_dir() / "convnext_atto";
  DFSCAN_NEED_FIXTURE(dir);
  NoTf32 no_tf32;
  for (const auto& device : devices()) {
    ConvNeXt net(ConvNeXtConfig::atto());
    EXPECT_LE(run_case(
                  *net, [&](const at::Tensor& x) { return net->forward(x); }, dir / "weights.pth",
                  dir / "io.pth", device),
              kTolerance);
  }
}

TEST(GenConViTParity, EdAtto) {
  const auto dir = parity_dir() / "genconvit_ed_atto";
  DFSCAN_NEED_FIXTURE(dir);
  NoTf32 no_tf32;
  const auto config = infer_genconvit_config(shapes_of(io::read_pth(dir / "weights.pth")), GenConViTArch::ed);
  for (const auto& device : devices()) {
    GenConViTED net(config);
    EXPECT_LE(run_case(
                  *net, [&](const at::Tensor& x) { return net->forward(x); }, dir / "weights.pth",
                  dir / "io.pth", device),
              kTolerance);
  }
}

TEST(GenConViTParity, EdAutoencoder) {
  const auto dir = parity_dir() / "genconvit_ed_autoencoder";
  DFSCAN_NEED_FIXTURE(dir);
  torch::nn::Sequential autoencoder{EdEncoder(), EdDecoder()};
  EXPECT_LE(run_case(
                *autoencoder, [&](const at::Tensor& x) { return autoencoder->forward(x); },
                dir / "weights.pth", dir / "io.pth"),
            kTolerance);
}

TEST(GenConViTParity, VaeEncoderFeatures) {
  const auto dir = parity_dir() / "genconvit_vae_encoder_features";
  DFSCAN_NEED_FIXTURE(dir);
  // A narrow latent keeps mu/var small; the conv stack under test does not depend on it.
  VaeEncoder encoder(224, 16);
  auto features = encoder->features;
  EXPECT_LE(run_case(
                *features, [&](const at::Tensor& x) { return features->forward(x); }, dir / "weights.pth",
                dir / "io.pth"),
            kTolerance);
}

TEST(GenConViTParity, VaeDecoder) {
  const auto dir = parity_dir() / "genconvit_vae_decoder";
  DFSCAN_NEED_FIXTURE(dir);
  VaeDecoder decoder(12544);
  EXPECT_LE(run_case(
                *decoder, [&](const at::Tensor& x) { return decoder->forward(x); }, dir / "weights.pth",
                dir / "io.pth"),
            kTolerance);
}

}  // namespace
}  // namespace dfscan::nn
