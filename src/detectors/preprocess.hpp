#pragma once
#include <ATen/Tensor.h>

#include <nlohmann/json.hpp>

namespace dfscan::detectors {

// RGB uint8 [H,W,3] -> normalised float [3,h,w] following a manifest "input" object:
//   {"resize": "native" | "resize" | "center_crop", "size": S, "even_crop": bool,
//    "mean": [r,g,b], "std": [r,g,b]}
// native keeps the size; resize is a square antialiased bilinear resize to S (torch semantics);
// center_crop takes the central SxS (images smaller than S are resized up first).
// even_crop drops a last odd row/column, as NPR's authors do for native-size testing.
at::Tensor prepare_image(const at::Tensor& rgb_hwc, const nlohmann::json& input);

}  // namespace dfscan::detectors
