#pragma once
// CUDA parity helpers shared by the parity tests: fp32 comparisons with TF32 off, and the bf16/fp16
// relative errors that the CUDA issue asks to be reported (not held to the fp32 tolerance).
// Tests that use report_reduced_precision link the train layer (its autocast guard).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

#include "dfscan/checkpoint.hpp"
#include "dfscan/status.hpp"
#include "train/amp.hpp"

namespace dfscan::test {

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

// On CUDA, the same input under bf16 and fp16 autocast: reported as the relative error
// ||out - reference|| / ||reference||, not held to the fp32 tolerance (issue: CUDA parity). Only a
// result that is not finite or as large as the reference itself fails.
inline void report_reduced_precision(const std::function<at::Tensor(const at::Tensor&)>& forward,
                                     const std::filesystem::path& io_file, torch::Device device) {
  if (!device.is_cuda()) return;
  const auto io = dfscan::io::read_pth(io_file);
  const auto reference = io.at("output").to(torch::kDouble);
  const auto name = (io_file.parent_path().filename() / io_file.filename()).string();
  for (const std::string precision : {"bf16", "fp16"}) {
    try {
      dfscan::train::check_precision(precision, device);
    } catch (const dfscan::Error& e) {
      std::printf("[parity] %s on %s %s: skipped (%s)\n", name.c_str(), device.str().c_str(),
                  precision.c_str(), e.what());
      continue;
    }
    torch::NoGradGuard no_grad;
    at::Tensor out;
    {
      dfscan::train::AutocastGuard autocast(precision);
      out = forward(io.at("input").to(device));
    }
    out = out.to(torch::kCPU).to(torch::kDouble);
    const double relative = (out - reference).norm().item<double>() / reference.norm().item<double>();
    std::printf("[parity] %s on %s %s: relative error %.3g, max abs diff %.3g\n", name.c_str(),
                device.str().c_str(), precision.c_str(), relative,
                (out - reference).abs().max().item<double>());
    EXPECT_TRUE(std::isfinite(relative)) << precision;
    EXPECT_LT(relative, 1.0) << precision;
  }
}

}  // namespace dfscan::test
