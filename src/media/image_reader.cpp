// Still images through OpenCV, with the size read from the header before anything is decoded
// and EXIF orientation applied by us (OpenCV 4.6 ignores it when asked for unchanged depth).
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dfscan/media.hpp"
#include "media/av_common.hpp"
#include "media/detail.hpp"

namespace dfscan::media {
namespace {

std::uint32_t be16(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 8) | p[1];
}
std::uint32_t be32(const std::uint8_t* p) {
  return (be16(p) << 16) | be16(p + 2);
}
std::uint32_t le16(const std::uint8_t* p) {
  return (std::uint32_t{p[1]} << 8) | p[0];
}
std::uint32_t le24(const std::uint8_t* p) {
  return le16(p) | (std::uint32_t{p[2]} << 16);
}
std::uint32_t le32(const std::uint8_t* p) {
  return le16(p) | (le16(p + 2) << 16);
}

bool is_jpeg_sof(std::uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// Orientation (tag 0x0112) from a TIFF structure, as found in EXIF. 1 when absent or malformed.
int tiff_orientation(const std::uint8_t* p, std::size_t n) {
  if (n < 8) return 1;
  bool little = p[0] == 'I' && p[1] == 'I';
  if (!little && !(p[0] == 'M' && p[1] == 'M')) return 1;
  auto u16 = [&](std::size_t at) { return little ? le16(p + at) : be16(p + at); };
  auto u32 = [&](std::size_t at) { return little ? le32(p + at) : be32(p + at); };
  if (u16(2) != 42) return 1;
  std::size_t ifd = u32(4);
  if (ifd + 2 > n) return 1;
  std::size_t count = u16(ifd);
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t entry = ifd + 2 + 12 * i;
    if (entry + 12 > n) break;
    if (u16(entry) == 0x0112 && u16(entry + 2) == 3) {
      int value = static_cast<int>(u16(entry + 8));
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

int exif_orientation(const std::uint8_t* p, std::size_t n) {
  if (n >= 4 && p[0] == 0xFF && p[1] == 0xD8) {
    std::size_t at = 2;
    while (at + 4 <= n && p[at] == 0xFF) {
      std::uint8_t marker = p[at + 1];
      if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) {
        at += 2;
        continue;
      }
      if (marker == 0xDA || marker == 0xD9) break;  // image data: no more metadata segments
      std::size_t len = be16(p + at + 2);
      if (len < 2 || at + 2 + len > n) break;
      const std::uint8_t* body = p + at + 4;
      if (marker == 0xE1 && len >= 8 && std::memcmp(body, "Exif\0\0", 6) == 0)
        return tiff_orientation(body + 6, len - 8);
      at += 2 + len;
    }
  } else if (n >= 8 && std::memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
    std::size_t at = 8;
    while (at + 12 <= n) {
      std::size_t len = be32(p + at);
      if (len > n - at - 12) break;
      if (std::memcmp(p + at + 4, "eXIf", 4) == 0) return tiff_orientation(p + at + 8, len);
      if (std::memcmp(p + at + 4, "IDAT", 4) == 0) break;
      at += 12 + len;
    }
  }
  return 1;
}

cv::Mat apply_orientation(cv::Mat image, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2:
      cv::flip(image, out, 1);
      return out;
    case 3:
      cv::flip(image, out, -1);
      return out;
    case 4:
      cv::flip(image, out, 0);
      return out;
    case 5:
      cv::transpose(image, out);
      return out;
    case 6:
      cv::rotate(image, out, cv::ROTATE_90_CLOCKWISE);
      return out;
    case 7:
      cv::transpose(image, out);
      cv::flip(out, out, -1);
      return out;
    case 8:
      cv::rotate(image, out, cv::ROTATE_90_COUNTERCLOCKWISE);
      return out;
    default:
      return image;
  }
}

// Any depth and channel count OpenCV gives back, as 8-bit RGB. Alpha is dropped, not composited.
cv::Mat to_rgb8(const cv::Mat& decoded) {
  cv::Mat eight;
  if (decoded.depth() == CV_8U) {
    eight = decoded;
  } else if (decoded.depth() == CV_16U) {
    decoded.convertTo(eight, CV_8U, 1.0 / 257.0);
  } else if (decoded.depth() == CV_32F || decoded.depth() == CV_64F) {
    decoded.convertTo(eight, CV_8U, 255.0);
  } else {
    double lo = 0, hi = 0;
    cv::minMaxLoc(decoded.reshape(1), &lo, &hi);
    decoded.convertTo(eight, CV_8U, hi > lo ? 255.0 / (hi - lo) : 1.0,
                      hi > lo ? -lo * 255.0 / (hi - lo) : 0.0);
  }
  cv::Mat rgb;
  switch (eight.channels()) {
    case 1:
      cv::cvtColor(eight, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 3:
      cv::cvtColor(eight, rgb, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(eight, rgb, cv::COLOR_BGRA2RGB);
      break;
    default:
      throw Error(Status::unsupported, "image with " + std::to_string(eight.channels()) + " channels");
  }
  return rgb;
}

}  // namespace

std::optional<ImageHeader> read_image_header(const std::uint8_t* p, std::size_t n) {
  if (!p) return std::nullopt;
  ImageHeader h;
  if (n >= 26 && std::memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0 && std::memcmp(p + 12, "IHDR", 4) == 0) {
    h.format = "png";
    h.width = be32(p + 16);
    h.height = be32(p + 20);
    h.bit_depth = p[24];
    switch (p[25]) {
      case 0:
        h.channels = 1;
        break;
      case 2:
        h.channels = 3;
        break;
      case 3:
        h.channels = 3;
        h.bit_depth = 8;
        break;  // palette entries are 8-bit RGB
      case 4:
        h.channels = 2;
        break;
      case 6:
        h.channels = 4;
        break;
      default:
        break;
    }
    return h;
  }
  if (n >= 4 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
    std::size_t at = 2;
    while (at + 4 <= n) {
      if (p[at] != 0xFF) return std::nullopt;
      std::uint8_t marker = p[at + 1];
      if (marker == 0xFF) {  // fill byte
        ++at;
        continue;
      }
      if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
        at += 2;
        continue;
      }
      std::size_t len = be16(p + at + 2);
      if (len < 2) return std::nullopt;
      if (is_jpeg_sof(marker)) {
        if (at + 10 > n) return std::nullopt;
        h.format = "jpeg";
        h.bit_depth = p[at + 4];
        h.height = be16(p + at + 5);
        h.width = be16(p + at + 7);
        h.channels = p[at + 9];
        return h;
      }
      if (marker == 0xDA || marker == 0xD9) return std::nullopt;
      at += 2 + len;
    }
    return std::nullopt;
  }
  if (n >= 10 && (std::memcmp(p, "GIF87a", 6) == 0 || std::memcmp(p, "GIF89a", 6) == 0)) {
    h.format = "gif";
    h.width = le16(p + 6);
    h.height = le16(p + 8);
    return h;
  }
  if (n >= 26 && p[0] == 'B' && p[1] == 'M') {
    std::uint32_t dib = le32(p + 14);
    h.format = "bmp";
    if (dib == 12) {
      h.width = le16(p + 18);
      h.height = le16(p + 20);
    } else if (dib >= 40) {
      h.width = std::abs(static_cast<std::int64_t>(static_cast<std::int32_t>(le32(p + 18))));
      h.height = std::abs(static_cast<std::int64_t>(static_cast<std::int32_t>(le32(p + 22))));
    } else {
      return std::nullopt;
    }
    return h;
  }
  if (n >= 30 && std::memcmp(p, "RIFF", 4) == 0 && std::memcmp(p + 8, "WEBP", 4) == 0) {
    h.format = "webp";
    const std::uint8_t* chunk = p + 12;
    const std::uint8_t* body = p + 20;
    if (std::memcmp(chunk, "VP8 ", 4) == 0 && body[3] == 0x9d && body[4] == 0x01 && body[5] == 0x2a) {
      h.width = le16(body + 6) & 0x3fff;
      h.height = le16(body + 8) & 0x3fff;
    } else if (std::memcmp(chunk, "VP8L", 4) == 0 && body[0] == 0x2f) {
      std::uint32_t bits = le32(body + 1);
      h.width = (bits & 0x3fff) + 1;
      h.height = ((bits >> 14) & 0x3fff) + 1;
    } else if (std::memcmp(chunk, "VP8X", 4) == 0) {
      h.width = le24(body + 4) + 1;
      h.height = le24(body + 7) + 1;
    } else {
      return std::nullopt;
    }
    return h;
  }
  return std::nullopt;
}

namespace {

// libjpeg decodes a JPEG cut short as a whole image, filling the missing rows with grey, and only
// warns. Markers cannot occur inside entropy-coded data (0xFF is stuffed as FF 00), so a complete
// file has an end-of-image marker after its last start-of-scan; an EXIF thumbnail's own markers
// come before the main image's.
bool jpeg_cut_short(const std::uint8_t* data, std::size_t size) {
  std::size_t last_scan = 0, last_end = 0;
  for (std::size_t i = 2; i + 1 < size; ++i) {
    if (data[i] != 0xFF) continue;
    if (data[i + 1] == 0xDA) last_scan = i;
    if (data[i + 1] == 0xD9) last_end = i;
  }
  return last_end <= last_scan;
}

}  // namespace

namespace detail {

ImageResult read_image_bytes(const std::uint8_t* data, std::size_t size, const Limits& limits) {
  return guarded<ImageResult>([&](ImageResult& result) {
    if (size == 0) throw Error(Status::empty, "0 bytes");
    auto header = read_image_header(data, size);
    if (header && over_pixel_limit(header->width, header->height, limits.max_pixels))
      throw Error(Status::too_large, header->format + " header says " + std::to_string(header->width) + "x" +
                                         std::to_string(header->height) + ", over the limit of " +
                                         std::to_string(limits.max_pixels) + " pixels");
    if (size > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw Error(Status::too_large, "image file over 2 GiB");
    // Only formats we recognise go to OpenCV: anything else would reach its GDAL and JPEG 2000
    // fallbacks, which write temporary files and widen what a hostile file can reach.
    bool tiff = size >= 4 && (std::memcmp(data, "II*\0", 4) == 0 || std::memcmp(data, "MM\0*", 4) == 0);
    if (!header && !tiff)
      throw Error(Status::unsupported, "not an image format we read (PNG, JPEG, BMP, WebP, TIFF)");
    if (header && header->format == "gif")
      throw Error(Status::unsupported, "GIF images are read as video, not as images");
    cv::Mat bytes(1, static_cast<int>(size), CV_8U, const_cast<std::uint8_t*>(data));
    cv::Mat decoded;
    try {
      decoded = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception& e) {
      throw Error(header || tiff ? Status::decode_error : Status::unsupported,
                  "OpenCV: " + one_line(e.what()));
    }
    if (decoded.empty()) {
      if (header || tiff)
        throw Error(Status::decode_error, (header ? header->format : "tiff") + " image could not be decoded");
      throw Error(Status::unsupported, "not an image format OpenCV reads");
    }
    if (static_cast<std::int64_t>(decoded.cols) * decoded.rows > limits.max_pixels)
      throw Error(Status::too_large, "image over the pixel limit");
    result.channels = header && header->channels ? header->channels : decoded.channels();
    result.bit_depth = header && header->bit_depth ? header->bit_depth : (decoded.depth() == CV_16U ? 16 : 8);
    if (header && header->format == "jpeg" && jpeg_cut_short(data, size))
      result.warnings.push_back("partial_decode");
    result.exif_orientation = exif_orientation(data, size);
    result.rgb = apply_orientation(to_rgb8(decoded), result.exif_orientation);
    result.width = result.rgb.cols;
    result.height = result.rgb.rows;
  });
}

}  // namespace detail

ImageResult read_image(const std::string& path, const Limits& limits) {
  std::vector<std::uint8_t> bytes;
  ImageResult failed = detail::guarded<ImageResult>([&](ImageResult&) {
    auto size = detail::check_path(path);
    auto head = detail::read_head({path}, 256 * 1024);
    detail::check_image_header(head, limits);
    if (size > std::numeric_limits<int>::max()) throw Error(Status::too_large, "image file over 2 GiB");
    bytes.resize(static_cast<std::size_t>(size));
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(bytes.data()), size);
    bytes.resize(static_cast<std::size_t>(in.gcount()));
  });
  if (failed.status != Status::ok) return failed;
  return detail::read_image_bytes(bytes.data(), bytes.size(), limits);
}

}  // namespace dfscan::media
