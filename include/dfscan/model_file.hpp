#pragma once
// dfscan's native model file: one .safetensors file whose header `__metadata__` holds one key, "dfscan",
// whose value is the JSON manifest as a string. The manifest carries "hash": "sha256:<hex>", the content
// hash over the manifest (without "hash") and every tensor; see content_hash().
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

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

struct ModelFile {
  nlohmann::json manifest;  // includes "hash"; null for a plain safetensors file
  StateDict tensors;        // in file order; CPU tensors over a private memory map of the file
};

// Writes `state` and `manifest` (any JSON object; a "hash" in it is replaced) to `path` atomically
// (temporary + fsync + rename). Tensors go in order of decreasing element size, then insertion order, so
// that every tensor is aligned in the file. Returns the content hash "sha256:<hex>". Throws dfscan::Error.
std::string write_model_file(const std::filesystem::path& path, const StateDict& state,
                             const nlohmann::json& manifest, const WriteOptions& options = {});

// Memory-maps and validates `path`. Hostile or truncated files throw dfscan::Error and are never read
// out of bounds. Tensors share the mapping (copy-on-write); it is unmapped when the last one is freed.
ModelFile read_model_file(const std::filesystem::path& path, const ReadOptions& options = {});

// "sha256:<hex>" over a canonical serialisation: the tag "dfscan-model-hash/1", then the manifest without
// "hash" as nlohmann dump() text (keys sorted), then for each tensor in sorted name order its name,
// safetensors dtype name, shape and raw little-endian bytes; every field is preceded by its length as a
// uint64 LE. Tensors are hashed as they are stored (a float16 file has another hash than its float32 source).
std::string content_hash(const StateDict& state, const nlohmann::json& manifest);

// The safetensors dtype name ("F32", "BOOL", ...) of a tensor dtype; throws for dtypes the format lacks.
std::string safetensors_dtype(at::ScalarType dtype);

}  // namespace dfscan::io
