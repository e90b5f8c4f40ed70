#include "media/av_common.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstring>
#include <fstream>
#include <mutex>

extern "C" {
#include <libavutil/display.h>
#include <libavutil/mem.h>
}

namespace dfscan::media::detail {
namespace {

thread_local std::string g_last_av_error;

void av_log_to_spdlog(void* avcl, int level, const char* fmt, va_list vl) {
  // Formatting every verbose message would cost time on every packet.
  if (level > AV_LOG_WARNING) return;
  // Without FFmpeg's "[mov,mp4,... @ 0x55d0c2a4e8c0] " prefix: the address differs from run to
  // run, and the message becomes a record's `error`, which must not (results are diffed).
  char line[1024];
  int print_prefix = 0;
  av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
  std::string text = one_line(line);
  if (text.empty()) return;
  if (level <= AV_LOG_ERROR) g_last_av_error = text;
  const AVClass* cls = avcl ? *static_cast<AVClass**>(avcl) : nullptr;
  spdlog::debug("ffmpeg: {}{}", cls && cls->item_name ? std::string(cls->item_name(avcl)) + ": " : "", text);
}

}  // namespace

std::string av_error_text(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

std::string take_last_av_log() {
  std::string out;
  out.swap(g_last_av_error);
  return out;
}

std::string av_failure_text(int code) {
  std::string why = take_last_av_log();
  return why.empty() ? av_error_text(code) : why;
}

void init_ffmpeg() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_callback(av_log_to_spdlog);
    // FFmpeg sizes some buffers by what a header claims: an 81-byte WAV whose INFO tag claimed
    // gigabytes had its demuxer zero-fill 2.3 GB for 9 s (fuzzer find). 1 GiB is above any buffer
    // a file within the limits needs (a 100-megapixel frame at 8 bytes a pixel is 800 MB).
    av_max_alloc(kMaxAvAllocation);
  });
}

Deadline::Deadline(const Limits& limits)
    : bounded_(limits.deadline_seconds > 0), seconds_(limits.deadline_seconds), cancel_(limits.cancel) {
  auto span = std::chrono::duration<double>(bounded_ ? limits.deadline_seconds : 0.0);
  end_ = std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(span);
}

bool Deadline::expired() const {
  return bounded_ && std::chrono::steady_clock::now() > end_;
}

bool Deadline::cancelled() const {
  return cancel_ && cancel_->load(std::memory_order_relaxed);
}

void Deadline::raise() const {
  if (cancelled()) throw Error(Status::error, "interrupted");
  char text[64];
  std::snprintf(text, sizeof text, "timed out: the per-file deadline of %g s passed", seconds_);
  throw Error(Status::error, text);
}

std::int64_t check_path(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) throw Error(Status::not_found, "no such file: " + path);
    if (err == EACCES) throw Error(Status::permission_denied, "permission denied: " + path);
    throw Error(Status::error, path + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) throw Error(Status::error, "is a directory: " + path);
  if (!S_ISREG(st.st_mode)) throw Error(Status::error, "not a regular file: " + path);
  // stat() succeeds on files we cannot read; open() tells.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == EACCES || err == EPERM) throw Error(Status::permission_denied, "permission denied: " + path);
    throw Error(Status::error, path + ": " + std::strerror(err));
  }
  ::close(fd);
  if (st.st_size == 0) throw Error(Status::empty, "0 bytes");
  return static_cast<std::int64_t>(st.st_size);
}

std::vector<std::uint8_t> read_head(const Input& input, std::size_t max) {
  if (input.in_memory()) return {input.data, input.data + std::min(max, input.size)};
  std::vector<std::uint8_t> head(max);
  std::ifstream in(input.path, std::ios::binary);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(max));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

void check_image_header(const std::vector<std::uint8_t>& head, const Limits& limits) {
  auto header = read_image_header(head.data(), head.size());
  if (!header) return;
  // Headers can claim 2^32-1 on each side: the product must not be formed unchecked (fuzzer find).
  if (over_pixel_limit(header->width, header->height, limits.max_pixels))
    throw Error(Status::too_large, header->format + " header says " + std::to_string(header->width) + "x" +
                                       std::to_string(header->height) + ", over the limit of " +
                                       std::to_string(limits.max_pixels) + " pixels");
}

