#include "dfscan/checkpoint.hpp"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <fstream>
#include <new>
#include <sstream>
#include <unordered_set>

#include "dfscan/status.hpp"
#include "io/torch_pickle.hpp"

namespace dfscan::io {

// ---- StateDict ------------------------------------------------------------------------------------

void StateDict::insert(std::string key, at::Tensor tensor) {
  if (index_.count(key)) throw Error(Status::error, "duplicate state-dict key '" + key + "'");
  index_.emplace(key, entries_.size());
  keys_.push_back(key);
  entries_.emplace_back(std::move(key), std::move(tensor));
}

bool StateDict::contains(const std::string& key) const {
  return index_.count(key) != 0;
}

const at::Tensor* StateDict::find(const std::string& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

const at::Tensor& StateDict::at(const std::string& key) const {
  const at::Tensor* t = find(key);
  if (!t) throw Error(Status::error, "state dict has no key '" + key + "'");
  return *t;
}

// ---- read_pth -------------------------------------------------------------------------------------

namespace {

std::string shape_text(at::IntArrayRef sizes) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < sizes.size(); ++i) out << (i ? ", " : "") << sizes[i];
  out << ']';
  return out.str();
}

std::string name_list(const std::vector<std::string>& names) {
  constexpr size_t kShown = 5;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kShown) out += " (and " + std::to_string(names.size() - kShown) + " more)";
  return out;
}

// Classifies the file from its first bytes before the zip reader sees it.
void check_signature(const std::filesystem::path& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st)) throw Error(Status::not_found, "no such file");
  if (std::filesystem::is_directory(st)) throw Error(Status::unsupported, "is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Status::permission_denied, "cannot open file");
  unsigned char head[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  auto got = in.gcount();
  if (got == 0) throw Error(Status::empty, "empty file");
  // The legacy format is a bare pickle stream: PROTO opcode first.
  if (head[0] == 0x80)
    throw Error(Status::unsupported,
                "legacy (pre-1.6) torch.save format is not supported; re-save with torch.save(..., "
                "_use_new_zipfile_serialization=True)");
  bool zip = got == 4 && head[0] == 'P' && head[1] == 'K' &&
             ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6));
  if (!zip) throw Error(Status::unsupported, "not a zip-format torch.save checkpoint");
}

StateDict read_pth_unprefixed(const std::filesystem::path& path) {
  check_signature(path);
  caffe2::serialize::PyTorchStreamReader reader(path.string());
  if (reader.hasRecord("constants.pkl") || reader.hasRecord("code/__torch__.py"))
    throw Error(Status::unsupported, "TorchScript archive, not a state dict saved with torch.save");
  if (!reader.hasRecord("data.pkl")) throw Error(Status::unsupported, "archive has no data.pkl record");
  if (reader.hasRecord("byteorder")) {
    auto [ptr, size] = reader.getRecord("byteorder");
    std::string order(static_cast<const char*>(ptr.get()), size);
    if (order != "little")
      throw Error(Status::unsupported, "checkpoint byte order '" + order + "' is not supported");
  }
  auto [pkl_ptr, pkl_size] = reader.getRecord("data.pkl");
  std::string_view pickle(static_cast<const char*>(pkl_ptr.get()), pkl_size);

  detail::StorageLoader load = [&reader](const std::string& key, at::ScalarType dtype, int64_t numel) {
    std::string name = "data/" + key;
    if (!reader.hasRecord(name))
      throw Error(Status::decode_error, "storage record '" + name + "' is missing");
    auto [ptr, size] = reader.getRecord(name);
    auto bytes =
        static_cast<size_t>(numel) * detail::element_size(dtype);  // overflow checked by the unpickler
    if (size < bytes)
      throw Error(Status::truncated, "storage record '" + name + "' holds " + std::to_string(size) +
                                         " bytes, expected " + std::to_string(bytes));
    return c10::Storage(c10::Storage::use_byte_size_t(), static_cast<int64_t>(bytes), std::move(ptr), nullptr,
                        false);
  };

  StateDict out;
  for (auto& [name, tensor] : detail::unpickle_tensor_dict(pickle, load)) out.insert(name, tensor);
  return out;
}

}  // namespace

StateDict read_pth(const std::filesystem::path& path) {
  const std::string where = path.string() + ": ";
  StateDict raw;
  try {
    raw = read_pth_unprefixed(path);
  } catch (const Error& e) {
    throw Error(e.status(), where + e.what());
  } catch (const c10::Error& e) {
    throw Error(Status::decode_error,
                where + "corrupt or truncated checkpoint archive: " + one_line(e.what()));
  } catch (const std::bad_alloc&) {
    throw Error(Status::too_large, where + "out of memory while reading the checkpoint");
  } catch (const std::exception& e) {
    throw Error(Status::error, where + one_line(e.what()));
  }
  // DataParallel checkpoints prefix every key with "module.".
  static const std::string kPrefix = "module.";
  StateDict out;
  try {
    for (const auto& [key, tensor] : raw)
      out.insert(key.compare(0, kPrefix.size(), kPrefix) == 0 ? key.substr(kPrefix.size()) : key, tensor);
  } catch (const Error& e) {
    throw Error(e.status(), where + e.what());
  }
  return out;
}

// ---- load_into ------------------------------------------------------------------------------------

LoadReport load_into(torch::nn::Module& module, const StateDict& state, bool strict) {
  std::vector<std::pair<std::string, at::Tensor>> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    targets.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true))
    targets.emplace_back(item.key(), item.value());

  LoadReport report;
  std::unordered_set<std::string> wanted;
  for (const auto& [name, target] : targets) {
    wanted.insert(name);
    const at::Tensor* source = state.find(name);
    if (!source) {
      report.missing.push_back(name);
      continue;
    }
    if (source->sizes() != target.sizes())
      throw Error(Status::error, "shape mismatch for '" + name + "': checkpoint " +
                                     shape_text(source->sizes()) + ", model " + shape_text(target.sizes()));
  }
  for (const auto& key : state.keys())
    if (!wanted.count(key)) report.unexpected.push_back(key);

  if (!report.missing.empty()) {
    std::string message = std::to_string(report.missing.size()) +
                          " model key(s) missing from the checkpoint: " + name_list(report.missing);
    if (strict && !report.unexpected.empty())
      message += "; " + std::to_string(report.unexpected.size()) +
                 " unexpected checkpoint key(s): " + name_list(report.unexpected);
    throw Error(Status::error, message);
  }
  if (strict && !report.unexpected.empty())
    throw Error(Status::error, std::to_string(report.unexpected.size()) +
                                   " unexpected checkpoint key(s): " + name_list(report.unexpected));

  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    try {
      target.copy_(state.at(name));
    } catch (const c10::Error& e) {
      throw Error(Status::error, "cannot copy '" + name + "': " + one_line(e.what()));
    }
  }
  return report;
}

}  // namespace dfscan::io
