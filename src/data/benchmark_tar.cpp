// A small reader for gzip-compressed tar archives (ustar, GNU long names, pax path records),
// enough to list WildDeepfake's face-sequence archives and read one member in place.
// zlib's gz* functions also read an uncompressed .tar transparently.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

#include "data/benchmark_common.hpp"
#include "dfscan/status.hpp"

namespace dfscan::data {
namespace fs = std::filesystem;

namespace detail {
namespace {
constexpr size_t kBlock = 512;
// Limits checked before anything is allocated, read or skipped: a header can claim up to 2^88
// bytes, and skipping a wrapped size once sent a hostile archive back onto its own header forever.
constexpr size_t kMaxSize = size_t{1} << 50;         // 1 PiB: larger than any real member
constexpr size_t kMaxRecordBytes = size_t{1} << 20;  // a GNU long name or a pax header
constexpr size_t kMaxMemberBytes = size_t{1} << 30;  // a member read into memory

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using Gz = std::unique_ptr<gzFile_s, GzCloser>;

Gz open_gz(const fs::path& archive) {
  Gz f(gzopen(archive.c_str(), "rb"));
  if (!f) throw Error(Status::not_found, "cannot open archive " + archive.string());
  gzbuffer(f.get(), 1 << 17);
  return f;
}

// Reads exactly n bytes; false at a clean end of file before any byte.
bool read_exact(gzFile f, char* out, size_t n, const fs::path& archive) {
  size_t got = 0;
  while (got < n) {
    const int r = gzread(f, out + got, static_cast<unsigned>(n - got));
    if (r < 0) {
      int code = 0;
      throw Error(Status::decode_error, archive.string() + ": " + gzerror(f, &code));
    }
    if (r == 0) {
      if (got == 0) return false;
      throw Error(Status::truncated, archive.string() + ": ends inside a tar block");
    }
    got += static_cast<size_t>(r);
  }
  return true;
}

// Skips n bytes; returns the offset it leads to. zlib skips lazily, at the next read, so a skip past
// the end shows only as an end of file there: `walk` tells that from a clean end by this offset.
z_off_t skip(gzFile f, size_t n, const fs::path& archive) {
  const z_off_t at = gzseek(f, static_cast<z_off_t>(n), SEEK_CUR);
  if (at < 0) {
    int code = 0;
    throw Error(Status::truncated, archive.string() + ": " + gzerror(f, &code));
  }
  return at;
}

size_t padded(size_t n) {
  return (n + kBlock - 1) / kBlock * kBlock;
}

std::string field(const char* p, size_t n) {
  return std::string(p, strnlen(p, n));
}

// Octal, or base-256 when the high bit of the first byte is set (GNU, for sizes over 8 GiB).
size_t parse_size(const char* p, size_t n, const fs::path& archive) {
  size_t v = 0;
  if (static_cast<unsigned char>(p[0]) & 0x80) {
    const auto too_big = [&] {
      return Error(Status::decode_error, archive.string() + ": bad tar header (a size over 1 PiB)");
    };
    for (size_t i = 1; i < n; ++i) {
      if (v > (kMaxSize >> 8)) throw too_big();  // checked before the shift could overflow
      v = (v << 8) | static_cast<unsigned char>(p[i]);
    }
    if (v > kMaxSize) throw too_big();
    return v;
  }
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == '\0')) ++i;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) v = v * 8 + static_cast<size_t>(p[i] - '0');
  if (i < n && p[i] != ' ' && p[i] != '\0')
    throw Error(Status::decode_error, archive.string() + ": bad tar header");
  return v;
}

std::string clean_name(std::string name) {
  while (name.rfind("./", 0) == 0) name.erase(0, 2);
  return name;
}

// The "path" record of a pax extended header, or "".
std::string pax_path(const std::string& data) {
  size_t i = 0;
  while (i < data.size()) {
    const size_t space = data.find(' ', i);
    if (space == std::string::npos) break;
    size_t len = 0;
    for (size_t k = i; k < space; ++k) {
      if (data[k] < '0' || data[k] > '9') return "";  // malformed record: keep the ustar name
      len = len * 10 + static_cast<size_t>(data[k] - '0');
    }
    if (len == 0 || i + len > data.size()) break;
    const std::string record = data.substr(space + 1, i + len - space - 2);  // drops the newline
    if (record.rfind("path=", 0) == 0) return record.substr(5);
    i += len;
  }
  return "";
}

