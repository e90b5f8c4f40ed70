#pragma once
// Per-epoch training checkpoints: model + optimizer state + RNG state + a JSON record of the epoch,
// step, scheduler, sampler position, selection state and log position. Written atomically
// (temporary file + rename), so a crash leaves either the previous checkpoint or the new one.
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace dfscan::train {

// DIR/epoch-NNNN.ckpt for 1-based epoch number `epoch`.
std::filesystem::path checkpoint_path(const std::filesystem::path& dir, int epoch);

// Serialises and writes atomically. Test hook: DFSCAN_TEST_KILL_AT=epoch:N:mid-write makes the
// process SIGKILL itself after writing half of epoch N's temporary file.
void save_checkpoint(const std::filesystem::path& path, torch::nn::Module& net,
                     torch::optim::Optimizer& optimizer, const nlohmann::json& meta);

// The newest complete checkpoint in `dir` (highest epoch number), or nullopt. Removes temporaries
// left by a killed writer.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& dir);

// Restores net, optimizer and the CPU generator; returns the JSON record. Throws dfscan::Error.
nlohmann::json load_checkpoint(const std::filesystem::path& path, torch::nn::Module& net,
                               torch::optim::Optimizer& optimizer);

// Parameters and buffers alone (the selected model), atomically.
void save_weights(const std::filesystem::path& path, torch::nn::Module& net);
void load_weights(const std::filesystem::path& path, torch::nn::Module& net);

}  // namespace dfscan::train
