// What a file holds: demux it once, count packets, never decode video frames.
#include <cmath>

#include "dfscan/media.hpp"
#include "media/av_common.hpp"
#include "media/detail.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace dfscan::media {

const char* to_string(Modality modality) {
  switch (modality) {
    case Modality::video:
      return "video";
    case Modality::video_audio:
      return "video+audio";
    case Modality::image:
      return "image";
    case Modality::audio:
      return "audio";
    case Modality::unknown:
      break;
  }
  return "unknown";
}

namespace detail {
namespace {

bool valid(AVRational r) {
  return r.num > 0 && r.den > 0;
}

bool is_still_image_codec(AVCodecID id) {
  switch (id) {
    case AV_CODEC_ID_PNG:
    case AV_CODEC_ID_MJPEG:
    case AV_CODEC_ID_GIF:
    case AV_CODEC_ID_WEBP:
    case AV_CODEC_ID_BMP:
    case AV_CODEC_ID_TIFF:
    case AV_CODEC_ID_JPEG2000:
    case AV_CODEC_ID_JPEGLS:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool index_points_past_end(AVFormatContext* ctx, std::int64_t size, std::int64_t* needed) {
  std::int64_t furthest = 0;
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    AVStream* s = ctx->streams[i];
    int n = avformat_index_get_entries_count(s);
    for (int k = 0; k < n; ++k) {
      const AVIndexEntry* e = avformat_index_get_entry(s, k);
      if (e && e->pos >= 0) furthest = std::max(furthest, e->pos + e->size);
    }
  }
  if (needed) *needed = furthest;
  return furthest > size;
}

ProbeInfo probe_input(const Input& input, const Limits& limits) {
  ProbeInfo result = guarded<ProbeInfo>([&](ProbeInfo& info) {
    Demuxer demuxer(input, limits);
    AVFormatContext* ctx = demuxer.ctx();
    info.size_bytes = demuxer.size_bytes();
    info.container = ctx->iformat->name;
    if (ctx->duration != AV_NOPTS_VALUE && ctx->duration > 0)
      info.duration = static_cast<double>(ctx->duration) / AV_TIME_BASE;

    int vs = find_video_stream(ctx);
    int as = find_audio_stream(ctx);
    if (vs < 0 && as < 0) throw Error(Status::unsupported, "no audio or video stream");
    if (vs >= 0) {
      const AVStream* s = ctx->streams[vs];
      const AVCodecParameters* par = s->codecpar;
      info.video_codec = avcodec_get_name(par->codec_id);
      info.width = par->width;
      info.height = par->height;
      info.rotation = stream_rotation(s);
      if (const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format)))
        info.pixel_format = name;
      if (valid(s->avg_frame_rate))
        info.fps = av_q2d(s->avg_frame_rate);
      else if (valid(s->r_frame_rate))
        info.fps = av_q2d(s->r_frame_rate);
      if (s->nb_frames > 0) info.frames_header = s->nb_frames;
    }
    if (as >= 0) {
      const AVCodecParameters* par = ctx->streams[as]->codecpar;
      info.audio_codec = avcodec_get_name(par->codec_id);
      info.audio_rate = par->sample_rate;
      info.audio_channels = par->ch_layout.nb_channels;
    }

    // Count packets by demuxing everything (cheap: no decoding).
    auto packet = make_packet();
    std::string demux_error;
    while (demuxer.read_packet(packet.get(), demux_error)) {
      if (packet->stream_index == vs)
        ++info.frames;
      else if (packet->stream_index == as)
        ++info.audio_packets;
      av_packet_unref(packet.get());
    }
    if (!demux_error.empty()) info.warnings.push_back("partial_demux: " + demux_error);

    if (vs >= 0 &&
        (is_image_demuxer(ctx->iformat) ||
         (as < 0 && info.frames == 1 && is_still_image_codec(ctx->streams[vs]->codecpar->codec_id)))) {
      info.modality = Modality::image;
      info.fps.reset();
      info.duration.reset();
    } else if (vs >= 0) {
      info.modality = as >= 0 ? Modality::video_audio : Modality::video;
    } else {
      info.modality = Modality::audio;
    }
    if (over_pixel_limit(info.width, info.height, limits.max_pixels))
      throw Error(Status::too_large, std::to_string(info.width) + "x" + std::to_string(info.height) +
                                         " is over the limit of " + std::to_string(limits.max_pixels) +
                                         " pixels");

    std::int64_t needed = 0;
    if (index_points_past_end(ctx, info.size_bytes, &needed))
      throw Error(Status::truncated, "the index points past the end of the file (" +
                                         std::to_string(info.size_bytes) + " bytes, needs " +
                                         std::to_string(needed) + ")");
    if (info.frames == 0 && info.audio_packets == 0) throw Error(Status::empty, "no frames or samples");
  });
  result.path = input.path;
  return result;
}

}  // namespace detail

ProbeInfo probe(const std::string& path, const Limits& limits) {
  return detail::probe_input({path}, limits);
}

}  // namespace dfscan::media
