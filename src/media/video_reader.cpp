// Frame selection by seeking to the keyframe before each target and decoding forward, with
// non-reference frames that no target needs discarded inside the decoder (skip_frame).
#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "dfscan/media.hpp"
#include "media/av_common.hpp"
#include "media/detail.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace dfscan::media {
namespace detail {
namespace {

class RgbConverter {
 public:
  ~RgbConverter() { sws_freeContext(sws_); }

  // Any pixel format swscale knows (10-bit, alpha, odd sizes) to packed 8-bit RGB.
  cv::Mat convert(const AVFrame* f, int rotation) {
    auto format = static_cast<AVPixelFormat>(f->format);
    sws_ = sws_getCachedContext(sws_, f->width, f->height, format, f->width, f->height, AV_PIX_FMT_RGB24,
                                SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!sws_) {
      const char* name = av_get_pix_fmt_name(format);
      throw Error(Status::decode_error,
                  std::string("cannot convert pixel format ") + (name ? name : "?") + " to RGB");
    }
    // swscale's SIMD paths write past the end of each destination row (and so past the last
    // row), so convert into a buffer with spare columns and a spare row, then take the image out.
    cv::Mat padded(f->height + 1, f->width + 32, CV_8UC3);
    std::uint8_t* dst[4] = {padded.data, nullptr, nullptr, nullptr};
    int dst_stride[4] = {static_cast<int>(padded.step), 0, 0, 0};
    sws_scale(sws_, f->data, f->linesize, 0, f->height, dst, dst_stride);
    cv::Mat rgb = padded(cv::Rect(0, 0, f->width, f->height));
    if (rotation == 0) return rgb.clone();
    cv::Mat turned;
    cv::rotate(rgb, turned,
               rotation == 90    ? cv::ROTATE_90_CLOCKWISE
               : rotation == 180 ? cv::ROTATE_180
                                 : cv::ROTATE_90_COUNTERCLOCKWISE);
    return turned;
  }

