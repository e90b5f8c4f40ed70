#include "dfscan/detector.hpp"

#include <torch/torch.h>

#include <cstdlib>
#include <unordered_map>

#include "detectors/architecture.hpp"
#include "detectors/device_copy.hpp"
#include "detectors/preprocess.hpp"
#include "dfscan/config.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/status.hpp"

namespace dfscan {
namespace fs = std::filesystem;

struct Detector::Impl {
  nlohmann::json manifest;
  const detectors::Architecture* arch = nullptr;
  std::shared_ptr<torch::nn::Module> net;
  c10::Device device{c10::kCPU};
  std::string name, arch_name, modality, hash;
  double threshold = 0.5;
  std::string activation = "sigmoid";
  int fake_index = 0;
  bool channels_last = false;  // 4-D weights and inputs in channels-last layout
};

Detector::Detector(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

namespace {

// Checks the manifest fields every model needs, so that a bad file fails here, by name.
void validate_manifest(const nlohmann::json& m, const std::string& where) {
  for (const char* key : {"arch", "modality", "input", "score", "threshold"})
    if (!m.contains(key)) throw Error(Status::error, where + ": model manifest has no '" + key + "'");
  const auto& score = m["score"];
  const std::string act = score.value("activation", "");
  if (act != "sigmoid" && act != "softmax")
    throw Error(Status::error, where + ": unknown score activation '" + act + "'");
}

}  // namespace

Detector Detector::load(const std::string& name_or_path, c10::Device device) {
  const auto path = resolve_model(name_or_path);
  io::ReadOptions read;
  read.to_float32 = true;  // shipped models may store float16
  auto file = io::read_model_file(path, read);
  auto impl = std::make_shared<Impl>();
  impl->manifest = file.manifest;
  validate_manifest(impl->manifest, path.string());
  impl->arch_name = impl->manifest["arch"].get<std::string>();
  impl->arch = &detectors::find_architecture(impl->arch_name);
  impl->modality = impl->manifest["modality"].get<std::string>();
  if (impl->modality != impl->arch->modality)
    throw Error(Status::error, path.string() + ": manifest says modality '" + impl->modality + "' but " +
                                   impl->arch_name + " is a '" + impl->arch->modality + "' architecture");
  impl->name = impl->manifest.value("name", path.stem().string());
  impl->hash = impl->manifest.value("hash", "");
  impl->threshold = impl->manifest["threshold"].get<double>();
  impl->activation = impl->manifest["score"].value("activation", "sigmoid");
  impl->fake_index = impl->manifest["score"].value("fake_index", 0);
  impl->net = impl->arch->build(impl->manifest.value("config", nlohmann::json::object()));
  // Copies out of the mapping a slice at a time and hands each copied slice's pages back, so that
  // loading needs about the network's own memory, not that plus the file.
  io::load_into(*impl->net, file.tensors, /*strict=*/true,
                [&file](const void* data, size_t bytes) { file.release_pages(data, bytes); });
  impl->net->eval();
  impl->net->to(device);
  impl->device = device;
  // On the CPU, oneDNN's convolutions run channels-last: GenConViT-ED-atto, batch 15, 2 threads,
  // 185 -> 155 ms (`dfscan bench --channels-last`). Only the summation order changes (about 1e-6).
  // CUDA keeps the default layout: there it is a per-precision choice for `dfscan bench`.
  if (device.is_cpu()) impl->channels_last = detectors::to_channels_last(*impl->net);
  return Detector(impl);
}

const nlohmann::json& Detector::manifest() const {
  return impl_->manifest;
}
const std::string& Detector::name() const {
  return impl_->name;
}
const std::string& Detector::arch() const {
  return impl_->arch_name;
}
const std::string& Detector::modality() const {
  return impl_->modality;
}
const std::string& Detector::hash() const {
  return impl_->hash;
}
nlohmann::json Detector::identity() const {
  return {{"name", name()}, {"arch", arch()}, {"modality", modality()}, {"hash", hash()}};
}

double Detector::threshold() const {
  return impl_->threshold;
}
c10::Device Detector::device() const {
  return impl_->device;
}

at::Tensor Detector::prepare(const at::Tensor& rgb_hwc) const {
  return detectors::prepare_image(rgb_hwc, impl_->manifest["input"]);
}

namespace {

// The network's raw outputs for one batch, left on the device (no wait for the result).
at::Tensor forward_on_device(const Detector::Impl& d, const at::Tensor& batch) {
  auto input = detectors::to_device(batch, d.device);
  if (d.channels_last && input.dim() == 4) input = input.contiguous(at::MemoryFormat::ChannelsLast);
  return d.arch->forward(*d.net, input, d.manifest);
}

// A NaN or infinite output is never a score (it would print as null under an "ok" status, with a
// label from a failed comparison): broken weights, or an overflow in reduced precision.
at::Tensor finite_or_throw(at::Tensor logits, const std::string& name) {
  if (!torch::isfinite(logits).all().item<bool>())
    throw Error(Status::error,
                "model '" + name + "' gave a non-finite output (NaN or infinity); its weights may be broken");
  return logits;
}

}  // namespace

at::Tensor Detector::logits(const at::Tensor& batch) const {
  torch::NoGradGuard no_grad;
  return finite_or_throw(forward_on_device(*impl_, batch).to(torch::kCPU).to(torch::kFloat), name());
}

at::Tensor Detector::logits(const std::vector<at::Tensor>& inputs, int batch_size) const {
  if (inputs.empty()) throw Error(Status::error, "no inputs to score");
  if (batch_size < 1) throw Error(Status::error, "batch size must be >= 1");
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> outputs;
  for (size_t i = 0; i < inputs.size(); i += static_cast<size_t>(batch_size)) {
    const auto end = std::min(inputs.size(), i + static_cast<size_t>(batch_size));
    const std::vector<at::Tensor> chunk(inputs.begin() + static_cast<std::ptrdiff_t>(i),
                                        inputs.begin() + static_cast<std::ptrdiff_t>(end));
    outputs.push_back(
        forward_on_device(*impl_, detectors::stack_for(chunk, impl_->device)).to(torch::kFloat));
  }
  return finite_or_throw(torch::cat(outputs).to(torch::kCPU), name());
}

at::Tensor Detector::scores(const at::Tensor& logits) const {
  if (impl_->activation == "sigmoid") return torch::sigmoid(logits.select(1, 0));
  return torch::softmax(logits, 1).select(1, impl_->fake_index);
}

void Detector::configure(const nlohmann::json& options) {
  if (impl_->arch->configure) impl_->arch->configure(*impl_->net, options);
}

std::vector<fs::path> model_search_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("DFSCAN_MODELS_DIR"); env && *env) {
    dirs.emplace_back(env);
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dirs.push_back(fs::path(home) / ".local/share/dfscan/models");
  }
  // Installed next to the binary: <prefix>/bin/dfscan -> <prefix>/share/dfscan/models.
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path().parent_path() / "share/dfscan/models");
  dirs.emplace_back(DFSCAN_INSTALL_MODELS_DIR);
  dirs.emplace_back(DFSCAN_SOURCE_MODELS_DIR);
  return dirs;
}

