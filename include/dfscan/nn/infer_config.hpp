#pragma once
// Network configs read off a checkpoint's tensor shapes, so that importing an official checkpoint
// needs only the architecture's name. Works on name -> shape maps, which a state dict, a module or
// a state_dict_shapes.json all provide.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dfscan/nn/convnext.hpp"
#include "dfscan/nn/genconvit.hpp"
#include "dfscan/nn/npr.hpp"
#include "dfscan/nn/swin.hpp"

namespace dfscan::nn {

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

// Every parameter and buffer of the module, by its state-dict name.
ShapeMap shapes_of(const torch::nn::Module& module);

// Each throws dfscan::Error(Status::error) naming the key that is missing or inconsistent.
// `prefix` is prepended to every key, e.g. "backbone." or "".
ConvNeXtConfig infer_convnext_config(const ShapeMap& shapes, const std::string& prefix = "");
// img_size comes from the first shifted-window mask; `default_img_size` is used when no stage has one.
SwinConfig infer_swin_config(const ShapeMap& shapes, const std::string& prefix = "",
                             int default_img_size = 224);
NprConfig infer_npr_config(const ShapeMap& shapes);

enum class GenConViTArch { ed, vae };
GenConViTConfig infer_genconvit_config(const ShapeMap& shapes, GenConViTArch arch);

}  // namespace dfscan::nn