 private:
  SwsContext* sws_ = nullptr;
};

void validate(const FrameSelection& s) {
  using K = FrameSelection::Kind;
  if (s.kind == K::uniform && s.count < 1) throw Error(Status::error, "uniform frame selection needs N >= 1");
  if (s.kind == K::every_kth && s.step < 1)
    throw Error(Status::error, "every-k-th frame selection needs k >= 1");
  if (s.kind == K::fps && !(s.rate > 0)) throw Error(Status::error, "fps frame selection needs a rate > 0");
}

}  // namespace

VideoResult read_video_input(const Input& input, const FrameSelection& selection,
                             const std::function<bool(Frame&&)>& on_frame, const VideoOptions& options) {
  return guarded<VideoResult>([&](VideoResult& out) {
    using K = FrameSelection::Kind;
    validate(selection);
    Demuxer demuxer(input, options.limits);
    AVFormatContext* ctx = demuxer.ctx();
    int vs = find_video_stream(ctx);
    if (vs < 0) throw Error(Status::unsupported, "no video stream");
    AVStream* st = ctx->streams[vs];
    for (unsigned i = 0; i < ctx->nb_streams; ++i)
      if (static_cast<int>(i) != vs) ctx->streams[i]->discard = AVDISCARD_ALL;

    const std::int64_t max_pixels = options.limits.max_pixels;
    if (over_pixel_limit(st->codecpar->width, st->codecpar->height, max_pixels))
      throw Error(Status::too_large, std::to_string(st->codecpar->width) + "x" +
                                         std::to_string(st->codecpar->height) + " is over the pixel limit");
    out.rotation = stream_rotation(st);
    AVRational rate = av_guess_frame_rate(ctx, st, nullptr);
    out.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
    const double tb = av_q2d(st->time_base);
    if (ctx->duration != AV_NOPTS_VALUE && ctx->duration > 0)
      out.duration = static_cast<double>(ctx->duration) / AV_TIME_BASE;
    else if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
      out.duration = static_cast<double>(st->duration) * tb;
    bool sideways = out.rotation == 90 || out.rotation == 270;
    out.width = sideways ? st->codecpar->height : st->codecpar->width;
    out.height = sideways ? st->codecpar->width : st->codecpar->height;
    const std::int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    const double frame_time = out.fps > 0 ? 1.0 / out.fps : 1.0 / 30.0;
    const double eps = frame_time / 2;

    // The targets, in seconds from the stream start, ascending.
    std::vector<double> targets;
    bool every_frame = selection.kind == K::every_kth;
    std::int64_t first_n = 0;  // uniform without a known frame count: the first N frames
    if (selection.kind == K::uniform) {
      std::int64_t n = st->nb_frames > 0                 ? st->nb_frames
                       : out.duration > 0 && out.fps > 0 ? std::llround(out.duration * out.fps)
                                                         : 0;
      if (n > 0) {
        for (int i = 0; i < selection.count; ++i) {
          double index = selection.count == 1 ? 0.0 : std::round(i * double(n - 1) / (selection.count - 1));
          targets.push_back(index * frame_time);
        }
      } else {
        every_frame = true;
        first_n = selection.count;
      }
    } else if (selection.kind == K::fps) {
      double end = out.duration > 0 ? out.duration : 24.0 * 3600.0;
      for (std::int64_t j = 0;; ++j) {
        double t = static_cast<double>(j) / selection.rate;
        if (t >= end || targets.size() > 10'000'000) break;
        targets.push_back(t);
      }
    } else if (selection.kind == K::timestamps) {
      targets = selection.timestamps;
      std::sort(targets.begin(), targets.end());
    }
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    const int step = selection.kind == K::every_kth ? selection.step : 1;

    auto decoder = open_decoder(st, options.threads);
    RgbConverter converter;
    auto packet = make_packet();
    auto frame = make_frame();
    auto last = make_frame();  // the latest decoded frame, for targets past the last timestamp
    bool last_emitted = false, have_last = false;
    std::size_t k = 0;       // next target
    std::int64_t index = 0;  // presentation-order frame index (every_kth)
    std::int64_t emitted = 0;
    double last_t = -frame_time;
    bool stop = false;
    bool check_seek = !every_frame;
    bool demuxed_any = false;
    std::int64_t last_key = AV_NOPTS_VALUE;  // timestamp of the latest keyframe packet demuxed
    int decode_errors = 0;
    std::string problem;  // first demux/decode problem, for the message

    auto done = [&] {
      if (stop) return true;
      if (every_frame) return first_n > 0 && emitted >= first_n;
      return k >= targets.size();
    };

    auto emit = [&](const cv::Mat& rgb, double t, double target) {
      ++emitted;
      if (!on_frame(Frame{rgb, t, target})) stop = true;
    };

    auto handle_frame = [&](AVFrame* f) {
      ++out.frames_decoded;
      if (over_pixel_limit(f->width, f->height, max_pixels))
        throw Error(Status::too_large, "a frame is over the pixel limit");
      std::int64_t ts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
      // Missing timestamps: one frame after the previous one.
      double t = ts != AV_NOPTS_VALUE ? static_cast<double>(ts - start) * tb : last_t + frame_time;
      last_t = t;
      av_frame_unref(last.get());
      if (av_frame_ref(last.get(), f) >= 0) {
        have_last = true;
        last_emitted = false;
      }
      if (every_frame) {
        if (index++ % step == 0) {
          emit(converter.convert(f, out.rotation), t, t);
          last_emitted = true;
        }
        return;
      }
      cv::Mat rgb;
      while (k < targets.size() && t >= targets[k] - eps && !stop) {
        // Two targets closer than a frame get the same frame; each gets its own pixels.
        emit(rgb.empty() ? (rgb = converter.convert(f, out.rotation)) : rgb.clone(), t, targets[k]);
        last_emitted = true;
        ++k;
        check_seek = true;
      }
    };

    auto drain = [&] {
      for (;;) {
        int r = avcodec_receive_frame(decoder.get(), frame.get());
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
        if (r < 0) {
          ++decode_errors;
          if (problem.empty()) problem = "decoding: " + av_failure_text(r);
          return;
        }
        handle_frame(frame.get());
        av_frame_unref(frame.get());
        if (done()) return;
      }
    };

    // Seek when the keyframe before the next target lies beyond the GOP we are decoding in.
    const bool indexed = avformat_index_get_entries_count(st) > 0;
    auto maybe_seek = [&] {
      check_seek = false;
      if (!indexed || k >= targets.size()) return;
      auto ts = start + static_cast<std::int64_t>(std::floor(targets[k] / tb));
      int i = av_index_search_timestamp(st, ts, AVSEEK_FLAG_BACKWARD);
      if (i < 0) return;
      const AVIndexEntry* key = avformat_index_get_entry(st, i);
      if (!key) return;
      // A copy: seeking may grow the index and move its entries (a fuzzer find, in matroska).
      const std::int64_t key_ts = key->timestamp;
      if (demuxed_any ? (last_key != AV_NOPTS_VALUE && key_ts <= last_key) : i == 0 || key_ts <= start)
        return;
      // Seek by the target's presentation time: index entries hold decode times, which mov's
      // seek does not take (with B-frames they come before the keyframe's pts).
      if (av_seek_frame(ctx, vs, ts, AVSEEK_FLAG_BACKWARD) >= 0) {
        avcodec_flush_buffers(decoder.get());
        last_key = key_ts;
        demuxed_any = true;
      }
    };

    bool partial = false;
    std::string demux_error;
    while (!done()) {
      if (check_seek) maybe_seek();
      if (!demuxer.read_packet(packet.get(), demux_error)) {
        if (!demux_error.empty()) {
          partial = true;
          if (problem.empty()) problem = "demuxing: " + demux_error;
        }
        break;
      }
      if (packet->stream_index != vs) {
        av_packet_unref(packet.get());
        continue;
      }
      if (packet->flags & AV_PKT_FLAG_KEY) {
        std::int64_t key_ts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
        if (key_ts != AV_NOPTS_VALUE) last_key = key_ts;
      }
      demuxed_any = true;
      bool needed = true;
      if (!every_frame && packet->pts != AV_NOPTS_VALUE && k < targets.size())
        needed = static_cast<double>(packet->pts - start) * tb >= targets[k] - eps;
      decoder->skip_frame = needed ? AVDISCARD_DEFAULT : AVDISCARD_NONREF;
      const int r = avcodec_send_packet(decoder.get(), packet.get());
      av_packet_unref(packet.get());
      if (r < 0 && r != AVERROR(EAGAIN)) {
        ++decode_errors;
        if (problem.empty()) problem = "decoding: " + av_failure_text(r);
      }
      drain();
    }
    if (!done()) {
      decoder->skip_frame = AVDISCARD_DEFAULT;
      avcodec_send_packet(decoder.get(), nullptr);
      drain();
    }
    // A uniform selection still gets the final frame when the header promised more frames than
    // the stream holds.
    if (selection.kind == K::uniform && !every_frame && k < targets.size() && have_last && !last_emitted &&
        !stop)
      emit(converter.convert(last.get(), out.rotation), last_t, targets[k]);

    if (partial || decode_errors > 0) {
      out.warnings.push_back("partial_decode");
      out.message = problem;
    }
    std::int64_t needed_bytes = 0;
    if (index_points_past_end(ctx, demuxer.size_bytes(), &needed_bytes)) {
      if (std::find(out.warnings.begin(), out.warnings.end(), "partial_decode") == out.warnings.end())
        out.warnings.push_back("partial_decode");
      throw Error(Status::truncated, "the index points past the end of the file (" +
                                         std::to_string(demuxer.size_bytes()) + " bytes, needs " +
                                         std::to_string(needed_bytes) + ")");
    }
    if (out.frames_decoded == 0) {
      if (!problem.empty()) throw Error(Status::decode_error, problem);
      if (!demuxed_any) throw Error(Status::empty, "no video frames");
      throw Error(Status::decode_error, "the decoder produced no frames");
    }
  });
}

}  // namespace detail

VideoResult read_video(const std::string& path, const FrameSelection& selection,
                       const std::function<bool(Frame&&)>& on_frame, const VideoOptions& options) {
  return detail::read_video_input({path}, selection, on_frame, options);
}

VideoResult read_video(const std::string& path, const FrameSelection& selection,
                       const VideoOptions& options) {
  std::vector<Frame> frames;
  auto result = read_video(
      path, selection,
      [&](Frame&& f) {
        frames.push_back(std::move(f));
        return true;
      },
      options);
  result.frames = std::move(frames);
  return result;
}

}  // namespace dfscan::media
