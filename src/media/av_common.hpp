#pragma once
// Internal FFmpeg plumbing shared by the probe and the readers: inputs (a path or bytes in
// memory), the interrupt/deadline callback, demuxer and decoder ownership, error texts.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dfscan/media.hpp"
#include "dfscan/status.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace dfscan::media::detail {

// Where the bytes come from. Memory inputs are what the fuzzer drives.
struct Input {
  std::string path;                    // display name for memory inputs
  const std::uint8_t* data = nullptr;  // non-null: read from memory
  std::size_t size = 0;
  bool in_memory() const { return data != nullptr; }
};

// "Invalid data found when processing input"
std::string av_error_text(int code);
// The last error FFmpeg logged on this thread ("moov atom not found"), then forgotten.
std::string take_last_av_log();
// Why a call failed with `code`: the last error FFmpeg logged on this thread, which names the
// cause, else the code's generic text.
std::string av_failure_text(int code);
// The largest single allocation FFmpeg may make in this process (av_max_alloc).
constexpr std::size_t kMaxAvAllocation = std::size_t{1} << 30;
// Process-wide FFmpeg settings, once: its log goes to spdlog (debug) with errors remembered per
// thread, and one allocation may take at most kMaxAvAllocation bytes. Idempotent.
void init_ffmpeg();

class Deadline {
 public:
  explicit Deadline(const Limits& limits);
  bool expired() const;
  bool cancelled() const;
  // Throws the Error matching why reading was interrupted.
  [[noreturn]] void raise() const;

 private:
  std::chrono::steady_clock::time_point end_;
  bool bounded_;
  double seconds_;
  const std::atomic<bool>* cancel_;
};

// Checks a path before opening it: not_found, permission_denied, a directory (error), 0 bytes
// (empty). Returns the size in bytes. Throws dfscan::Error.
std::int64_t check_path(const std::string& path);

// Up to `max` leading bytes of the input (for signatures and image headers).
std::vector<std::uint8_t> read_head(const Input& input, std::size_t max);

// width * height > max_pixels, without overflowing for any header values.
inline bool over_pixel_limit(std::int64_t width, std::int64_t height, std::int64_t max_pixels) {
  if (width <= 0 || height <= 0) return false;
  return width > max_pixels / height || width * height > max_pixels;
}

// Throws too_large when the bytes start with an image header over the pixel limit.
void check_image_header(const std::vector<std::uint8_t>& head, const Limits& limits);

// An opened demuxer with stream info. The format is chosen from the content alone.
class Demuxer {
 public:
  Demuxer(const Input& input, const Limits& limits, bool find_stream_info = true);
  ~Demuxer();
  Demuxer(const Demuxer&) = delete;
  Demuxer& operator=(const Demuxer&) = delete;

  AVFormatContext* ctx() const { return ctx_; }
  const Deadline& deadline() const { return deadline_; }
  std::int64_t size_bytes() const { return size_; }
  // Throws if the deadline passed or the read was cancelled.
  void check_interrupt() const {
    if (deadline_.expired() || deadline_.cancelled()) deadline_.raise();
  }
  // Reads the next packet of any stream. False at the end of the input, and on a demuxing error,
  // which `error` then describes (FFmpeg's last error line, else the code's text); `error` is
  // empty at a clean end. Throws like check_interrupt().
  bool read_packet(AVPacket* packet, std::string& error);

 private:
  struct MemoryReader {
    const std::uint8_t* data;
    std::size_t size;
    std::size_t pos;
  };
  void open(const Input& input, const Limits& limits, bool find_stream_info);
  void close();
  static int interrupt_cb(void* opaque);
  static int read_memory(void* opaque, std::uint8_t* buf, int size);
  static std::int64_t seek_memory(void* opaque, std::int64_t offset, int whence);

  Deadline deadline_;
  AVFormatContext* ctx_ = nullptr;
  AVIOContext* pb_ = nullptr;
  bool memory_io_ = false;
  MemoryReader mem_{};
  std::int64_t size_ = 0;
};

struct CodecContextDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;

FramePtr make_frame();
PacketPtr make_packet();

// Opens a decoder for the stream. Throws unsupported when FFmpeg has no decoder for it.
CodecContextPtr open_decoder(const AVStream* stream, int threads);

// The best video stream that is not an attached picture (cover art), or -1.
int find_video_stream(AVFormatContext* ctx);
int find_audio_stream(AVFormatContext* ctx);

// Clockwise rotation (0/90/180/270) that the stream's display matrix asks for.
int stream_rotation(const AVStream* stream);

// True when the demuxer is one of libavformat's still-image demuxers (png_pipe, image2, ...).
bool is_image_demuxer(const AVInputFormat* format);

// Runs `body` and converts whatever it throws into (status, one-line message).
template <typename Result, typename Body>
Result guarded(Body&& body) {
  Result result;
  try {
    body(result);
  } catch (const Error& e) {
    result.status = e.status();
    result.message = e.what();
  } catch (const std::bad_alloc&) {
    result.status = Status::error;
    result.message = "out of memory";
  } catch (const std::exception& e) {
    result.status = Status::error;
    result.message = one_line(e.what());
  }
  return result;
}

}  // namespace dfscan::media::detail
