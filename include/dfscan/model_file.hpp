#pragma once
// dfscan's native model file: one .safetensors file whose header `__metadata__` holds one key, "dfscan",
// whose value is the JSON manifest as a string. The manifest carries "hash": "sha256:<hex>", the content
// hash over the manifest (without "hash") and every tensor; see content_hash().
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dfscan/checkpoint.hpp"

namespace dfscan::io {

struct WriteOptions {
  // Store float32 tensors as float16 (half the size). Throws if a finite value overflows float16.
  bool float16 = false;
};

struct ReadOptions {
  // Recompute the content hash and throw when it differs from the manifest's "hash".
  bool verify_hash = true;
  // Throw when the file has no "dfscan" manifest (a plain safetensors file); otherwise manifest is null.
  bool require_manifest = true;
  // Convert float16 and bfloat16 tensors to float32 (e.g. for files written with WriteOptions::float16).
  bool to_float32 = false;
};

struct FileMapping;  // the memory map behind a ModelFile's tensors

struct ModelFile {
  nlohmann::json manifest;  // includes "hash"; null for a plain safetensors file
  StateDict tensors;        // in file order; CPU tensors over a private memory map of the file
  std::shared_ptr<const FileMapping> mapping;

  // Drops this process's resident copy of the whole pages of [data, data + bytes) that lie in the
  // mapping; touching them again reads them from the file. For copying tensors out without holding
  // the file in memory as well. Only for bytes no one has written to: private changes would be lost.
  void release_pages(const void* data, size_t bytes) const;
};

// Writes `state` and `manifest` (any JSON object; a "hash" in it is replaced) to `path` atomically
// (temporary + fsync + rename). Tensors go in order of decreasing element size, then insertion order, so
// that every tensor is aligned in the file. Returns the content hash "sha256:<hex>". Throws dfscan::Error.
std::string write_model_file(const std::filesystem::path& path, const StateDict& state,
                             const nlohmann::json& manifest, const WriteOptions& options = {});

// Writes a model file one tensor at a time, for models too large to hold twice in memory. The header
// comes first in the file, so every tensor is declared up front; the content hash is computed at
// commit() by reading the written data back. Same layout, order and hash as write_model_file.
class ModelFileWriter {
 public:
  struct Spec {
    std::string name;
    at::ScalarType dtype;
    std::vector<int64_t> shape;
  };
  // Creates the temporary file beside `path`. Throws dfscan::Error.
  ModelFileWriter(const std::filesystem::path& path, const std::vector<Spec>& specs,
                  const nlohmann::json& manifest);
  // Removes the temporary file unless commit() succeeded.
  ~ModelFileWriter();
  ModelFileWriter(const ModelFileWriter&) = delete;
  ModelFileWriter& operator=(const ModelFileWriter&) = delete;

  // Stores `tensor` (its declared dtype and shape) as `name`: each declared name once, in any order.
  void write(const std::string& name, const at::Tensor& tensor);
  // Checks that every tensor was written, puts the content hash into the header, then fsyncs and
  // renames the file into place. Returns the hash "sha256:<hex>".
  std::string commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Memory-maps and validates `path`. Hostile or truncated files throw dfscan::Error and are never read
// out of bounds. Tensors share the mapping (copy-on-write); it is unmapped when the last one is freed.
// Hash verification releases each page once hashed, so reading costs little resident memory.
ModelFile read_model_file(const std::filesystem::path& path, const ReadOptions& options = {});

// "sha256:<hex>" over a canonical serialisation: the tag "dfscan-model-hash/1", then the manifest without
// "hash" as nlohmann dump() text (keys sorted), then for each tensor in sorted name order its name,
// safetensors dtype name, shape and raw little-endian bytes; every field is preceded by its length as a
// uint64 LE. Tensors are hashed as they are stored (a float16 file has another hash than its float32 source).
std::string content_hash(const StateDict& state, const nlohmann::json& manifest);

// The safetensors dtype name ("F32", "BOOL", ...) of a tensor dtype; throws for dtypes the format lacks.
std::string safetensors_dtype(at::ScalarType dtype);

}  // namespace dfscan::io
