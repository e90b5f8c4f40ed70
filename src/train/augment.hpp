#pragma once
// Training-time image augmentations on CPU tensors, seeded per sample.
#include <ATen/Tensor.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include "dfscan/train.hpp"

namespace dfscan::train {

// RGB uint8 [H,W,3] -> float [3,H',W'] in [0, 1]. Every random draw comes from a generator seeded
// with `seed`, so the result depends only on (image, options, seed).
at::Tensor augment(const at::Tensor& rgb_hwc, const AugmentOptions& options, uint64_t seed);

// Float [3,H,W] in [0, 1] -> float [3,size,size]: antialiased bilinear resize when the size differs.
at::Tensor resize_square(const at::Tensor& chw, int64_t size);

// Whether this build can re-compress JPEG (it uses OpenCV's codec, so media builds only).
bool jpeg_available();
// Float [3,H,W] in [0, 1] -> the same image quantised to 8 bits, encoded as a baseline JPEG at
// `quality` (1..100, 4:2:0 chroma as OpenCV writes it) and decoded again. Throws
// dfscan::Error(unsupported) in builds without media.
at::Tensor jpeg_recompress(const at::Tensor& chw, int quality);

// Every field, for checkpoint fingerprints and the model manifest's recipe.
nlohmann::json augment_to_json(const AugmentOptions& options);

}  // namespace dfscan::train
