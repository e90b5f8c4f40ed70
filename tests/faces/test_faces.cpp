// Faces layer: detector hardening and known images, tracker linking rules, crop geometry.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dfscan/faces.hpp"
#include "dfscan/status.hpp"
#include "face_recall.hpp"

namespace fs = std::filesystem;
using namespace dfscan::faces;

namespace {

const char* kAstronaut = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";
const char* kGraceHopper = "/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg";
const char* kIceBlock = "/usr/share/doc/facedetect/examples/640px-IceBlockNearJoekullsarlon.jpg";

// Test-only decoding: the library never reads files itself.
cv::Mat read_rgb(const char* path) {
  cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR), rgb;
  if (!bgr.empty()) cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

#define SKIP_IF_MISSING(path) \
  if (!fs::exists(path)) GTEST_SKIP() << path << " not installed"

const std::vector<std::string> kBackends = {"haar", "haar-alt",     "haar-alt2",
                                            "lbp",  "lbp-improved", "dlib-hog"};

Face face_at(float x, float y, float side, float score = 1.f) {
  Face f;
  f.box = cv::Rect2f(x, y, side, side);
  f.score = score;
  return f;
}

std::vector<double> times_for(size_t n) {
  std::vector<double> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = 0.5 * static_cast<double>(i);
  return t;
}

}  // namespace

// ---- detectors ------------------------------------------------------------------------------

TEST(FaceDetector, NamesResolveAndUnknownNamesFail) {
  EXPECT_EQ(make_face_detector("default")->name(), default_detector_name());
  for (const auto& name : kBackends) EXPECT_EQ(make_face_detector(name)->name(), name);
  EXPECT_THROW(make_face_detector("mtcnn"), dfscan::Error);
  EXPECT_THROW(make_face_detector("yunet:"), dfscan::Error);
  EXPECT_THROW(make_face_detector("yunet:/nonexistent/face_detection_yunet.onnx"), dfscan::Error);
}

TEST(FaceDetector, OddImagesGoThroughEveryBackend) {
  cv::Mat grey8(200, 300, CV_8UC1, cv::Scalar(90));
  cv::Mat grey16(200, 300, CV_16UC1, cv::Scalar(30000));
  cv::Mat rgb16(120, 160, CV_16UC3, cv::Scalar(1000, 20000, 65535));
  cv::Mat rgba(100, 100, CV_8UC4, cv::Scalar(1, 2, 3, 255));
  cv::Mat floats(64, 64, CV_32FC3, cv::Scalar(0.5, 0.2, 0.9));
  cv::randu(grey8, 0, 255);
  for (const auto& name : kBackends) {
    SCOPED_TRACE(name);
    auto d = make_face_detector(name);
    EXPECT_TRUE(d->detect(cv::Mat()).empty());
    EXPECT_TRUE(d->detect(cv::Mat(1, 1, CV_8UC3, cv::Scalar(10, 20, 30))).empty());
    EXPECT_NO_THROW(d->detect(grey8));
    EXPECT_NO_THROW(d->detect(grey16));
    EXPECT_NO_THROW(d->detect(rgb16));
    EXPECT_NO_THROW(d->detect(rgba));
    EXPECT_NO_THROW(d->detect(floats));
    EXPECT_NO_THROW(d->detect(cv::Mat(3, 4000, CV_8UC3, cv::Scalar(0, 0, 0))));  // extreme aspect
  }
  // Signed integer pixels have no obvious meaning: a clear error, not a guess.
  EXPECT_THROW(make_face_detector("default")->detect(cv::Mat(50, 50, CV_16SC3, cv::Scalar(0))),
               dfscan::Error);
}

TEST(FaceDetector, AstronautAndGraceHopperHaveExactlyOneFace) {
  SKIP_IF_MISSING(kAstronaut);
  SKIP_IF_MISSING(kGraceHopper);
  for (const std::string name : {"default", "dlib-hog"}) {
    SCOPED_TRACE(name);
    auto d = make_face_detector(name);
    for (const char* path : {kAstronaut, kGraceHopper}) {
      SCOPED_TRACE(path);
      const cv::Mat img = read_rgb(path);
      const auto faces = d->detect(img);
      ASSERT_EQ(faces.size(), 1u);
      // A real face in these portraits is large and in the upper two thirds.
      EXPECT_GT(faces[0].box.width, img.cols / 8);
      EXPECT_LT(faces[0].box.y + faces[0].box.height / 2, img.rows * 2 / 3);
    }
  }
}

