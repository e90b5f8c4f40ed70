// Times face detection on N uniformly sampled frames of a video (decoding excluded).
// Usage: face_bench_tool VIDEO [--frames N] [--repeat R] [--threads T] [DETECTOR...]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "dfscan/faces.hpp"
#include "dfscan/media.hpp"

namespace {
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
}  // namespace

int main(int argc, char** argv) {
  using namespace dfscan;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s VIDEO [--frames N] [--repeat R] [--threads T] [DETECTOR...]\n", argv[0]);
    return 64;
  }
  int frames = 16, repeat = 5, threads = 0;
  std::vector<std::string> names;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--frames" && i + 1 < argc)
      frames = std::atoi(argv[++i]);
    else if (a == "--repeat" && i + 1 < argc)
      repeat = std::max(1, std::atoi(argv[++i]));
    else if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else
      names.push_back(a);
  }
  if (names.empty()) names = {"default"};
  try {
    const auto video = media::read_video(argv[1], media::FrameSelection::uniform(frames));
    if (video.status != Status::ok) {
      std::fprintf(stderr, "%s: %s %s\n", argv[1], to_string(video.status), video.message.c_str());
      return 2;
    }
    std::vector<cv::Mat> mats;
    for (const auto& f : video.frames) mats.push_back(f.rgb);
    std::printf("%s: %zu frames of %dx%d, best of %d runs\n", argv[1], mats.size(), video.width, video.height,
                repeat);
    std::printf("%-14s %10s %10s %12s %9s\n", "detector", "wall_s", "cpu_s", "frames_w_face", "faces");
    for (const auto& name : names) {
      faces::FaceDetectorPool pool(name, {}, threads);
      pool.detect({mats.front()});  // load models on every worker before timing
      pool.detect(std::vector<cv::Mat>(mats.begin(), mats.begin() + std::min<size_t>(mats.size(), 8)));
      double best_wall = 1e9, best_cpu = 1e9;
      std::vector<std::vector<faces::Face>> found;
      for (int r = 0; r < repeat; ++r) {
        const double c0 = cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        found = pool.detect(mats);
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best_wall = std::min(best_wall, wall);
        best_cpu = std::min(best_cpu, cpu_seconds() - c0);
      }
      size_t with_face = 0, total = 0;
      for (const auto& f : found) {
        with_face += f.empty() ? 0 : 1;
        total += f.size();
      }
      std::printf("%-14s %10.3f %10.3f %9zu/%-3zu %8zu\n", name.c_str(), best_wall, best_cpu, with_face,
                  found.size(), total);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