bool Demuxer::read_packet(AVPacket* packet, std::string& error) {
  error.clear();
  const int r = av_read_frame(ctx_, packet);
  check_interrupt();
  if (r >= 0) return true;
  if (r != AVERROR_EOF) error = av_failure_text(r);
  return false;
}

int Demuxer::interrupt_cb(void* opaque) {
  const auto* self = static_cast<const Demuxer*>(opaque);
  return self->deadline_.expired() || self->deadline_.cancelled() ? 1 : 0;
}

int Demuxer::read_memory(void* opaque, std::uint8_t* buf, int size) {
  auto* m = static_cast<MemoryReader*>(opaque);
  if (m->pos >= m->size) return AVERROR_EOF;
  std::size_t n = std::min(static_cast<std::size_t>(size), m->size - m->pos);
  std::memcpy(buf, m->data + m->pos, n);
  m->pos += n;
  return static_cast<int>(n);
}

std::int64_t Demuxer::seek_memory(void* opaque, std::int64_t offset, int whence) {
  auto* m = static_cast<MemoryReader*>(opaque);
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return static_cast<std::int64_t>(m->size);
  std::int64_t base = whence == SEEK_CUR   ? static_cast<std::int64_t>(m->pos)
                      : whence == SEEK_END ? static_cast<std::int64_t>(m->size)
                                           : 0;
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return AVERROR(EINVAL);
  std::int64_t target = base + offset;
  if (target < 0 || target > static_cast<std::int64_t>(m->size)) return AVERROR(EINVAL);
  m->pos = static_cast<std::size_t>(target);
  return target;
}

Demuxer::Demuxer(const Input& input, const Limits& limits, bool find_stream_info) : deadline_(limits) {
  // A throwing constructor runs no destructor: release what was opened so far (found by ASan).
  try {
    open(input, limits, find_stream_info);
  } catch (...) {
    close();
    throw;
  }
}

void Demuxer::open(const Input& input, const Limits& limits, bool find_stream_info) {
  init_ffmpeg();
  take_last_av_log();
  if (input.in_memory()) {
    if (input.size == 0) throw Error(Status::empty, "0 bytes");
    size_ = static_cast<std::int64_t>(input.size);
  } else {
    size_ = check_path(input.path);
  }
  check_image_header(read_head(input, 256 * 1024), limits);

  ctx_ = avformat_alloc_context();
  if (!ctx_) throw std::bad_alloc();
  ctx_->interrupt_callback.callback = &Demuxer::interrupt_cb;
  ctx_->interrupt_callback.opaque = this;
  ctx_->flags |= AVFMT_FLAG_CUSTOM_IO;

  if (input.in_memory()) {
    mem_ = {input.data, input.size, 0};
    constexpr int kBuffer = 64 * 1024;
    auto* buffer = static_cast<std::uint8_t*>(av_malloc(kBuffer));
    if (!buffer) throw std::bad_alloc();
    pb_ =
        avio_alloc_context(buffer, kBuffer, 0, &mem_, &Demuxer::read_memory, nullptr, &Demuxer::seek_memory);
    if (!pb_) {
      av_free(buffer);
      throw std::bad_alloc();
    }
    memory_io_ = true;
  } else {
    int r = avio_open2(&pb_, input.path.c_str(), AVIO_FLAG_READ, &ctx_->interrupt_callback, nullptr);
    if (r < 0) {
      if (r == AVERROR(EACCES)) throw Error(Status::permission_denied, "permission denied: " + input.path);
      if (r == AVERROR(ENOENT)) throw Error(Status::not_found, "no such file: " + input.path);
      throw Error(Status::error, input.path + ": " + av_error_text(r));
    }
  }

  // The format comes from the bytes alone: an empty name gives the extension no say, so a text
  // file named .mp4 is not handed to the mp4 demuxer.
  const AVInputFormat* format = nullptr;
  int score = av_probe_input_buffer2(pb_, &format, "", ctx_, 0, 0);
  check_interrupt();
  if (score < 0 || !format) throw Error(Status::unsupported, "not a media format FFmpeg recognises");

  ctx_->pb = pb_;
  AVDictionary* options = nullptr;
  // Playlists and references (hls, concat, mov drefs) must not open other files or URLs.
  av_dict_set(&options, "protocol_whitelist", "none", 0);
  // The URL is only used in messages and for nested opens, which the whitelist refuses.
  int r = avformat_open_input(&ctx_, input.in_memory() ? "" : input.path.c_str(), format, &options);
  av_dict_free(&options);
  if (r < 0) {
    ctx_ = nullptr;  // avformat_open_input freed it; pb_ stays ours (custom IO)
    check_interrupt();
    throw Error(Status::decode_error, std::string(format->name) + " demuxer failed: " + av_failure_text(r));
  }
  if (find_stream_info) {
    r = avformat_find_stream_info(ctx_, nullptr);
    check_interrupt();
    if (r < 0) {
      throw Error(Status::decode_error, "reading stream info failed: " + av_failure_text(r));
    }
  }
}

