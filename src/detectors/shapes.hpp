#pragma once
#include "dfscan/checkpoint.hpp"
#include "dfscan/nn/infer_config.hpp"

namespace dfscan::detectors {

// Name -> shape of every tensor in a checkpoint, for the nn/ config inference.
inline nn::ShapeMap shape_map(const io::StateDict& state) {
  nn::ShapeMap shapes;
  for (const auto& [key, tensor] : state) shapes[key] = tensor.sizes().vec();
  return shapes;
}

}  // namespace dfscan::detectors
