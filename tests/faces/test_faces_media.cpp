// Faces on real decoded media: the shared clips, a generated clip without faces.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "dfscan/faces.hpp"
#include "dfscan/media.hpp"

namespace fs = std::filesystem;
using namespace dfscan;

namespace {

struct Sampled {
  std::vector<cv::Mat> frames;
  std::vector<double> times;
};

Sampled sample(const std::string& path, int n) {
  auto r = media::read_video(path, media::FrameSelection::uniform(n));
  EXPECT_EQ(r.status, Status::ok) << r.message;
  Sampled s;
  for (auto& f : r.frames) {
    s.frames.push_back(f.rgb);
    s.times.push_back(f.pts);
  }
  return s;
}

bool have_ffmpeg() {
  return std::system("ffmpeg -version > /dev/null 2>&1") == 0;
}

}  // namespace

TEST(FacesOnVideo, SharedClipsHaveOneTrackFoundInAtLeast15Of16Frames) {
  const fs::path dir = fs::path(DFSCAN_SHARED_DIR) / "data" / "videos";
  if (!fs::is_directory(dir)) GTEST_SKIP() << dir << " absent";
  faces::FaceDetectorPool pool("default");
  int clips = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".mp4") continue;
    SCOPED_TRACE(e.path().string());
    ++clips;
    const auto s = sample(e.path().string(), 16);
    ASSERT_EQ(s.frames.size(), 16u);
    const auto faces = pool.detect(s.frames);
    int with_face = 0;
    for (const auto& f : faces) with_face += f.empty() ? 0 : 1;
    EXPECT_GE(with_face, 15);
    const auto tracks = faces::track_faces(faces, s.times);
    ASSERT_EQ(tracks.size(), 1u);
    EXPECT_GE(tracks[0].frames.size(), 15u);
    // Times come from the decoder and increase along the track.
    for (size_t i = 1; i < tracks[0].frames.size(); ++i)
      EXPECT_GT(tracks[0].frames[i].t, tracks[0].frames[i - 1].t);
  }
  EXPECT_GT(clips, 0);
}

TEST(FacesOnVideo, GeneratedTestPatternHasNoTrack) {
  if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg not installed";
  const fs::path out =
      fs::temp_directory_path() / ("dfscan_faces_testsrc_" + std::to_string(::getpid()) + ".mp4");
  const std::string cmd =
      "ffmpeg -v error -y -f lavfi -i testsrc=duration=2:size=1280x720:rate=10 -pix_fmt yuv420p " +
      out.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const auto s = sample(out.string(), 16);
  fs::remove(out);
  ASSERT_EQ(s.frames.size(), 16u);
  for (const std::string name : {"default", "dlib-hog", "haar-alt2"}) {
    SCOPED_TRACE(name);
    faces::FaceDetectorPool pool(name);
    EXPECT_TRUE(faces::track_faces(pool.detect(s.frames), s.times).empty());
  }
}
