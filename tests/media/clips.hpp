#pragma once
// Test clips made at test time with the ffmpeg CLI in a per-process temporary folder, plus small
// helpers to run ffprobe. Tests GTEST_SKIP when ffmpeg/ffprobe are missing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../common/cli.hpp"
#include "../common/scoped_temp_dir.hpp"

namespace dfscan::test {

namespace fs = std::filesystem;

// Single-quoted for /bin/sh (cli.hpp's quote, under the name the media tests use).
inline std::string shell_quote(const std::string& s) {
  return quote(s);
}

// Runs a shell command; returns its exit status (or -1).
inline int run_shell(const std::string& command) {
  int status = std::system(command.c_str());
  return status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// stdout of a shell command, and its exit status.
inline std::string capture(const std::string& command, int* exit_status = nullptr) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    if (exit_status) *exit_status = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  if (exit_status) *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

inline bool have_tool(const std::string& name) {
  return run_shell("command -v " + name + " >/dev/null 2>&1") == 0;
}

inline bool have_ffmpeg() {
  return have_tool("ffmpeg") && have_tool("ffprobe");
}

#define DFSCAN_REQUIRE_FFMPEG() \
  if (!::dfscan::test::have_ffmpeg()) GTEST_SKIP() << "ffmpeg/ffprobe not installed"

// ffmpeg arguments (between the inputs and the output name) for each named clip.
inline const std::map<std::string, std::string>& clip_recipes() {
  static const std::map<std::string, std::string> recipes{
      // 2 s, 25 fps, B-frames, keyframe every 25 frames, with AAC audio.
      {"h264.mp4",
       "-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -f lavfi -i "
       "sine=frequency=440:sample_rate=44100:duration=2 "
       "-c:v libx264 -preset veryfast -pix_fmt yuv420p -g 25 -bf 2 -c:a aac -shortest"},
      {"h264_faststart.mp4",
       "-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -c:v libx264 -preset veryfast -pix_fmt yuv420p "
       "-g 25 "
       "-movflags +faststart"},
      {"mpeg4.avi", "-f lavfi -i testsrc2=size=176x144:rate=30:duration=1 -c:v mpeg4 -q:v 5"},
      {"vp9.webm",
       "-f lavfi -i testsrc2=size=160x120:rate=24:duration=1 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 "
       "-b:v 200k"},
      // Frames dropped irregularly, timestamps kept: variable frame rate.
      {"vfr.mp4",
       "-f lavfi -i testsrc2=size=160x120:rate=30:duration=2 -vf \"select='lt(n\\,10)+not(mod(n\\,4))'\" "
       "-vsync vfr -c:v libx264 -preset veryfast -pix_fmt yuv420p"},
      // FFmpeg 5.1 writes the rotate tag as a display matrix only when copying a stream.
      {"rotated_source.mp4",
       "-f lavfi -i testsrc2=size=64x48:rate=25:duration=1 -c:v libx264 -preset veryfast "
       "-pix_fmt yuv420p"},
      {"rotated.mp4", "-i @rotated_source.mp4 -c copy -metadata:s:v:0 rotate=90"},
      {"one_pixel.mp4",
       "-f lavfi -i testsrc2=rate=25:duration=1 -vf scale=1:1 -c:v libx264 -pix_fmt yuv444p"},
      {"single_frame.mp4",
       "-f lavfi -i testsrc2=size=128x96:rate=25 -frames:v 1 -c:v libx264 -preset veryfast -pix_fmt yuv420p"},
      {"odd_size.mkv",
       "-f lavfi -i testsrc2=size=64x48:rate=25:duration=1 -vf scale=33:17 -pix_fmt yuv420p -c:v ffv1"},
      {"ten_bit.mp4", "-f lavfi -i testsrc2=size=64x48:rate=25:duration=1 -c:v libx264 -pix_fmt yuv420p10le"},
      {"alpha.mov", "-f lavfi -i testsrc2=size=64x48:rate=10:duration=1 -vf format=rgba -c:v png"},
      {"tone.wav",
       "-f lavfi -i sine=frequency=440:sample_rate=44100:duration=1.5 -af 'pan=stereo|c0=c0|c1=c0' "
       "-c:a pcm_s16le"},
      {"tone.mp3", "-f lavfi -i sine=frequency=440:sample_rate=44100:duration=1.5 -c:a libmp3lame -b:a 64k"},
      {"tone.flac", "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=1.5 -c:a flac"},
      {"tone.ogg", "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=1.5 -c:a libvorbis"},
      {"tone.opus", "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=1.5 -c:a libopus"},
      {"tone.m4a", "-f lavfi -i sine=frequency=440:sample_rate=22050:duration=1.5 -c:a aac"},
      {"still.png", "-f lavfi -i testsrc2=size=64x48 -frames:v 1"},
      {"still.jpg", "-f lavfi -i testsrc2=size=64x48 -frames:v 1"},
  };
  return recipes;
}

// A temporary folder that lives as long as the test process and makes clips on demand.
class ClipDir {
 public:
  static ClipDir& get() {
    static ClipDir dir;
    return dir;
  }
  const fs::path& path() const { return root_; }

  // The clip's path, made with ffmpeg on first use; empty if ffmpeg failed.
  std::string clip(const std::string& name) {
    auto it = made_.find(name);
    if (it != made_.end()) return it->second;
    auto out = root_ / name;
    // "@other.mp4" in a recipe is another clip, made first.
    std::string recipe = clip_recipes().at(name);
    auto at = recipe.find('@');
    if (at != std::string::npos) {
      auto end = recipe.find(' ', at);
      std::string input = clip(recipe.substr(at + 1, end - at - 1));
      if (input.empty()) return made_[name] = "";
      recipe.replace(at, end - at, shell_quote(input));
    }
    std::string cmd = "ffmpeg -nostdin -v error -y " + recipe + " " + shell_quote(out.string()) + " 2>" +
                      shell_quote((root_ / (name + ".log")).string());
    std::string result = run_shell(cmd) == 0 && fs::exists(out) ? out.string() : std::string();
    made_[name] = result;
    return result;
  }

  // A file with these bytes.
  std::string write(const std::string& name, const std::string& bytes) {
    auto out = root_ / name;
    std::ofstream(out, std::ios::binary) << bytes;
    return out.string();
  }

  // The first `fraction` of a clip's bytes.
  std::string truncated(const std::string& clip_name, const std::string& name, double fraction) {
    std::string src = clip(clip_name);
    if (src.empty()) return {};
    std::ifstream in(src, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return write(name, bytes.substr(0, static_cast<std::size_t>(bytes.size() * fraction)));
  }

 private:
  ClipDir() {
    std::string tmpl = (fs::temp_directory_path() / "dfscan-clips-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
  }
  ~ClipDir() { dfscan::test::remove_tree(root_); }
  fs::path root_;
  std::map<std::string, std::string> made_;
};

// A wav header that announces no samples.
inline std::string empty_wav() {
  auto le32 = [](std::uint32_t v) {
    return std::string{char(v & 0xff), char((v >> 8) & 0xff), char((v >> 16) & 0xff), char((v >> 24) & 0xff)};
  };
  auto le16 = [](std::uint16_t v) { return std::string{char(v & 0xff), char((v >> 8) & 0xff)}; };
  return "RIFF" + le32(36) + "WAVE" + "fmt " + le32(16) + le16(1) + le16(1) + le32(16000) + le32(32000) +
         le16(2) + le16(16) + "data" + le32(0);
}

// A PNG whose IHDR claims width x height; nothing after the header.
inline std::string png_header_only(std::uint32_t width, std::uint32_t height) {
  auto be32 = [](std::uint32_t v) {
    return std::string{char((v >> 24) & 0xff), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
  };
  std::string ihdr = "IHDR" + be32(width) + be32(height) + std::string{8, 2, 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + ihdr + be32(0);
}

inline nlohmann::json ffprobe_json(const std::string& path) {
  int status = 0;
  auto out = capture(
      "ffprobe -v error -count_packets -show_format -show_streams -of json " + shell_quote(path), &status);
  if (status != 0) return nullptr;
  return nlohmann::json::parse(out, nullptr, false);
}

}  // namespace dfscan::test
