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
#include <functional>
#include <memory>
#include <numeric>
#include <unordered_map>

#include "dfscan/atomic_file.hpp"
#include "dfscan/json_text.hpp"
#include "dfscan/sha256.hpp"
#include "dfscan/status.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");

namespace dfscan::io {

struct FileMapping {
  void* address = nullptr;
  size_t size = 0;
  ~FileMapping() {
    if (address) ::munmap(address, size);
  }
  FileMapping() = default;
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;

  // MADV_DONTNEED on a private file mapping drops the pages; a later touch reads the file again.
  void release(const void* data, size_t bytes) const {
    static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto lo = reinterpret_cast<uintptr_t>(address);
    const auto hi = lo + size;
    auto begin = std::max(reinterpret_cast<uintptr_t>(data), lo);
    auto end = std::min(reinterpret_cast<uintptr_t>(data) + bytes, hi);
    begin = (begin + page - 1) / page * page;  // whole pages inside the range only
    end = end / page * page;
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }
};

void ModelFile::release_pages(const void* data, size_t bytes) const {
  if (mapping) mapping->release(data, bytes);
}

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

// Puts a blob's bytes into the hash; the default reads `data` a slice at a time.
using BlobFeeder = std::function<void(const Blob&, Sha256&)>;
constexpr uint64_t kSliceBytes = uint64_t{64} << 20;

std::string hash_blobs(std::vector<const Blob*> blobs, const nlohmann::json& manifest,
                       const BlobFeeder& feed = {}) {
  std::sort(blobs.begin(), blobs.end(), [](const Blob* a, const Blob* b) { return a->name < b->name; });
  Sha256 h;
  put_field(h, kHashTag);
  put_field(h, json_text(without_hash(manifest)));
  put_u64(h, blobs.size());
  for (const Blob* b : blobs) {
    put_field(h, b->name);
    put_field(h, b->dtype);
    put_u64(h, b->shape.size());
    for (int64_t d : b->shape) put_u64(h, static_cast<uint64_t>(d));
    put_u64(h, b->size);
    if (feed)
      feed(*b, h);
    else
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
  auto mapping = std::make_shared<FileMapping>();
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
            // Writing it back (json_text) recurses, so the manifest's depth is bounded too.
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
    // Hashed a slice at a time, each slice's pages released at once: verifying a large model must not
    // leave the whole file resident before the network that it fills is even built.
    const BlobFeeder hash_and_release = [&mapping](const Blob& b, Sha256& h) {
      for (uint64_t done = 0; done < b.size; done += kSliceBytes) {
        const uint64_t n = std::min(kSliceBytes, b.size - done);
        h.update(b.data + done, n);
        mapping->release(b.data + done, n);
      }
    };
    std::string actual = hash_blobs(refs, out.manifest, hash_and_release);
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
  out.mapping = mapping;
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

// ---- writing ----------------------------------------------------------------------------------------

struct ModelFileWriter::Impl {
  std::filesystem::path path, tmp;
  int fd = -1;
  bool committed = false;
  nlohmann::json manifest;        // without "hash"
  std::vector<Blob> blobs;        // declaration order; data null, size in bytes
  std::vector<uint64_t> offsets;  // into the data buffer
  std::vector<bool> written;
  std::unordered_map<std::string, size_t> index;
  std::vector<size_t> order;  // file order
  uint64_t data_start = 0;
  size_t header_size = 0;

  // The header with `hash` in the manifest, padded so that the data buffer starts 8-byte aligned.
  std::string header(const std::string& hash) const {
    nlohmann::json final_manifest = manifest;
    final_manifest["hash"] = hash;
    nlohmann::ordered_json header;
    header["__metadata__"] = {{kManifestKey, json_text(final_manifest)}};
    for (size_t i : order) {
      const Blob& b = blobs[i];
      header[b.name] = {
          {"dtype", b.dtype}, {"shape", b.shape}, {"data_offsets", {offsets[i], offsets[i] + b.size}}};
    }
    // json_text, not dump(): a manifest string that is not UTF-8 (a Latin-1 training path) must
    // not lose the trained model.
    std::string text = json_text(header);
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
  }

  void write_at(uint64_t offset, const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    while (size > 0) {
      ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Error(Status::error, "cannot write " + tmp.string() + ": " + std::strerror(errno));
      p += n;
      offset += static_cast<uint64_t>(n);
      size -= static_cast<size_t>(n);
    }
  }

  void read_at(uint64_t offset, void* data, size_t size) {
    auto* p = static_cast<uint8_t*>(data);
    while (size > 0) {
      ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Error(Status::error, "cannot read back " + tmp.string());
      p += n;
      offset += static_cast<uint64_t>(n);
      size -= static_cast<size_t>(n);
    }
  }

  void write_header(const std::string& text) {
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t{text.size()} >> (8 * i));
    write_at(0, length, 8);
    write_at(8, text.data(), text.size());
  }
};

ModelFileWriter::ModelFileWriter(const std::filesystem::path& path, const std::vector<Spec>& specs,
                                 const nlohmann::json& manifest)
    : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.path = path;
  m.manifest = without_hash(manifest);
  for (const auto& spec : specs) {
    if (spec.name.empty() || spec.name == "__metadata__")
      throw Error(Status::error, "invalid tensor name '" + spec.name + "'");
    if (!m.index.emplace(spec.name, m.blobs.size()).second)
      throw Error(Status::error, "tensor '" + spec.name + "' declared twice");
    uint64_t numel = 1;
    for (int64_t d : spec.shape) {
      if (d < 0) throw Error(Status::error, "tensor '" + spec.name + "' has a negative dimension");
      numel *= static_cast<uint64_t>(d);
    }
    m.blobs.push_back(Blob{spec.name, safetensors_dtype(spec.dtype), spec.shape, nullptr,
                           numel * c10::elementSize(spec.dtype)});
  }
  // Larger elements first keeps every tensor aligned to its element size.
  m.order.resize(specs.size());
  std::iota(m.order.begin(), m.order.end(), 0);
  std::stable_sort(m.order.begin(), m.order.end(), [&](size_t a, size_t b) {
    return c10::elementSize(specs[a].dtype) > c10::elementSize(specs[b].dtype);
  });
  m.offsets.assign(specs.size(), 0);
  uint64_t offset = 0;
  for (size_t i : m.order) {
    m.offsets[i] = offset;
    offset += m.blobs[i].size;
  }
  m.written.assign(specs.size(), false);
  // The final hash has the same length as this placeholder, so the header keeps its size.
  m.header_size = m.header("sha256:" + std::string(64, '0')).size();
  m.data_start = 8 + m.header_size;

  m.tmp = temp_path_for(path);
  m.fd = ::open(m.tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (m.fd < 0) throw Error(Status::error, "cannot create " + m.tmp.string() + ": " + std::strerror(errno));
}

ModelFileWriter::~ModelFileWriter() {
  if (!impl_) return;
  if (impl_->fd >= 0) ::close(impl_->fd);
  if (!impl_->committed) ::unlink(impl_->tmp.c_str());
}

void ModelFileWriter::write(const std::string& name, const at::Tensor& tensor) {
  auto& m = *impl_;
  auto it = m.index.find(name);
  if (it == m.index.end()) throw Error(Status::error, "tensor '" + name + "' was not declared");
  const size_t i = it->second;
  const Blob& b = m.blobs[i];
  if (m.written[i]) throw Error(Status::error, "tensor '" + name + "' written twice");
  at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  if (safetensors_dtype(t.scalar_type()) != b.dtype || t.sizes().vec() != b.shape)
    throw Error(Status::error, "tensor '" + name + "' differs from its declared dtype or shape");
  if (b.size > 0) m.write_at(m.data_start + m.offsets[i], t.data_ptr(), b.size);
  m.written[i] = true;
}

std::string ModelFileWriter::commit() {
  auto& m = *impl_;
  for (size_t i = 0; i < m.blobs.size(); ++i)
    if (!m.written[i]) throw Error(Status::error, "tensor '" + m.blobs[i].name + "' was never written");
  std::vector<uint8_t> buffer;
  const BlobFeeder read_back = [&](const Blob& b, Sha256& h) {
    const uint64_t start = m.data_start + m.offsets[static_cast<size_t>(&b - m.blobs.data())];
    for (uint64_t done = 0; done < b.size; done += kSliceBytes) {
      const auto n = static_cast<size_t>(std::min(kSliceBytes, b.size - done));
      buffer.resize(n);
      m.read_at(start + done, buffer.data(), n);
      h.update(buffer.data(), n);
    }
  };
  std::vector<const Blob*> refs;
  for (const auto& b : m.blobs) refs.push_back(&b);
  const std::string hash = hash_blobs(refs, m.manifest, read_back);
  const std::string text = m.header(hash);
  if (text.size() != m.header_size) throw Error(Status::error, "model header changed size");
  m.write_header(text);
  if (::close(m.fd) != 0) {
    m.fd = -1;
    throw Error(Status::error, "cannot write " + m.tmp.string() + ": " + std::strerror(errno));
  }
  m.fd = -1;
  commit_temp_file(m.tmp, m.path);
  m.committed = true;
  return hash;
}

std::string write_model_file(const std::filesystem::path& path, const StateDict& state,
                             const nlohmann::json& manifest, const WriteOptions& options) {
  StoredTensors stored = stored_form(state, options.float16);
  std::vector<ModelFileWriter::Spec> specs;
  for (size_t i = 0; i < stored.blobs.size(); ++i)
    specs.push_back({stored.blobs[i].name, stored.tensors[i].scalar_type(), stored.blobs[i].shape});
  ModelFileWriter writer(path, specs, manifest);
  for (size_t i = 0; i < stored.blobs.size(); ++i) writer.write(stored.blobs[i].name, stored.tensors[i]);
  return writer.commit();
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
