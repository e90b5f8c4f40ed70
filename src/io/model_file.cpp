#include "dfscan/model_file.hpp"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>

#include "dfscan/atomic_file.hpp"
#include "dfscan/sha256.hpp"
#include "dfscan/status.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");

namespace dfscan::io {
namespace {

constexpr const char* kHashTag = "dfscan-model-hash/1";
constexpr const char* kManifestKey = "dfscan";
constexpr uint64_t kMaxHeader = uint64_t{100} << 20;  // the reference implementation's limit
constexpr int kMaxHeaderDepth = 4;                    // {name: {shape: [..]}} and {"__metadata__": {k: v}}
constexpr int kMaxManifestDepth = 64;
constexpr size_t kMaxDims = 64;

struct DtypeName {
  at::ScalarType dtype;
  const char* name;
};
constexpr DtypeName kDtypes[] = {
    {at::kFloat, "F32"}, {at::kHalf, "F16"},  {at::kBFloat16, "BF16"}, {at::kDouble, "F64"},
    {at::kLong, "I64"},  {at::kInt, "I32"},   {at::kShort, "I16"},     {at::kChar, "I8"},
    {at::kByte, "U8"},   {at::kBool, "BOOL"},
};

std::optional<at::ScalarType> dtype_from_name(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.dtype;
  return std::nullopt;
}

// A tensor's stored form: contiguous bytes plus what the header says about them.
struct Blob {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  const uint8_t* data;
  uint64_t size;
};

void put_u64(Sha256& h, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  h.update(b, 8);
}
void put_field(Sha256& h, std::string_view s) {
  put_u64(h, s.size());
  h.update(s);
}

nlohmann::json without_hash(const nlohmann::json& manifest) {
  if (!manifest.is_object()) throw Error(Status::error, "model manifest must be a JSON object");
  nlohmann::json m = manifest;
  m.erase("hash");
  return m;
}

std::string dump(const nlohmann::json& j) {
  try {
    return j.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(Status::error, std::string("cannot serialise model manifest: ") + e.what());
  }
}

std::string hash_blobs(std::vector<const Blob*> blobs, const nlohmann::json& manifest) {
  std::sort(blobs.begin(), blobs.end(), [](const Blob* a, const Blob* b) { return a->name < b->name; });
  Sha256 h;
  put_field(h, kHashTag);
  put_field(h, dump(without_hash(manifest)));
  put_u64(h, blobs.size());
  for (const Blob* b : blobs) {
    put_field(h, b->name);
    put_field(h, b->dtype);
    put_u64(h, b->shape.size());
    for (int64_t d : b->shape) put_u64(h, static_cast<uint64_t>(d));
    put_u64(h, b->size);
    h.update(b->data, b->size);
  }
  return "sha256:" + to_hex(h.finish());
}

// Keeps contiguous CPU copies alive while their bytes are hashed or written.
struct StoredTensors {
  std::vector<at::Tensor> tensors;
  std::vector<Blob> blobs;
};

StoredTensors stored_form(const StateDict& state, bool float16) {
  StoredTensors out;
  out.tensors.reserve(state.size());
  out.blobs.reserve(state.size());
  for (const auto& [name, tensor] : state) {
    if (name.empty() || name == "__metadata__")
      throw Error(Status::error, "invalid tensor name '" + name + "'");
    at::Tensor t = tensor.detach().to(at::kCPU);
    if (float16 && t.scalar_type() == at::kFloat) {
      at::Tensor half = t.to(at::kHalf);
      if ((half.isinf() & t.isfinite()).any().item<bool>())
        throw Error(Status::error, "tensor '" + name + "' has values outside the float16 range");
      t = half;
    }
    t = t.contiguous();
    out.tensors.push_back(t);
    out.blobs.push_back(Blob{name, safetensors_dtype(t.scalar_type()), t.sizes().vec(),
                             static_cast<const uint8_t*>(t.data_ptr()), static_cast<uint64_t>(t.nbytes())});
  }
  return out;
}

// ---- reading ----------------------------------------------------------------------------------------

struct Mapping {
  void* address = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (address) ::munmap(address, size);
  }
};

[[noreturn]] void bad(const std::string& message, Status status = Status::decode_error) {
  throw Error(status, message);
}

uint64_t unsigned_field(const nlohmann::json& j, const std::string& what) {
  if (!j.is_number_unsigned()) bad(what + " must be a non-negative integer");
  return j.get<uint64_t>();
}

struct Item {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Item parse_item(const std::string& name, const nlohmann::json& info) {
  const std::string where = "tensor '" + name + "'";
  if (!info.is_object()) bad(where + ": header entry is not an object");
  auto dtype_it = info.find("dtype");
  auto shape_it = info.find("shape");
  auto offsets_it = info.find("data_offsets");
  if (dtype_it == info.end() || shape_it == info.end() || offsets_it == info.end())
    bad(where + ": header entry needs dtype, shape and data_offsets");
  if (!dtype_it->is_string()) bad(where + ": dtype is not a string");
  auto dtype = dtype_from_name(dtype_it->get<std::string>());
  if (!dtype) bad(where + ": unsupported dtype '" + dtype_it->get<std::string>() + "'", Status::unsupported);
  if (!shape_it->is_array() || shape_it->size() > kMaxDims) bad(where + ": shape is not a short array");
  if (!offsets_it->is_array() || offsets_it->size() != 2) bad(where + ": data_offsets is not a pair");

