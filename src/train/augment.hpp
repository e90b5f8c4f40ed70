#pragma once
// Training-time image augmentations on CPU tensors, seeded per sample.
#include <ATen/Tensor.h>

#include <cstdint>

#include "dfscan/train.hpp"

namespace dfscan::train {

// RGB uint8 [H,W,3] -> float [3,H',W'] in [0, 1]. Every random draw comes from a generator seeded
// with `seed`, so the result depends only on (image, options, seed).
at::Tensor augment(const at::Tensor& rgb_hwc, const AugmentOptions& options, uint64_t seed);

// Float [3,H,W] in [0, 1] -> float [3,size,size]: antialiased bilinear resize when the size differs.
at::Tensor resize_square(const at::Tensor& chw, int64_t size);

}  // namespace dfscan::train
