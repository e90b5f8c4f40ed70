#pragma once
// Media layer: FFmpeg/OpenCV readers. Torch-free, so sanitizer and fuzz builds stay cheap.
//
// Every entry point returns a result carrying a dfscan::Status and a one-line message; no
// exception escapes for a per-file problem (a bad, missing, hostile or huge file).
#include <atomic>
#include <cstdint>
#include <functional>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dfscan/status.hpp"

namespace dfscan::media {

// "OpenCV 4.6.0, FFmpeg 5.1.x (libavformat 59.27.100, libavcodec 59.37.100)"
std::string library_versions();

// Limits shared by all readers, so that a hostile file cannot hang or exhaust a batch.
struct Limits {
  // Images and video frames with more pixels than this get Status::too_large before decoding.
  std::int64_t max_pixels = 100'000'000;
  // Wall-clock budget per file, in seconds; <= 0 means none. Exceeding it gives Status::error.
  double deadline_seconds = 120.0;
  // Set from another thread (a SIGINT handler, say) to abort the current read.
  const std::atomic<bool>* cancel = nullptr;
};

// What a file holds, decided by its content, never by its extension.
enum class Modality { unknown, video, video_audio, image, audio };
// "video", "video+audio", "image", "audio", "unknown"
const char* to_string(Modality modality);

struct ProbeInfo {
  std::string path;
  Status status = Status::ok;
  std::string message;                // one line; empty when ok
  std::vector<std::string> warnings;  // e.g. "partial_demux"
  Modality modality = Modality::unknown;
  std::string container;    // libavformat demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  std::string video_codec;  // e.g. "h264"; empty when there is no video/image stream
  std::string audio_codec;
  std::optional<double> duration;             // container duration, seconds
  std::optional<double> fps;                  // the stream's average frame rate (r_frame_rate if unknown)
  std::int64_t frames = 0;                    // video packets counted by demuxing the whole file
  std::optional<std::int64_t> frames_header;  // the container's frame count, when it has one
  int width = 0, height = 0;                  // coded size, as stored
  int rotation = 0;          // clockwise degrees (0/90/180/270) the display matrix turns frames by
  std::string pixel_format;  // e.g. "yuv420p", "rgba64be"
  int audio_rate = 0;
  int audio_channels = 0;
  std::int64_t audio_packets = 0;
  std::int64_t size_bytes = 0;
};

ProbeInfo probe(const std::string& path, const Limits& limits = {});

// ---- Video ----------------------------------------------------------------------------------

// Which frames to return. Frames come back in presentation order.
struct FrameSelection {
  enum class Kind { uniform, every_kth, fps, timestamps };
  Kind kind = Kind::uniform;
  int count = 16;                  // uniform: N frames spread evenly over the frame range
  int step = 1;                    // every_kth: frames 0, k, 2k, ... (in presentation order)
  double rate = 1.0;               // fps: one frame every 1/rate seconds from the start
  std::vector<double> timestamps;  // timestamps: seconds from the stream start

  static FrameSelection uniform(int n) { return {Kind::uniform, n, 1, 1.0, {}}; }
  static FrameSelection every_kth(int k) { return {Kind::every_kth, 0, k, 1.0, {}}; }
  static FrameSelection at_fps(double fps) { return {Kind::fps, 0, 1, fps, {}}; }
  static FrameSelection at(std::vector<double> seconds) {
    return {Kind::timestamps, 0, 1, 1.0, std::move(seconds)};
  }
};

struct Frame {
  cv::Mat rgb;          // CV_8UC3, RGB order, display orientation (rotation already applied)
  double pts = 0.0;     // presentation time in seconds from the stream start (best effort)
  double target = 0.0;  // the time that asked for this frame (== pts for every_kth)
};

struct VideoOptions {
  Limits limits;
  int threads = 0;  // decoder threads; 0 lets FFmpeg choose
};

struct VideoResult {
  Status status = Status::ok;
  std::string message;
  std::vector<std::string> warnings;  // "partial_decode" when an error stopped decoding midway
  double duration = 0.0;              // seconds (container's, else the stream's)
  double fps = 0.0;
  int width = 0, height = 0;  // display size (after rotation)
  int rotation = 0;
  std::int64_t frames_decoded = 0;  // frames the decoder actually produced (a cost figure)
  std::vector<Frame> frames;        // empty when a callback consumed them
};

// Streams frames to `on_frame`; return false from it to stop early.
VideoResult read_video(const std::string& path, const FrameSelection& selection,
                       const std::function<bool(Frame&&)>& on_frame, const VideoOptions& options = {});
// Collects the frames into VideoResult::frames.
VideoResult read_video(const std::string& path, const FrameSelection& selection,
                       const VideoOptions& options = {});

// ---- Audio ----------------------------------------------------------------------------------

struct AudioOptions {
  Limits limits;
  int sample_rate = 16000;            // output rate; mono float in [-1, 1]
  std::size_t window = 0;             // samples per callback window; 0 = chunks as they are decoded
  std::optional<double> max_seconds;  // stop after this much audio
};

struct AudioResult {
  Status status = Status::ok;
  std::string message;
  std::vector<std::string> warnings;
  int source_rate = 0;
  int source_channels = 0;
  std::int64_t samples = 0;  // output samples delivered
  std::vector<float> pcm;    // filled only by the collecting overload
};

// Delivers consecutive windows of `window` samples (the last one may be shorter) with the time of
// their first sample. Return false to stop.
AudioResult read_audio(
    const std::string& path,
    const std::function<bool(const float* samples, std::size_t n, double start)>& on_window,
    const AudioOptions& options = {});
AudioResult read_audio(const std::string& path, const AudioOptions& options = {});

// ---- Images ---------------------------------------------------------------------------------

struct ImageResult {
  Status status = Status::ok;
  std::string message;
  cv::Mat rgb;                // CV_8UC3, RGB order, EXIF orientation applied
  int width = 0, height = 0;  // of `rgb`
  int channels = 0;           // as stored: 1 gray, 2 gray+alpha, 3 colour, 4 colour+alpha
  int bit_depth = 0;          // as stored: 8 or 16
  int exif_orientation = 1;   // 1..8; 1 when absent
  // "partial_decode": the JPEG data ends before its image does; the decoder filled the rest.
  std::vector<std::string> warnings;
};

ImageResult read_image(const std::string& path, const Limits& limits = {});

// Width and height from the header alone (PNG, JPEG, GIF, BMP, WebP), without decoding.
struct ImageHeader {
  std::string format;  // "png", "jpeg", "gif", "bmp", "webp"
  std::int64_t width = 0, height = 0;
  int channels = 0;   // as stored, when the header says (PNG, JPEG); 0 otherwise
  int bit_depth = 0;  // bits per channel, when the header says; 0 otherwise
};
std::optional<ImageHeader> read_image_header(const std::uint8_t* data, std::size_t size);

}  // namespace dfscan::media