  Item item{name, *dtype, {}, 0, 0};
  uint64_t numel = 1;
  for (const auto& d : *shape_it) {
    uint64_t n = unsigned_field(d, where + " shape");
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(numel, n, &numel))
      bad(where + ": shape overflows");
    item.shape.push_back(static_cast<int64_t>(n));
  }
  item.begin = unsigned_field((*offsets_it)[0], where + " data_offsets");
  item.end = unsigned_field((*offsets_it)[1], where + " data_offsets");
  if (item.begin > item.end) bad(where + ": data_offsets begin after they end");
  uint64_t bytes;
  if (__builtin_mul_overflow(numel, uint64_t{c10::elementSize(*dtype)}, &bytes) ||
      bytes != item.end - item.begin)
    bad(where + ": shape and dtype need a different byte size than data_offsets give");
  return item;
}

nlohmann::json parse_header(std::string_view text) {
  auto limit_depth = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxHeaderDepth) bad("header JSON nests too deeply");
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), limit_depth);
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("header is not valid JSON: ") + e.what());
  }
}

ModelFile read_mapped(const std::filesystem::path& path, const ReadOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) bad("no such file", Status::not_found);
    if (err == EACCES) bad("permission denied", Status::permission_denied);
    bad(std::string("cannot open: ") + std::strerror(err), Status::error);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    bad("not a regular file", Status::unsupported);
  }
  auto file_size = static_cast<uint64_t>(st.st_size);
  if (file_size == 0) {
    ::close(fd);
    bad("empty file", Status::empty);
  }
  if (file_size < 8) {
    ::close(fd);
    bad("file is shorter than the 8-byte header length", Status::truncated);
  }
  auto mapping = std::make_shared<Mapping>();
  // Private and writable: callers may modify tensors in place without touching the file.
  void* address = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (address == MAP_FAILED) bad(std::string("cannot map file: ") + std::strerror(errno), Status::error);
  mapping->address = address;
  mapping->size = file_size;
  auto* base = static_cast<uint8_t*>(address);

  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t{base[i]} << (8 * i);
  if (header_size > file_size - 8)
    bad("header length " + std::to_string(header_size) + " runs past the end of the " +
            std::to_string(file_size) + "-byte file",
        Status::truncated);
  if (header_size > kMaxHeader) bad("header is larger than 100 MB", Status::too_large);
  nlohmann::json header =
      parse_header(std::string_view(reinterpret_cast<const char*>(base + 8), header_size));
  if (!header.is_object()) bad("header is not a JSON object");

  const uint8_t* buffer = base + 8 + header_size;
  const uint64_t buffer_size = file_size - 8 - header_size;

  ModelFile out;
  std::vector<Item> items;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) bad("__metadata__ is not an object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) bad("__metadata__ value '" + mk + "' is not a string");
        if (mk == kManifestKey) {
          try {
            const auto& text = mv.get_ref<const std::string&>();
            // dump() recurses, so the manifest's depth is bounded too.
            auto limit = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
              if (depth > kMaxManifestDepth) bad("dfscan manifest nests too deeply");
              return true;
            };
            out.manifest = nlohmann::json::parse(text.begin(), text.end(), limit);
          } catch (const nlohmann::json::exception& e) {
            bad(std::string("dfscan manifest is not valid JSON: ") + e.what());
          }
          if (!out.manifest.is_object()) bad("dfscan manifest is not a JSON object");
        }
      }
      continue;
    }
    items.push_back(parse_item(key, value));
  }

  // The byte buffer must be covered exactly: sorted by offset, each tensor starts where the last ended.
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t cursor = 0;
  for (const auto& item : items) {
    if (item.begin != cursor)
      bad("tensor '" + item.name + "' " +
          (item.begin < cursor ? "overlaps the previous tensor" : "leaves a gap"));
    cursor = item.end;
  }
  if (cursor != buffer_size)
    bad("tensors cover " + std::to_string(cursor) + " bytes but the data buffer holds " +
            std::to_string(buffer_size),
        cursor > buffer_size ? Status::truncated : Status::decode_error);

  std::vector<Blob> blobs;
  blobs.reserve(items.size());
  for (const auto& item : items) {
    const uint8_t* data = buffer + item.begin;
    uint64_t size = item.end - item.begin;
    if (item.dtype == at::kBool && std::any_of(data, data + size, [](uint8_t b) { return b > 1; }))
      bad("tensor '" + item.name + "' holds bool bytes other than 0 and 1");
    blobs.push_back(Blob{item.name, safetensors_dtype(item.dtype), item.shape, data, size});
  }

  if (out.manifest.is_null()) {
    if (options.require_manifest) bad("no dfscan manifest in __metadata__ (a plain safetensors file)");
  } else if (options.verify_hash) {
    auto stated = out.manifest.find("hash");
    if (stated == out.manifest.end() || !stated->is_string()) bad("manifest has no content hash");
    std::vector<const Blob*> refs;
    for (const auto& b : blobs) refs.push_back(&b);
    std::string actual = hash_blobs(refs, out.manifest);
    if (actual != stated->get<std::string>())
      bad("content hash mismatch: manifest says " + stated->get<std::string>() + ", content is " + actual);
  }

  for (const auto& item : items) {
    auto* data = const_cast<uint8_t*>(buffer + item.begin);
    auto opts = at::TensorOptions().dtype(item.dtype);
    at::Tensor t;
    if (reinterpret_cast<uintptr_t>(data) % c10::elementSize(item.dtype) == 0) {
      t = at::from_blob(
          data, item.shape, [mapping](void*) {}, opts);
    } else {
      t = at::from_blob(data, item.shape, opts).clone();  // files from other writers may be unaligned
    }
    if (options.to_float32 && (item.dtype == at::kHalf || item.dtype == at::kBFloat16)) t = t.to(at::kFloat);
    out.tensors.insert(item.name, std::move(t));
  }
  return out;
}

}  // namespace