TEST(FaceDetector, ListsRunInTurnUntilOneFindsAFace) {
  EXPECT_EQ(make_face_detector("dlib-hog,lbp-improved")->name(), "dlib-hog,lbp-improved");
  EXPECT_THROW(make_face_detector("lbp,,haar"), dfscan::Error);
  EXPECT_THROW(make_face_detector("lbp,mtcnn"), dfscan::Error);
  // Where the first finds a face, the list gives exactly its boxes.
  SKIP_IF_MISSING(kAstronaut);
  const cv::Mat img = read_rgb(kAstronaut);
  const auto first = make_face_detector("dlib-hog")->detect(img);
  const auto listed = make_face_detector("dlib-hog,lbp-improved")->detect(img);
  ASSERT_EQ(listed.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(listed[i].box, first[i].box);
  EXPECT_TRUE(make_face_detector("dlib-hog,lbp-improved")
                  ->detect(cv::Mat(240, 320, CV_8UC3, cv::Scalar(90, 90, 90)))
                  .empty());
  // Where it finds none, the next one's boxes: a DFDC crop that dlib's HOG misses and the LBP cascade
  // finds (each on the grey canvas the recall figures use).
  const fs::path crops = fs::path(DFSCAN_SHARED_DIR) / "data" / "dfdc-faces-sample";
  if (!fs::is_directory(crops)) GTEST_SKIP() << crops << " absent";
  auto hog = make_face_detector("dlib-hog");
  auto lbp = make_face_detector("lbp-improved");
  auto chain = make_face_detector("dlib-hog,lbp-improved");
  for (const auto& path : dfscan::faces::testing::list_images(crops)) {
    const cv::Mat canvas = dfscan::faces::testing::on_grey_canvas(read_rgb(path.c_str()));
    if (!hog->detect(canvas).empty()) continue;
    const auto second = lbp->detect(canvas);
    if (second.empty()) continue;
    const auto got = chain->detect(canvas);
    ASSERT_EQ(got.size(), second.size()) << path;
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].box, second[i].box) << path;
    return;
  }
  FAIL() << "no crop that dlib-hog misses and lbp-improved finds";
}

TEST(FaceDetector, GreyAndSixteenBitCopiesFindTheSameFace) {
  SKIP_IF_MISSING(kAstronaut);
  const cv::Mat rgb = read_rgb(kAstronaut);
  cv::Mat grey, rgb16;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  rgb.convertTo(rgb16, CV_16U, 257.0);
  auto d = make_face_detector("default");
  const auto ref = d->detect(rgb);
  ASSERT_EQ(ref.size(), 1u);
  for (const cv::Mat& img : {grey, rgb16}) {
    const auto faces = d->detect(img);
    ASSERT_EQ(faces.size(), 1u);
    EXPECT_GT((faces[0].box & ref[0].box).area() / (faces[0].box | ref[0].box).area(), 0.8f);
  }
}

TEST(FaceDetector, BoxesAreMappedBackFromTheDownscaledFrame) {
  SKIP_IF_MISSING(kAstronaut);
  const cv::Mat small = read_rgb(kAstronaut);  // 512 px: detected at full size
  cv::Mat big;
  cv::resize(small, big, cv::Size(), 4.0, 4.0, cv::INTER_CUBIC);  // 2048 px: detected at 640
  for (const std::string name : {"default", "dlib-hog"}) {
    SCOPED_TRACE(name);
    auto d = make_face_detector(name);
    const auto a = d->detect(small), b = d->detect(big);
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(b.size(), 1u);
    const cv::Rect2f scaled(a[0].box.x * 4, a[0].box.y * 4, a[0].box.width * 4, a[0].box.height * 4);
    EXPECT_GT((scaled & b[0].box).area() / (scaled | b[0].box).area(), 0.6f);
  }
}