Demuxer::~Demuxer() {
  close();
}

void Demuxer::close() {
  if (ctx_) avformat_close_input(&ctx_);
  if (pb_) {
    if (memory_io_) {
      av_freep(&pb_->buffer);
      avio_context_free(&pb_);
    } else {
      avio_closep(&pb_);
    }
  }
}

FramePtr make_frame() {
  FramePtr f(av_frame_alloc());
  if (!f) throw std::bad_alloc();
  return f;
}

PacketPtr make_packet() {
  PacketPtr p(av_packet_alloc());
  if (!p) throw std::bad_alloc();
  return p;
}

CodecContextPtr open_decoder(const AVStream* stream, int threads) {
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  if (!codec)
    throw Error(Status::unsupported,
                std::string("no decoder for codec ") + avcodec_get_name(stream->codecpar->codec_id));
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) throw std::bad_alloc();
  int r = avcodec_parameters_to_context(ctx.get(), stream->codecpar);
  if (r < 0) throw Error(Status::decode_error, "codec parameters: " + av_error_text(r));
  ctx->pkt_timebase = stream->time_base;
  ctx->thread_count = threads;
  ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  r = avcodec_open2(ctx.get(), codec, nullptr);
  if (r < 0) {
    throw Error(Status::decode_error,
                std::string("opening the ") + codec->name + " decoder failed: " + av_failure_text(r));
  }
  return ctx;
}

int find_video_stream(AVFormatContext* ctx) {
  int best = -1;
  std::int64_t best_pixels = -1;
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    const AVStream* s = ctx->streams[i];
    if (s->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) continue;
    if (s->disposition & AV_DISPOSITION_ATTACHED_PIC) continue;
    std::int64_t pixels = static_cast<std::int64_t>(s->codecpar->width) * s->codecpar->height;
    if (pixels > best_pixels) {
      best = static_cast<int>(i);
      best_pixels = pixels;
    }
  }
  return best;
}

int find_audio_stream(AVFormatContext* ctx) {
  int r = av_find_best_stream(ctx, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  return r >= 0 ? r : -1;
}

int stream_rotation(const AVStream* stream) {
  // FFmpeg 5.1: side data still lives on the stream.
  size_t size = 0;
  const std::uint8_t* matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (!matrix || size < 9 * sizeof(std::int32_t)) return 0;
  double ccw = av_display_rotation_get(reinterpret_cast<const std::int32_t*>(matrix));
  if (std::isnan(ccw)) return 0;
  long quarter = std::lround(-ccw / 90.0);
  return static_cast<int>(((quarter % 4) + 4) % 4) * 90;
}

bool is_image_demuxer(const AVInputFormat* format) {
  if (!format || !format->name) return false;
  std::string name = format->name;
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with("_pipe") || name == "image2" || name == "image2pipe";
}

}  // namespace dfscan::media::detail