std::string safetensors_dtype(at::ScalarType dtype) {
  for (const auto& d : kDtypes)
    if (d.dtype == dtype) return d.name;
  throw Error(Status::unsupported, std::string("dtype ") + c10::toString(dtype) + " has no safetensors name");
}

std::string content_hash(const StateDict& state, const nlohmann::json& manifest) {
  StoredTensors stored = stored_form(state, false);
  std::vector<const Blob*> refs;
  for (const auto& b : stored.blobs) refs.push_back(&b);
  return hash_blobs(refs, manifest);
}

std::string write_model_file(const std::filesystem::path& path, const StateDict& state,
                             const nlohmann::json& manifest, const WriteOptions& options) {
  StoredTensors stored = stored_form(state, options.float16);
  std::vector<const Blob*> refs;
  for (const auto& b : stored.blobs) refs.push_back(&b);
  nlohmann::json final_manifest = without_hash(manifest);
  const std::string hash = hash_blobs(refs, final_manifest);
  final_manifest["hash"] = hash;

  // Larger elements first keeps every tensor aligned to its element size.
  std::vector<size_t> order(stored.blobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return stored.tensors[a].element_size() > stored.tensors[b].element_size();
  });

  nlohmann::ordered_json header;
  header["__metadata__"] = {{kManifestKey, dump(final_manifest)}};
  uint64_t offset = 0;
  for (size_t i : order) {
    const Blob& b = stored.blobs[i];
    header[b.name] = {{"dtype", b.dtype}, {"shape", b.shape}, {"data_offsets", {offset, offset + b.size}}};
    offset += b.size;
  }
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(Status::error, std::string("cannot serialise model header: ") + e.what());
  }
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // the data buffer starts 8-byte aligned

  const auto tmp = temp_path_for(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(Status::error, "cannot create " + tmp.string() + ": " + std::strerror(errno));
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t{header_text.size()} >> (8 * i));
  bool ok = std::fwrite(length, 1, 8, f) == 8 &&
            std::fwrite(header_text.data(), 1, header_text.size(), f) == header_text.size();
  for (size_t i : order) {
    if (!ok) break;
    const Blob& b = stored.blobs[i];
    ok = b.size == 0 || std::fwrite(b.data, 1, b.size, f) == b.size;
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    int err = errno;
    std::remove(tmp.c_str());
    throw Error(Status::error, "cannot write " + tmp.string() + ": " + std::strerror(err));
  }
  commit_temp_file(tmp, path);
  return hash;
}

ModelFile read_model_file(const std::filesystem::path& path, const ReadOptions& options) {
  try {
    return read_mapped(path, options);
  } catch (const Error& e) {
    throw Error(e.status(), path.string() + ": " + e.what());
  } catch (const c10::Error& e) {
    throw Error(Status::error, path.string() + ": " + one_line(e.what()));
  } catch (const std::bad_alloc&) {
    throw Error(Status::too_large, path.string() + ": out of memory while reading the model");
  }
}

}  // namespace dfscan::io
