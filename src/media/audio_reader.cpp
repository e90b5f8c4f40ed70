// Any audio stream to mono float at a requested rate, delivered in windows as it is decoded so
// that long files never sit in memory whole.
#include <algorithm>
#include <cmath>

#include "dfscan/media.hpp"
#include "media/av_common.hpp"
#include "media/detail.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

namespace dfscan::media {
namespace detail {
namespace {

struct SwrDeleter {
  void operator()(SwrContext* s) const { swr_free(&s); }
};

// Resamples to planar float in the source's own layout; channels are then averaged, the usual
// downmix for analysis (swresample's own matrix scales stereo by 1/sqrt(2) per channel instead).
class Resampler {
 public:
  // swresample's filter grows with the rate ratio: a header claiming 791 MHz kept swr_init busy
  // past any deadline (fuzzer find). 768 kHz is the highest rate real audio uses.
  static constexpr int kMaxRate = 768000;

  Resampler(const AVFrame* f, int out_rate) : channels_(f->ch_layout.nb_channels) {
    if (f->sample_rate > kMaxRate || out_rate > kMaxRate)
      throw Error(Status::decode_error,
                  "audio sample rate out of range: " + std::to_string(f->sample_rate) + " Hz");
    AVChannelLayout layout{};
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
      av_channel_layout_default(&layout, channels_);
    else if (av_channel_layout_copy(&layout, &f->ch_layout) < 0)
      throw std::bad_alloc();
    SwrContext* raw = nullptr;
    int r = swr_alloc_set_opts2(&raw, &layout, AV_SAMPLE_FMT_FLTP, out_rate, &layout,
                                static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr);
    av_channel_layout_uninit(&layout);
    swr_.reset(raw);
    if (r < 0 || !raw || swr_init(raw) < 0)
      throw Error(Status::decode_error, "cannot set up audio resampling");
  }

  // Converts `f` (or flushes when null) and appends mono samples to `out`.
  void convert(const AVFrame* f, std::vector<float>& out) {
    int in_samples = f ? f->nb_samples : 0;
    int capacity = swr_get_out_samples(swr_.get(), in_samples);
    if (capacity <= 0) return;
    planes_.resize(static_cast<std::size_t>(channels_));
    std::vector<std::uint8_t*> ptrs(static_cast<std::size_t>(channels_));
    for (int c = 0; c < channels_; ++c) {
      planes_[c].resize(static_cast<std::size_t>(capacity));
      ptrs[c] = reinterpret_cast<std::uint8_t*>(planes_[c].data());
    }
    int got = swr_convert(swr_.get(), ptrs.data(), capacity,
                          f ? const_cast<const std::uint8_t**>(f->extended_data) : nullptr, in_samples);
    if (got < 0) throw Error(Status::decode_error, "audio resampling failed: " + av_error_text(got));
    std::size_t base = out.size();
    out.resize(base + static_cast<std::size_t>(got), 0.0f);
    const float scale = 1.0f / static_cast<float>(channels_);
    for (int c = 0; c < channels_; ++c)
      for (int i = 0; i < got; ++i) out[base + i] += planes_[c][i] * scale;
  }

  bool matches(const AVFrame* f, int rate, AVSampleFormat format) const {
    return f->sample_rate == rate && f->format == format && f->ch_layout.nb_channels == channels_;
  }

