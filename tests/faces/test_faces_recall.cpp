// Recall of the default detector on the DFDC face-crop sample, each crop centred on a grey
// canvas twice its size (face_recall.hpp). The issue asks for at least 85%.
#include <gtest/gtest.h>

#include "face_recall.hpp"

namespace fs = std::filesystem;
using namespace dfscan::faces;

TEST(FaceRecall, DefaultDetectorFindsAtLeast85PercentOfDfdcCrops) {
  const fs::path dir = fs::path(DFSCAN_SHARED_DIR) / "data" / "dfdc-faces-sample";
  if (!fs::is_directory(dir)) GTEST_SKIP() << dir << " absent";
  const auto images = dfscan::faces::testing::list_images(dir);
  ASSERT_EQ(images.size(), 166u);
  auto detector = make_face_detector("default");
  const auto r = dfscan::faces::testing::measure_recall(*detector, images);
  ASSERT_EQ(r.images, 166);
  std::string missed;
  for (const auto& m : r.missed) missed += "\n  " + m;
  EXPECT_GE(r.found * 100, 85 * r.images) << r.found << "/" << r.images << " found; missed:" << missed;
  RecordProperty("found", r.found);
}

TEST(FaceRecall, DlibHogFallingBackToLbpFindsAtLeast95PercentOfDfdcCrops) {
  // GenConViT's detector (dlib's HOG, 78 %) with the LBP cascade on the frames it misses: 96.4 %.
  const fs::path dir = fs::path(DFSCAN_SHARED_DIR) / "data" / "dfdc-faces-sample";
  if (!fs::is_directory(dir)) GTEST_SKIP() << dir << " absent";
  auto detector = make_face_detector("dlib-hog,lbp-improved");
  const auto r = dfscan::faces::testing::measure_recall(*detector, dfscan::faces::testing::list_images(dir));
  ASSERT_EQ(r.images, 166);
  EXPECT_GE(r.found * 100, 95 * r.images) << r.found << "/" << r.images;
}
