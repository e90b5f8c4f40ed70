#pragma once
// Entry points on an in-memory or on-disk Input: the public path-based API wraps these, and the
// fuzzer drives them with bytes in memory.
#include "dfscan/media.hpp"
#include "media/av_common.hpp"

namespace dfscan::media::detail {

ProbeInfo probe_input(const Input& input, const Limits& limits);
VideoResult read_video_input(const Input& input, const FrameSelection& selection,
                             const std::function<bool(Frame&&)>& on_frame, const VideoOptions& options);
AudioResult read_audio_input(const Input& input,
                             const std::function<bool(const float*, std::size_t, double)>& on_window,
                             const AudioOptions& options);
ImageResult read_image_bytes(const std::uint8_t* data, std::size_t size, const Limits& limits);

// True when an index entry (an mp4 sample table, say) points past `size` bytes.
bool index_points_past_end(AVFormatContext* ctx, std::int64_t size, std::int64_t* needed = nullptr);

}  // namespace dfscan::media::detail
