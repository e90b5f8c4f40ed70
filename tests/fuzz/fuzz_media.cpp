// libFuzzer entry: one input through the probe, the video reader, the audio reader and the
// image reader, all from memory. Any crash, leak, sanitizer report or hang past libFuzzer's
// -timeout is a bug; a typed failure status is the expected outcome for most inputs.
#include <cstddef>
#include <cstdint>

#include "media/detail.hpp"

using namespace dfscan::media;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Limits limits;
  limits.max_pixels = 4096 * 4096;  // keeps each run fast; the limit itself is under test
  limits.deadline_seconds = 5.0;
  detail::Input input{"fuzz-input", data, size};

  detail::probe_input(input, limits);

  VideoOptions video;
  video.limits = limits;
  video.threads = 1;  // deterministic runs
  detail::read_video_input(
      input, FrameSelection::uniform(3), [](Frame&&) { return true; }, video);

  AudioOptions audio;
  audio.limits = limits;
  audio.window = 4096;
  audio.max_seconds = 30.0;
  detail::read_audio_input(
      input, [](const float*, std::size_t, double) { return true; }, audio);

  detail::read_image_bytes(data, size, limits);
  return 0;
}
