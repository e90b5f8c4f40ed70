#pragma once
// PyTorch checkpoints (.pth) read without Python, and state dicts copied into LibTorch modules.
#include <ATen/Tensor.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace torch::nn {
class Module;
}

namespace dfscan::io {

// Name -> tensor map that preserves checkpoint order.
class StateDict {
 public:
  using Entry = std::pair<std::string, at::Tensor>;
  using const_iterator = std::vector<Entry>::const_iterator;

  // Throws dfscan::Error on a duplicate key.
  void insert(std::string key, at::Tensor tensor);
  bool contains(const std::string& key) const;
  // Throws dfscan::Error naming the key.
  const at::Tensor& at(const std::string& key) const;
  // nullptr when absent.
  const at::Tensor* find(const std::string& key) const;
  const std::vector<std::string>& keys() const { return keys_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  // (key, tensor) pairs in insertion order.
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  const Entry& entry(size_t index) const { return entries_.at(index); }

 private:
  std::vector<Entry> entries_;
  std::vector<std::string> keys_;
  std::unordered_map<std::string, size_t> index_;
};

// Reads a zip-format torch.save file whose top level is a dict or OrderedDict of tensors
// (also plain dicts such as {"input": x, "output": y}). Unwraps {"state_dict": ...} and {"model": ...}
// and strips a leading "module." from every key. Tensors always land on the CPU.
// Only the classes a state dict needs may appear in the pickle (like torch.load(weights_only=True)).
// Throws dfscan::Error (one line) otherwise.
StateDict read_pth(const std::filesystem::path& path);

// The same file opened for reading one tensor at a time, for checkpoints too large to hold twice:
// names, dtypes and shapes come from the pickle alone, and load() reads one tensor's storage record
// from the archive and keeps nothing. Same checks, unwrapping and "module." stripping as read_pth.
class PthReader {
 public:
  struct Entry {
    std::string name;
    at::ScalarType dtype;
    std::vector<int64_t> sizes;
  };
  // Throws dfscan::Error (one line, naming the file).
  explicit PthReader(const std::filesystem::path& path);
  ~PthReader();
  PthReader(PthReader&&) noexcept;
  PthReader& operator=(PthReader&&) noexcept;

  // In checkpoint order.
  const std::vector<Entry>& entries() const;
  // A CPU tensor over its own copy of the storage record (tensors sharing a storage each read it).
  // Throws dfscan::Error naming the key when it is absent or its record is damaged.
  at::Tensor load(const std::string& name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct LoadReport {
  std::vector<std::string> missing;     // always empty on return: missing keys throw
  std::vector<std::string> unexpected;  // checkpoint keys the module does not have (non-strict only)
};

// Name and shape of each tensor, in order.
using NamedShapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// The checks load_into makes, on names and shapes alone (`model`: what the module holds; `checkpoint`:
// what the file has): missing keys -> throws naming them (first few + count); shape mismatch -> throws
// naming the key and both shapes; unexpected keys -> throws when strict, otherwise returned.
LoadReport check_keys(const NamedShapes& model, const NamedShapes& checkpoint, bool strict);

// Called with the source bytes of each copied slice of a contiguous CPU source tensor, after the copy.
using CopiedBytes = std::function<void(const void* data, size_t bytes)>;

// Copies tensors into the module's parameters and buffers by name (no grad, copy_ in place, dtype and
// device converted) after check_keys has passed; nothing is copied otherwise. Large contiguous sources
// are copied a slice at a time and each slice reported to `on_copied` (e.g. to release mapped pages).
LoadReport load_into(torch::nn::Module& module, const StateDict& state, bool strict,
                     const CopiedBytes& on_copied = {});

}  // namespace dfscan::io