TEST(FaceDetector, LandscapeWithoutPeopleHasNoTrack) {
  SKIP_IF_MISSING(kIceBlock);
  const cv::Mat img = read_rgb(kIceBlock);
  ASSERT_FALSE(img.empty());
  for (const std::string name : {"default", "dlib-hog"}) {
    SCOPED_TRACE(name);
    auto d = make_face_detector(name);
    const auto tracks = track_faces({d->detect(img)}, {0.0});
    EXPECT_TRUE(tracks.empty());
  }
}

TEST(FaceDetectorPool, MatchesASingleDetectorFrameByFrame) {
  SKIP_IF_MISSING(kAstronaut);
  SKIP_IF_MISSING(kGraceHopper);
  std::vector<cv::Mat> frames;
  for (int i = 0; i < 6; ++i) frames.push_back(read_rgb(i % 2 ? kAstronaut : kGraceHopper));
  frames.push_back(cv::Mat());  // an empty frame is just a frame without faces
  for (const std::string name : {"default", "dlib-hog"}) {
    FaceDetectorPool pool(name, {}, 3);
    const auto all = pool.detect(frames);
    const auto again = pool.detect(frames);  // the workers are reused
    ASSERT_EQ(all.size(), frames.size());
    auto single = make_face_detector(name);
    for (size_t i = 0; i < frames.size(); ++i) {
      const auto ref = single->detect(frames[i]);
      ASSERT_EQ(all[i].size(), ref.size()) << i;
      ASSERT_EQ(again[i].size(), ref.size()) << i;
      for (size_t k = 0; k < ref.size(); ++k) EXPECT_EQ(all[i][k].box, ref[k].box);
    }
  }
  EXPECT_THROW(FaceDetectorPool("nope"), dfscan::Error);
}

// ---- tracker --------------------------------------------------------------------------------

TEST(Tracker, MinimumLengthIsAFractionOfTheSampledFrames) {
  EXPECT_EQ(min_track_length(16), 4);
  EXPECT_EQ(min_track_length(32), 8);
  EXPECT_EQ(min_track_length(10), 3);
  EXPECT_EQ(min_track_length(1), 1);
  EXPECT_EQ(min_track_length(0), 1);
  TrackerOptions o;
  o.min_track_fraction = 0.f;
  EXPECT_EQ(min_track_length(16, o), 1);
}

TEST(Tracker, OnePersonMovingWithMissedFramesIsOneTrack) {
  std::vector<std::vector<Face>> faces(16);
  for (int i = 0; i < 16; ++i)
    if (i != 5 && i != 11 && i != 12) faces[i].push_back(face_at(100.f + 12.f * i, 80.f, 100.f + i));
  const auto tracks = track_faces(faces, times_for(16));
  ASSERT_EQ(tracks.size(), 1u);
  EXPECT_EQ(tracks[0].id, 0);
  ASSERT_EQ(tracks[0].frames.size(), 13u);
  EXPECT_EQ(tracks[0].frames[5].frame_index, 6);
  EXPECT_DOUBLE_EQ(tracks[0].frames[5].t, 3.0);
}

TEST(Tracker, FastMoveWithoutOverlapIsLinkedByCentreShift) {
  // Sampled frames a second apart: the face moves 40% of its size, IoU drops below 0.3.
  std::vector<std::vector<Face>> faces;
  for (int i = 0; i < 8; ++i) faces.push_back({face_at(40.f * i, 0.f, 100.f)});
  const auto tracks = track_faces(faces, times_for(8));
  ASSERT_EQ(tracks.size(), 1u);
  EXPECT_EQ(tracks[0].frames.size(), 8u);
}

TEST(Tracker, TwoPeopleAreTwoTracksInOrderOfAppearance) {
  std::vector<std::vector<Face>> faces(16);
  for (int i = 0; i < 16; ++i) {
    if (i >= 3) faces[i].push_back(face_at(600.f, 100.f, 120.f));  // appears later, listed first
    faces[i].push_back(face_at(100.f + i, 100.f, 110.f));
  }
  const auto tracks = track_faces(faces, times_for(16));
  ASSERT_EQ(tracks.size(), 2u);
  EXPECT_EQ(tracks[0].frames.size(), 16u);
  EXPECT_FLOAT_EQ(tracks[0].frames[0].face.box.x, 100.f);
  EXPECT_EQ(tracks[1].id, 1);
  EXPECT_EQ(tracks[1].frames.size(), 13u);
  EXPECT_FLOAT_EQ(tracks[1].frames[0].face.box.x, 600.f);
}

