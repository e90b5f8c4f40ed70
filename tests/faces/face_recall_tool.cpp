// Prints the recall table of face detectors on a folder of face crops (see face_recall.hpp).
// Usage: face_recall_tool DIR [--min-side N] [--upsample N] [--min-neighbors N] [--scale-factor F]
// [DETECTOR...]
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "face_recall.hpp"

int main(int argc, char** argv) {
  using namespace dfscan::faces;
  if (argc < 2) {
    std::fprintf(
        stderr,
        "usage: %s DIR [--min-side N] [--upsample N] [--min-neighbors N] [--scale-factor F] [DETECTOR...]\n",
        argv[0]);
    return 64;
  }
  const std::string dir = argv[1];
  DetectorOptions options;
  std::vector<std::string> names;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--min-side" || a == "--upsample" || a == "--min-neighbors") && i + 1 < argc) {
      const int v = std::atoi(argv[++i]);
      (a == "--min-side"   ? options.min_side
       : a == "--upsample" ? options.upsample
                           : options.min_neighbors) = v;
    } else if (a == "--scale-factor" && i + 1 < argc) {
      options.scale_factor = std::atof(argv[++i]);
    } else {
      names.push_back(a);
    }
  }
  if (names.empty()) names = {"haar", "haar-alt", "haar-alt2", "lbp", "lbp-improved", "dlib-hog"};
  try {
    const auto images = testing::list_images(dir);
    std::printf("%-14s %9s %8s %10s %13s\n", "detector", "found", "recall", "ms/image", "cpu ms/image");
    for (const auto& name : names) {
      auto detector = make_face_detector(name, options);
      const auto r = testing::measure_recall(*detector, images);
      std::printf("%-14s %4d/%-4d %7.1f%% %10.1f %13.1f\n", name.c_str(), r.found, r.images,
                  r.images ? 100.0 * r.found / r.images : 0.0, r.ms_per_image, r.cpu_ms_per_image);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
