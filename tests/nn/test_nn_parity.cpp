// dfscan's networks against the reference implementations' outputs (/work/shared/parity), fp32,
// eval mode, tolerance 1e-4 absolute (on CUDA with TF32 off, plus bf16/fp16 relative errors). Weights and io
// are read with dfscan's own .pth reader.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <functional>
#include <string>

#include "../common/cuda_parity.hpp"
#include "dfscan/checkpoint.hpp"
#include "dfscan/nn/convnext.hpp"
#include "dfscan/nn/genconvit.hpp"
#include "dfscan/nn/infer_config.hpp"
#include "dfscan/nn/npr.hpp"
#include "nn_test_util.hpp"

namespace dfscan::nn {
namespace {

using dfscan::test::NoTf32;
using dfscan::test::report_reduced_precision;
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
    report_reduced_precision([&](const at::Tensor& x) { return net->forward(x); }, dir / "io.pth", device);
  }
}

TEST(NprParity, NonSquare256x200) {
  const auto dir = parity_dir() / "npr_resnet50";
  DFSCAN_NEED_FIXTURE(dir);
  NoTf32 no_tf32;
  for (const auto& device : devices()) {
    NprNet net;
    EXPECT_LE(run_case(
                  *net, [&](const at::Tensor& x) { return net->forward(x); }, dir / "weights.pth",
                  dir / "io_256x200.pth", device),
              kTolerance);
    report_reduced_precision([&](const at::Tensor& x) { return net->forward(x); }, dir / "io_256x200.pth",
                             device);
  }
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
    report_reduced_precision([&](const at::Tensor& x) { return net->forward(x); }, dir / "io.pth", device);
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
    report_reduced_precision([&](const at::Tensor& x) { return net->forward(x); }, dir / "io.pth", device);
  }
}

TEST(GenConViTParity, EdAutoencoder) {
  const auto dir = parity_dir() / "genconvit_ed_autoencoder";
  DFSCAN_NEED_FIXTURE(dir);
  NoTf32 no_tf32;
  for (const auto& device : devices()) {
    torch::nn::Sequential autoencoder{EdEncoder(), EdDecoder()};
    const auto forward = [&](const at::Tensor& x) { return autoencoder->forward(x); };
    EXPECT_LE(run_case(*autoencoder, forward, dir / "weights.pth", dir / "io.pth", device), kTolerance);
    report_reduced_precision(forward, dir / "io.pth", device);
  }
}

TEST(GenConViTParity, VaeEncoderFeatures) {
  const auto dir = parity_dir() / "genconvit_vae_encoder_features";
  DFSCAN_NEED_FIXTURE(dir);
  NoTf32 no_tf32;
  for (const auto& device : devices()) {
    // A narrow latent keeps mu/var small; the conv stack under test does not depend on it.
    VaeEncoder encoder(224, 16);
    auto features = encoder->features;
    const auto forward = [&](const at::Tensor& x) { return features->forward(x); };
    EXPECT_LE(run_case(*features, forward, dir / "weights.pth", dir / "io.pth", device), kTolerance);
    report_reduced_precision(forward, dir / "io.pth", device);
  }
}

TEST(GenConViTParity, VaeDecoder) {
  const auto dir = parity_dir() / "genconvit_vae_decoder";
  DFSCAN_NEED_FIXTURE(dir);
  NoTf32 no_tf32;
  for (const auto& device : devices()) {
    VaeDecoder decoder(12544);
    const auto forward = [&](const at::Tensor& x) { return decoder->forward(x); };
    EXPECT_LE(run_case(*decoder, forward, dir / "weights.pth", dir / "io.pth", device), kTolerance);
    report_reduced_precision(forward, dir / "io.pth", device);
  }
}

}  // namespace
}  // namespace dfscan::nn