 private:
  int channels_;
  std::unique_ptr<SwrContext, SwrDeleter> swr_;
  std::vector<std::vector<float>> planes_;
};

}  // namespace

AudioResult read_audio_input(const Input& input,
                             const std::function<bool(const float*, std::size_t, double)>& on_window,
                             const AudioOptions& options) {
  return guarded<AudioResult>([&](AudioResult& out) {
    if (options.sample_rate <= 0) throw Error(Status::error, "the output sample rate must be > 0");
    Demuxer demuxer(input, options.limits);
    AVFormatContext* ctx = demuxer.ctx();
    int as = find_audio_stream(ctx);
    if (as < 0) throw Error(Status::unsupported, "no audio stream");
    AVStream* st = ctx->streams[as];
    for (unsigned i = 0; i < ctx->nb_streams; ++i)
      if (static_cast<int>(i) != as) ctx->streams[i]->discard = AVDISCARD_ALL;
    out.source_rate = st->codecpar->sample_rate;
    out.source_channels = st->codecpar->ch_layout.nb_channels;
    auto decoder = open_decoder(st, 1);

    const std::int64_t max_samples =
        options.max_seconds
            ? static_cast<std::int64_t>(std::llround(*options.max_seconds * options.sample_rate))
            : std::numeric_limits<std::int64_t>::max();
    std::unique_ptr<Resampler> resampler;
    int rate = 0;
    AVSampleFormat format = AV_SAMPLE_FMT_NONE;
    std::vector<float> pending;
    bool stop = false, partial = false;
    std::string problem;

    // Hands out full windows (or everything, for window 0); `final` flushes the remainder.
    auto deliver = [&](bool final) {
      std::size_t window = options.window ? options.window : pending.size();
      std::size_t at = 0;
      while (!stop && window > 0 && pending.size() - at >= window && out.samples < max_samples) {
        std::size_t n = std::min<std::size_t>(window, static_cast<std::size_t>(max_samples - out.samples));
        double start = static_cast<double>(out.samples) / options.sample_rate;
        out.samples += static_cast<std::int64_t>(n);
        if (!on_window(pending.data() + at, n, start)) stop = true;
        at += n;
      }
      if (final && !stop && at < pending.size() && out.samples < max_samples) {
        std::size_t n =
            std::min<std::size_t>(pending.size() - at, static_cast<std::size_t>(max_samples - out.samples));
        double start = static_cast<double>(out.samples) / options.sample_rate;
        out.samples += static_cast<std::int64_t>(n);
        on_window(pending.data() + at, n, start);
        at += n;
      }
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(at));
      if (out.samples >= max_samples) stop = true;
    };

    auto frame = make_frame();
    auto drain = [&] {
      for (;;) {
        int r = avcodec_receive_frame(decoder.get(), frame.get());
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
        if (r < 0) {
          partial = true;
          if (problem.empty()) problem = "decoding: " + av_failure_text(r);
          return;
        }
        if (frame->ch_layout.nb_channels <= 0 || frame->sample_rate <= 0) {
          av_frame_unref(frame.get());
          continue;
        }
        // A stream may change rate or layout midway; the resampler follows.
        if (!resampler || !resampler->matches(frame.get(), rate, format)) {
          if (resampler) resampler->convert(nullptr, pending);
          resampler = std::make_unique<Resampler>(frame.get(), options.sample_rate);
          rate = frame->sample_rate;
          format = static_cast<AVSampleFormat>(frame->format);
        }
        resampler->convert(frame.get(), pending);
        av_frame_unref(frame.get());
        deliver(false);
        if (stop) return;
      }
    };

    auto packet = make_packet();
    std::string demux_error;
    while (!stop) {
      if (!demuxer.read_packet(packet.get(), demux_error)) {
        if (!demux_error.empty()) {
          partial = true;
          if (problem.empty()) problem = "demuxing: " + demux_error;
        }
        break;
      }
      if (packet->stream_index == as) {
        const int r = avcodec_send_packet(decoder.get(), packet.get());
        if (r < 0 && r != AVERROR(EAGAIN)) {
          partial = true;
          if (problem.empty()) problem = "decoding: " + av_failure_text(r);
        }
      }
      av_packet_unref(packet.get());
      drain();
    }
    if (!stop) {
      avcodec_send_packet(decoder.get(), nullptr);
      drain();
      if (resampler && !stop) resampler->convert(nullptr, pending);
      deliver(true);
    }
    if (partial) {
      out.warnings.push_back("partial_decode");
      out.message = problem;
    }
    std::int64_t needed = 0;
    if (index_points_past_end(ctx, demuxer.size_bytes(), &needed))
      throw Error(Status::truncated, "the index points past the end of the file (" +
                                         std::to_string(demuxer.size_bytes()) + " bytes, needs " +
                                         std::to_string(needed) + ")");
    if (out.samples == 0) {
      if (!problem.empty()) throw Error(Status::decode_error, problem);
      throw Error(Status::empty, "no audio samples");
    }
  });
}

}  // namespace detail

AudioResult read_audio(const std::string& path,
                       const std::function<bool(const float*, std::size_t, double)>& on_window,
                       const AudioOptions& options) {
  return detail::read_audio_input({path}, on_window, options);
}

AudioResult read_audio(const std::string& path, const AudioOptions& options) {
  // Collected in chunks and joined once: a vector grown sample by sample peaks at up to three
  // times the audio while it reallocates (two hours at 16 kHz are 460 MB of floats).
  constexpr std::size_t kChunk = 1 << 20;
  std::vector<std::vector<float>> chunks;
  std::size_t total = 0;
  auto result = read_audio(
      path,
      [&](const float* samples, std::size_t n, double) {
        if (chunks.empty() || chunks.back().size() + n > chunks.back().capacity()) {
          chunks.emplace_back();
          chunks.back().reserve(std::max(kChunk, n));
        }
        chunks.back().insert(chunks.back().end(), samples, samples + n);
        total += n;
        return true;
      },
      options);
  result.pcm.reserve(total);
  for (auto& chunk : chunks) {
    result.pcm.insert(result.pcm.end(), chunk.begin(), chunk.end());
    std::vector<float>().swap(chunk);  // freed as it goes: the peak is the audio plus one chunk
  }
  return result;
}

}  // namespace dfscan::media