TEST(Tracker, ShortTracksAreDroppedAsFalsePositives) {
  std::vector<std::vector<Face>> faces(16);
  for (int i = 0; i < 16; ++i) faces[i].push_back(face_at(100.f, 100.f, 100.f));
  faces[7].push_back(face_at(500.f, 300.f, 40.f));                              // a one-frame blip
  for (int i = 9; i < 12; ++i) faces[i].push_back(face_at(800.f, 50.f, 60.f));  // 3 < 4 frames
  const auto tracks = track_faces(faces, times_for(16));
  ASSERT_EQ(tracks.size(), 1u);
  EXPECT_FLOAT_EQ(tracks[0].frames[0].face.box.x, 100.f);
  // A still image is one frame: its single detection is a track.
  EXPECT_EQ(track_faces({{face_at(10.f, 10.f, 50.f)}}, {0.0}).size(), 1u);
  EXPECT_TRUE(track_faces({}, {}).empty());
}

TEST(Tracker, LongGapsAndSizeJumpsStartNewTracks) {
  std::vector<std::vector<Face>> faces(16);
  for (int i = 0; i < 6; ++i) faces[i].push_back(face_at(100.f, 100.f, 100.f));
  // Missing frames 6..8 is a gap of 3 > max_gap 2.
  for (int i = 9; i < 16; ++i) faces[i].push_back(face_at(100.f, 100.f, 100.f));
  EXPECT_EQ(track_faces(faces, times_for(16)).size(), 2u);

  std::vector<std::vector<Face>> sizes(8);
  for (int i = 0; i < 8; ++i) sizes[i].push_back(face_at(100.f, 100.f, i < 4 ? 100.f : 200.f));
  EXPECT_EQ(track_faces(sizes, times_for(8)).size(), 2u);
}

TEST(Tracker, MismatchedTimestampsAreAnError) {
  EXPECT_THROW(track_faces({{}, {}}, {0.0}), dfscan::Error);
}

// ---- crops ----------------------------------------------------------------------------------

TEST(Crop, SquareWithMarginCentredOnTheBox) {
  FaceSetup s;
  s.margin = 0.25f;
  const cv::Rect r = crop_rect(cv::Rect2f(400, 300, 100, 80), cv::Size(1280, 720), s);
  EXPECT_EQ(r, cv::Rect(375, 265, 150, 150));  // side 100 * 1.5, centre (450, 340)
}

TEST(Crop, IsMovedInsideTheFrameNotCut) {
  FaceSetup s;
  s.margin = 0.5f;
  const cv::Rect r = crop_rect(cv::Rect2f(0, 10, 100, 100), cv::Size(640, 480), s);
  EXPECT_EQ(r, cv::Rect(0, 0, 200, 200));
  const cv::Rect br = crop_rect(cv::Rect2f(590, 430, 50, 50), cv::Size(640, 480), s);
  EXPECT_EQ(br, cv::Rect(540, 380, 100, 100));
}

TEST(Crop, ShrinksToStaySquareInASmallFrame) {
  FaceSetup s;
  s.margin = 0.5f;
  const cv::Rect r = crop_rect(cv::Rect2f(10, 20, 90, 90), cv::Size(300, 120), s);
  EXPECT_EQ(r.width, 120);
  EXPECT_EQ(r.height, 120);
  EXPECT_EQ(r.y, 0);
  EXPECT_EQ(r.x, 0);
  EXPECT_TRUE((r & cv::Rect(0, 0, 300, 120)) == r);
}

TEST(Crop, TightBoxWithoutMarginAsGenConViTsReference) {
  FaceSetup s;
  s.margin = 0.f;
  s.square = false;
  EXPECT_EQ(crop_rect(cv::Rect2f(40, 50, 120, 90), cv::Size(640, 480), s), cv::Rect(40, 50, 120, 90));
  EXPECT_TRUE(crop_rect(cv::Rect2f(40, 50, 0, 90), cv::Size(640, 480), s).empty());
}

