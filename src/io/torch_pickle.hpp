#pragma once
// A restricted unpickler for the data.pkl record of a zip-format torch.save file.
// It understands the opcodes pickle protocols 2 (and the simple ones of 4) emit for dicts of tensors and
// refuses every global that a state dict does not need.
#include <ATen/Tensor.h>
#include <c10/core/ScalarType.h>
#include <c10/core/Storage.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dfscan::io::detail {

// Returns the bytes of storage `key` (record data/<key>) holding `numel` elements of `dtype`.
// The loader checks that the record is at least that large.
using StorageLoader =
    std::function<c10::Storage(const std::string& key, at::ScalarType dtype, int64_t numel)>;

// One entry of the top-level dict as the pickle describes it; its bytes stay in record data/<storage_key>.
// The view (offset, sizes, strides) has been checked to lie inside the storage's storage_numel elements.
struct TensorRecord {
  std::string name;
  std::string storage_key;
  at::ScalarType dtype;
  int64_t storage_numel;
  int64_t offset;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
};

// Unpickles `pickle` (after unwrapping {"state_dict": ...} or {"model": ...}) without reading any
// storage. Throws dfscan::Error.
std::vector<TensorRecord> unpickle_tensor_records(std::string_view pickle);

// The record's view over `storage` (which must hold the record's storage).
at::Tensor tensor_from_record(const TensorRecord& record, const c10::Storage& storage);

// Unpickles `pickle` and returns the (name, tensor) entries of its top-level dict, after unwrapping
// {"state_dict": ...} or {"model": ...}. Storages are loaded on demand, once each, so tensors that are not
// returned (an optimizer's state next to "state_dict") are never read. Throws dfscan::Error.
std::vector<std::pair<std::string, at::Tensor>> unpickle_tensor_dict(std::string_view pickle,
                                                                     const StorageLoader& load_storage);

// Bytes per element for the storage dtypes a checkpoint may hold.
size_t element_size(at::ScalarType dtype);

}  // namespace dfscan::io::detail