fs::path resolve_model(const std::string& name_or_path) {
  const fs::path given(name_or_path);
  const bool looks_like_path =
      name_or_path.find('/') != std::string::npos || given.extension() == ".safetensors";
  if (looks_like_path) {
    if (!fs::exists(given)) throw Error(Status::not_found, "model file not found: " + name_or_path);
    return given;
  }
  std::string searched;
  for (const auto& dir : model_search_dirs()) {
    auto candidate = dir / (name_or_path + ".safetensors");
    if (fs::is_regular_file(candidate)) return candidate;
    searched += (searched.empty() ? "" : ", ") + dir.string();
  }
  throw Error(Status::not_found, "model '" + name_or_path + "' not found (searched " + searched + ")");
}

ImportResult import_checkpoint(const fs::path& src, const fs::path& out, const ImportOptions& options) {
  const auto& arch = detectors::find_architecture(options.arch);
  // Tensor by tensor: the official VAE is 2.6 GB, so neither the checkpoint nor a second copy of the
  // weights is ever held whole. Shapes come from the pickle alone (meta tensors for config inference).
  io::PthReader pth(src);
  io::StateDict shapes_only;
  io::NamedShapes checkpoint_shapes;
  for (const auto& e : pth.entries()) {
    shapes_only.insert(e.name, at::empty(e.sizes, at::TensorOptions().dtype(e.dtype).device(c10::kMeta)));
    checkpoint_shapes.emplace_back(e.name, e.sizes);
  }
  nlohmann::json config;
  try {
    config = arch.infer_config(shapes_only);
  } catch (const Error& e) {
    // A checkpoint of another architecture is the usual cause: name the ones whose layout fits.
    std::string fits;
    for (const auto& name : detectors::architecture_names()) {
      const auto& other = detectors::find_architecture(name);
      if (name == arch.name || !other.infer_config) continue;
      try {
        (void)other.infer_config(shapes_only);
        fits += (fits.empty() ? "" : " or ") + std::string("--arch ") + name;
      } catch (const Error&) {
      }
    }
    if (fits.empty()) throw;
    throw Error(e.status(), std::string(e.what()) + "; this checkpoint's layout is that of " + fits);
  }

  // What the module holds, in its own naming and order, so that loading the result is strict. A module
  // registered under two names (GenConViT's Swin) holds one tensor; like load_into, the last name wins.
  std::vector<io::ModelFileWriter::Spec> specs;
  io::NamedShapes model_shapes;
  std::vector<std::string> source_of;
  {
    auto net = arch.build(config);
    std::vector<std::pair<std::string, at::Tensor>> targets;
    for (const auto& item : net->named_parameters()) targets.emplace_back(item.key(), item.value());
    for (const auto& item : net->named_buffers()) targets.emplace_back(item.key(), item.value());
    std::unordered_map<const void*, std::string> last_name;
    for (const auto& [name, t] : targets)
      if (t.numel() > 0) last_name[t.data_ptr()] = name;
    for (const auto& [name, t] : targets) {
      specs.push_back({name, t.scalar_type(), t.sizes().vec()});
      model_shapes.emplace_back(name, t.sizes().vec());
      source_of.push_back(t.numel() > 0 ? last_name.at(t.data_ptr()) : name);
    }
  }  // the randomly initialised network is freed before any weight is read
  const auto report = io::check_keys(model_shapes, checkpoint_shapes, options.strict);

  nlohmann::json manifest = arch.defaults();
  manifest["format"] = "dfscan.model/1";
  manifest["arch"] = arch.name;
  manifest["config"] = config;
  manifest["modality"] = arch.modality;
  manifest["name"] = options.name.empty() ? out.stem().string() : options.name;
  if (options.threshold >= 0) {
    manifest["threshold"] = options.threshold;
    manifest["threshold_source"] = "set by the user at import";
  }
  manifest["provenance"] = {{"imported_from", src.filename().string()}, {"notes", options.notes}};
  manifest["dfscan_version"] = DFSCAN_VERSION;

  io::ModelFileWriter writer(out, specs, manifest);
  ImportResult result;
  for (size_t i = 0; i < specs.size(); ++i) {
    auto t = pth.load(source_of[i]).to(specs[i].dtype);
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>())
      result.non_finite_tensors.push_back(specs[i].name);
    writer.write(specs[i].name, t);
  }
  result.unexpected_keys = report.unexpected;
  result.hash = writer.commit();
  return result;
}

}  // namespace dfscan