// Walks the archive; `visit(member, gz)` may consume the member's data and returns how many bytes it
// read, or SIZE_MAX to stop.
template <typename Visit>
void walk(const fs::path& archive, Visit&& visit) {
  auto gz = open_gz(archive);
  char header[kBlock];
  std::string long_name, last_member;
  z_off_t data_end = 0;  // where the last member's data ends, padding included
  while (true) {
    if (!read_exact(gz.get(), header, kBlock, archive)) {
      // The file ends where a header would start: cleanly, unless the last skip ran past it.
      if (gztell(gz.get()) < data_end)
        throw Error(Status::truncated, archive.string() + ": ends inside member " + last_member);
      return;
    }
    if (std::all_of(header, header + kBlock, [](char c) { return c == 0; })) break;  // end marker
    // The checksum treats its own field as spaces: it tells a tar header from garbage.
    unsigned long sum = 0;
    for (size_t i = 0; i < kBlock; ++i)
      sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(header[i]);
    if (sum != parse_size(header + 148, 8, archive))
      throw Error(Status::decode_error, archive.string() + ": not a tar archive (header checksum mismatch)");
    const char type = header[156];
    const size_t size = parse_size(header + 124, 12, archive);
    if (type == 'L' || type == 'x') {
      if (size > kMaxRecordBytes)
        throw Error(Status::decode_error, archive.string() + ": a long-name or pax header record of " +
                                              std::to_string(size) + " bytes (over 1 MiB)");
      std::string data(size, '\0');
      if (size > 0 && !read_exact(gz.get(), data.data(), size, archive))
        throw Error(Status::truncated, archive.string() + ": ends inside a header record");
      data_end = skip(gz.get(), padded(size) - size, archive);
      long_name = type == 'L' ? field(data.data(), data.size()) : pax_path(data);
      continue;
    }
    TarMember m;
    if (!long_name.empty()) {
      m.name = long_name;
      long_name.clear();
    } else {
      const auto prefix =
          std::memcmp(header + 257, "ustar", 5) == 0 ? field(header + 345, 155) : std::string();
      m.name = (prefix.empty() ? "" : prefix + "/") + field(header, 100);
    }
    m.name = clean_name(m.name);
    m.size = size;
    m.regular = type == '0' || type == '\0' || type == '7';
    const size_t data_size = (type == '5' || type == '1' || type == '2') ? 0 : size;
    const size_t used = visit(m, gz.get(), data_size);
    if (used == SIZE_MAX) return;
    data_end = skip(gz.get(), padded(data_size) - used, archive);
    last_member = m.name;
  }
}
}  // namespace

std::vector<TarMember> list_tar_gz(const fs::path& archive) {
  std::vector<TarMember> out;
  walk(archive, [&](const TarMember& m, gzFile, size_t) -> size_t {
    out.push_back(m);
    return 0;
  });
  return out;
}
}  // namespace detail

namespace {
// Splits "A.tar.gz#M" into archive and member; false when the path names no archive member.
bool split_member(const std::string& path, std::string& archive, std::string& member) {
  for (const char* ext : {".tar.gz#", ".tgz#", ".tar#"}) {
    const auto pos = path.find(ext);
    if (pos == std::string::npos) continue;
    const auto hash = pos + std::strlen(ext) - 1;
    archive = path.substr(0, hash);
    member = path.substr(hash + 1);
    return !member.empty();
  }
  return false;
}
}  // namespace

bool is_archive_member(const std::string& path) {
  std::string archive, member;
  return split_member(path, archive, member);
}

std::string read_archive_member(const std::string& path) {
  std::string archive, member;
  if (!split_member(path, archive, member))
    throw Error(Status::unsupported, "'" + path + "' names no member of a .tar.gz archive");
  std::string out;
  bool found = false;
  detail::walk(archive, [&](const detail::TarMember& m, gzFile gz, size_t data_size) -> size_t {
    if (!m.regular || m.name != member) return 0;
    if (data_size > detail::kMaxMemberBytes)
      throw Error(Status::too_large, archive + ": member " + member + " is " + std::to_string(data_size) +
                                         " bytes, over the 1 GiB read into memory");
    out.resize(data_size);
    if (data_size > 0 && !detail::read_exact(gz, out.data(), data_size, archive))
      throw Error(Status::truncated, archive + ": ends inside member " + member);
    found = true;
    return SIZE_MAX;
  });
  if (!found) throw Error(Status::not_found, archive + ": no member " + member);
  return out;
}

}  // namespace dfscan::data
