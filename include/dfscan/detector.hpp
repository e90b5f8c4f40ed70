#pragma once
// A loaded detector: one model file (.safetensors + manifest) bound to a device.
// Architectures register themselves in src/detectors/; adding one means adding files there.
#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace dfscan {

class Detector {
 public:
  // Loads a model by name (resolved against the model folders) or by path. Throws dfscan::Error.
  static Detector load(const std::string& name_or_path, c10::Device device);

  const nlohmann::json& manifest() const;
  const std::string& name() const;
  const std::string& arch() const;
  // "image" (whole image), "face" (face crops) or "audio".
  const std::string& modality() const;
  // The manifest's content hash ("sha256:...").
  const std::string& hash() const;
  // {"name", "arch", "modality", "hash"}: which model this is, as run reports name it.
  nlohmann::json identity() const;
  double threshold() const;
  c10::Device device() const;

  // RGB uint8 image [H,W,3] on CPU -> one normalised network input [3,h,w] on CPU, following the
  // manifest's preprocessing (mean/std, resize mode, even-crop).
  at::Tensor prepare(const at::Tensor& rgb_hwc) const;
  // A batch of prepared inputs [N,3,h,w] -> raw network outputs [N,K], on CPU.
  at::Tensor logits(const at::Tensor& batch) const;
  // Prepared inputs, one sample each (an image [3,h,w], an audio window [T]), scored `batch_size`
  // at a time -> [N,K] on CPU. On CUDA each batch is copied from pinned memory while the previous
  // one computes, with a single wait at the end.
  at::Tensor logits(const std::vector<at::Tensor>& inputs, int batch_size) const;
  // Raw outputs [N,K] -> P(fake) [N] as CONVENTIONS.md defines it for this model.
  at::Tensor scores(const at::Tensor& logits) const;
  // Per-run options the architecture understands, e.g. {"vae_sampling": "reference", "seed": 0}.
  // Architectures without options ignore them.
  void configure(const nlohmann::json& options);

  struct Impl;

 private:
  explicit Detector(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Folders searched for model names, in order: $DFSCAN_MODELS_DIR (or ~/.local/share/dfscan/models),
// the shipped models next to the installed binary, then the source tree's models/.
std::vector<std::filesystem::path> model_search_dirs();
// A path is used as given; a bare name NAME resolves to DIR/NAME.safetensors in the first folder
// that has it. Throws dfscan::Error(not_found) listing the folders searched.
std::filesystem::path resolve_model(const std::string& name_or_path);

struct ImportOptions {
  std::string arch;
  std::string name;         // defaults to the output file's stem
  double threshold = -1.0;  // < 0: the architecture's default
  std::string notes;
  bool strict = false;  // unexpected checkpoint keys are fatal
};
struct ImportResult {
  std::vector<std::string> unexpected_keys;     // ignored (non-strict) keys, named for the user
  std::vector<std::string> non_finite_tensors;  // holding NaN or infinity: a broken checkpoint, likely
  std::string hash;
};
// Converts an official PyTorch checkpoint into a dfscan model file (written atomically).
ImportResult import_checkpoint(const std::filesystem::path& src, const std::filesystem::path& out,
                               const ImportOptions& options);

// Architecture names known to this build, sorted.
std::vector<std::string> registered_architectures();

}  // namespace dfscan
