#include "dfscan/checkpoint.hpp"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <new>
#include <sstream>
#include <unordered_map>
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

// The archive with its checks done, and the tensors its pickle lists.
struct Archive {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  std::vector<detail::TensorRecord> records;
};

Archive open_archive(const std::filesystem::path& path) {
  check_signature(path);
  Archive archive;
  archive.reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path.string());
  auto& reader = *archive.reader;
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
  archive.records =
      detail::unpickle_tensor_records(std::string_view(static_cast<const char*>(pkl_ptr.get()), pkl_size));
  return archive;
}

// Reads storage record data/<key> whole (getRecord allocates exactly its size).
c10::Storage load_storage(caffe2::serialize::PyTorchStreamReader& reader, const std::string& key,
                          at::ScalarType dtype, int64_t numel) {
  std::string name = "data/" + key;
  if (!reader.hasRecord(name)) throw Error(Status::decode_error, "storage record '" + name + "' is missing");
  auto [ptr, size] = reader.getRecord(name);
  auto bytes = static_cast<size_t>(numel) * detail::element_size(dtype);  // overflow checked by the unpickler
  if (size < bytes)
    throw Error(Status::truncated, "storage record '" + name + "' holds " + std::to_string(size) +
                                       " bytes, expected " + std::to_string(bytes));
  return c10::Storage(c10::Storage::use_byte_size_t(), static_cast<int64_t>(bytes), std::move(ptr), nullptr,
                      false);
}

// DataParallel checkpoints prefix every key with "module.".
std::string without_module_prefix(const std::string& key) {
  static const std::string kPrefix = "module.";
  return key.compare(0, kPrefix.size(), kPrefix) == 0 ? key.substr(kPrefix.size()) : key;
}

// Runs `body`, turning every failure into a one-line dfscan::Error that starts with the file name.
template <typename Body>
auto in_file(const std::filesystem::path& path, Body&& body) -> decltype(body()) {
  const std::string where = path.string() + ": ";
  try {
    return body();
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
}

}  // namespace

StateDict read_pth(const std::filesystem::path& path) {
  return in_file(path, [&] {
    Archive archive = open_archive(path);
    std::unordered_map<std::string, c10::Storage> loaded;  // shared storages stay shared
    StateDict out;
    for (const auto& record : archive.records) {
      auto it = loaded.find(record.storage_key);
      if (it == loaded.end())
        it = loaded
                 .emplace(record.storage_key, load_storage(*archive.reader, record.storage_key, record.dtype,
                                                           record.storage_numel))
                 .first;
      out.insert(without_module_prefix(record.name), detail::tensor_from_record(record, it->second));
    }
    return out;
  });
}

// ---- PthReader ------------------------------------------------------------------------------------

struct PthReader::Impl {
  std::filesystem::path path;
  Archive archive;
  std::vector<Entry> entries;
  std::unordered_map<std::string, size_t> index;  // name -> record
};

PthReader::PthReader(const std::filesystem::path& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  in_file(path, [&] {
    impl_->archive = open_archive(path);
    for (size_t i = 0; i < impl_->archive.records.size(); ++i) {
      const auto& record = impl_->archive.records[i];
      std::string name = without_module_prefix(record.name);
      if (!impl_->index.emplace(name, i).second)
        throw Error(Status::error, "duplicate state-dict key '" + name + "'");
      impl_->entries.push_back(Entry{std::move(name), record.dtype, record.sizes});
    }
  });
}

PthReader::~PthReader() = default;
PthReader::PthReader(PthReader&&) noexcept = default;
PthReader& PthReader::operator=(PthReader&&) noexcept = default;

const std::vector<PthReader::Entry>& PthReader::entries() const {
  return impl_->entries;
}

at::Tensor PthReader::load(const std::string& name) const {
  return in_file(impl_->path, [&] {
    auto it = impl_->index.find(name);
    if (it == impl_->index.end()) throw Error(Status::error, "state dict has no key '" + name + "'");
    const auto& record = impl_->archive.records[it->second];
    return detail::tensor_from_record(
        record, load_storage(*impl_->archive.reader, record.storage_key, record.dtype, record.storage_numel));
  });
}

// ---- load_into ------------------------------------------------------------------------------------

LoadReport check_keys(const NamedShapes& model, const NamedShapes& checkpoint, bool strict) {
  std::unordered_map<std::string, const std::vector<int64_t>*> have;
  for (const auto& [name, sizes] : checkpoint) have.emplace(name, &sizes);
  LoadReport report;
  std::unordered_set<std::string> wanted;
  for (const auto& [name, sizes] : model) {
    wanted.insert(name);
    auto it = have.find(name);
    if (it == have.end()) {
      report.missing.push_back(name);
      continue;
    }
    if (*it->second != sizes)
      throw Error(Status::error, "shape mismatch for '" + name + "': checkpoint " + shape_text(*it->second) +
                                     ", model " + shape_text(sizes));
  }
  for (const auto& [name, sizes] : checkpoint)
    if (!wanted.count(name)) report.unexpected.push_back(name);

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
  return report;
}

LoadReport load_into(torch::nn::Module& module, const StateDict& state, bool strict,
                     const CopiedBytes& on_copied) {
  std::vector<std::pair<std::string, at::Tensor>> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    targets.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true))
    targets.emplace_back(item.key(), item.value());

  NamedShapes model_shapes, checkpoint_shapes;
  for (const auto& [name, target] : targets) model_shapes.emplace_back(name, target.sizes().vec());
  for (const auto& [name, tensor] : state) checkpoint_shapes.emplace_back(name, tensor.sizes().vec());
  LoadReport report = check_keys(model_shapes, checkpoint_shapes, strict);

  // Slices bound the extra memory a caller needs while it releases each copied slice.
  constexpr int64_t kSliceBytes = int64_t{64} << 20;
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    const at::Tensor& source = state.at(name);
    try {
      const bool sliced = on_copied && source.device().is_cpu() && source.is_contiguous() &&
                          target.is_contiguous() && source.scalar_type() == target.scalar_type();
      if (!sliced) {
        target.copy_(source);
        if (on_copied && source.device().is_cpu() && source.is_contiguous())
          on_copied(source.data_ptr(), source.nbytes());
        continue;
      }
      auto from = source.reshape({-1});
      auto to = target.view({-1});
      const int64_t step = std::max<int64_t>(1, kSliceBytes / static_cast<int64_t>(source.element_size()));
      for (int64_t begin = 0; begin < from.numel(); begin += step) {
        const int64_t count = std::min(step, from.numel() - begin);
        auto slice = from.narrow(0, begin, count);
        to.narrow(0, begin, count).copy_(slice);
        on_copied(slice.data_ptr(), static_cast<size_t>(count) * source.element_size());
      }
    } catch (const c10::Error& e) {
      throw Error(Status::error, "cannot copy '" + name + "': " + one_line(e.what()));
    }
  }
  return report;
}

}  // namespace dfscan::io