TEST(Crop, ResizesToTheInputSizeAndKeepsContent) {
  // Left half red, right half blue: a centred crop keeps both halves in place.
  cv::Mat frame(480, 640, CV_8UC3, cv::Scalar(255, 0, 0));
  frame(cv::Rect(320, 0, 320, 480)).setTo(cv::Scalar(0, 0, 255));
  FaceSetup s;
  s.margin = 0.f;
  s.input_size = 64;
  const cv::Mat big = crop_face(frame, cv::Rect2f(220, 140, 200, 200), s);  // shrink: INTER_AREA
  ASSERT_EQ(big.size(), cv::Size(64, 64));
  EXPECT_EQ(big.type(), CV_8UC3);
  EXPECT_EQ(big.at<cv::Vec3b>(32, 10), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(big.at<cv::Vec3b>(32, 54), cv::Vec3b(0, 0, 255));
  const cv::Mat tiny = crop_face(frame, cv::Rect2f(300, 200, 40, 40), s);  // enlarge
  ASSERT_EQ(tiny.size(), cv::Size(64, 64));
  EXPECT_EQ(tiny.at<cv::Vec3b>(32, 2), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(tiny.at<cv::Vec3b>(32, 61), cv::Vec3b(0, 0, 255));
  EXPECT_TRUE(crop_face(frame, cv::Rect2f(0, 0, 0, 0), s).empty());
  s.input_size = 0;
  EXPECT_THROW(crop_face(frame, cv::Rect2f(300, 200, 40, 40), s), dfscan::Error);
}

TEST(Crop, ShrinkingAveragesPixels) {
  // A 1-pixel checkerboard shrunk by 4 with INTER_AREA is flat grey; nearest-style would alias.
  cv::Mat frame(256, 256, CV_8UC3);
  for (int y = 0; y < 256; ++y)
    for (int x = 0; x < 256; ++x)
      frame.at<cv::Vec3b>(y, x) = (x + y) % 2 ? cv::Vec3b(255, 255, 255) : cv::Vec3b();
  FaceSetup s;
  s.margin = 0.f;
  s.input_size = 64;
  const cv::Mat out = crop_face(frame, cv::Rect2f(0, 0, 256, 256), s);
  double lo, hi;
  cv::minMaxLoc(out.reshape(1), &lo, &hi);
  EXPECT_GE(lo, 126);
  EXPECT_LE(hi, 129);
}

TEST(FaceSetupFromManifest, FacesObjectOverDefaultsWithTheInputSizeAsFallback) {
  const FaceSetup defaults;
  // No manifest, or one without faces or input: the built-in defaults.
  for (const auto& m : {nlohmann::json(), nlohmann::json::object(), nlohmann::json{{"faces", nullptr}}}) {
    const auto s = face_setup_from_manifest(m);
    EXPECT_EQ(s.detector, defaults.detector);
    EXPECT_FLOAT_EQ(s.margin, defaults.margin);
    EXPECT_EQ(s.square, defaults.square);
    EXPECT_EQ(s.frames, defaults.frames);
    EXPECT_EQ(s.input_size, defaults.input_size);
  }
  // GenConViT's reference crops: every field from "faces".
  const auto ed = face_setup_from_manifest(
      {{"faces",
        {{"detector", "dlib-hog"}, {"margin", 0.0}, {"square", false}, {"frames", 15}, {"input_size", 128}}},
       {"input", {{"size", 224}}}});
  EXPECT_EQ(ed.detector, "dlib-hog");
  EXPECT_FLOAT_EQ(ed.margin, 0.f);
  EXPECT_FALSE(ed.square);
  EXPECT_EQ(ed.frames, 15);
  EXPECT_EQ(ed.input_size, 128);  // faces.input_size wins over input.size
  // Without faces.input_size the crops are made at the network's input size, not resized twice.
  const auto fallback = face_setup_from_manifest({{"faces", {{"frames", 8}}}, {"input", {{"size", 160}}}});
  EXPECT_EQ(fallback.frames, 8);
  EXPECT_EQ(fallback.input_size, 160);
  EXPECT_EQ(fallback.detector, defaults.detector);
}
