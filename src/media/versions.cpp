#include <opencv2/core/version.hpp>

#include "dfscan/media.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
}

namespace dfscan::media {
namespace {
std::string lib_version(unsigned v) {
  return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
}
}  // namespace

std::string library_versions() {
  return std::string("OpenCV ") + CV_VERSION + ", FFmpeg " + av_version_info() + " (libavformat " +
         lib_version(avformat_version()) + ", libavcodec " + lib_version(avcodec_version()) + ")";
}

}  // namespace dfscan::media
