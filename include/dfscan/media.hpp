#pragma once
// Media layer: FFmpeg/OpenCV readers. Torch-free, so sanitizer and fuzz builds stay cheap.
#include <string>

namespace dfscan::media {

// "OpenCV 4.6.0, FFmpeg 5.1.x (libavformat 59.27.100, libavcodec 59.37.100)"
std::string library_versions();

}  // namespace dfscan::media
