// `dfscan probe` end to end: agreement with `ffprobe -count_packets`, typed statuses and exit codes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../media/clips.hpp"

namespace dfscan::test {
namespace {

const std::string kDfscan = std::string(DFSCAN_BINARY_DIR) + "/apps/dfscan/dfscan";

struct Run {
  int exit_code = -1;
  std::vector<nlohmann::json> lines;
  std::string out;
};

Run dfscan(const std::string& args, const std::string& prefix = "") {
  Run run;
  run.out = capture(prefix + shell_quote(kDfscan) + " " + args + " 2>/dev/null", &run.exit_code);
  std::istringstream in(run.out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') run.lines.push_back(nlohmann::json::parse(line, nullptr, false));
  return run;
}

std::string quoted(const std::vector<std::string>& paths) {
  std::string out;
  for (const auto& p : paths) out += shell_quote(p) + " ";
  return out;
}

const nlohmann::json* ffprobe_stream(const nlohmann::json& probe, const std::string& type) {
  for (const auto& s : probe["streams"])
    if (s["codec_type"] == type &&
        !(s.contains("disposition") && s["disposition"].value("attached_pic", 0) == 1))
      return &s;
  return nullptr;
}

double rational(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) return std::stod(text);
  double den = std::stod(text.substr(slash + 1));
  return den ? std::stod(text.substr(0, slash)) / den : 0.0;
}

// Compares one probe record with ffprobe's view of the same file.
void expect_agrees_with_ffprobe(const nlohmann::json& rec, const std::string& path) {
  SCOPED_TRACE(path);
  auto ref = ffprobe_json(path);
  ASSERT_TRUE(ref.is_object());
  EXPECT_EQ(rec["status"], "ok") << rec.dump();
  const auto* v = ffprobe_stream(ref, "video");
  const auto* a = ffprobe_stream(ref, "audio");
  double frame = 0.05;  // tolerance for audio-only files
  if (v) {
    EXPECT_EQ(rec["width"], (*v)["width"]);
    EXPECT_EQ(rec["height"], (*v)["height"]);
    EXPECT_EQ(rec["frames"].get<std::int64_t>(), std::stoll((*v)["nb_read_packets"].get<std::string>()));
    if (v->contains("nb_frames")) {
      EXPECT_EQ(rec["frames_header"].get<std::int64_t>(), std::stoll((*v)["nb_frames"].get<std::string>()));
    }
    double fps = rational((*v)["avg_frame_rate"].get<std::string>());
    if (fps <= 0) fps = rational((*v)["r_frame_rate"].get<std::string>());
    ASSERT_GT(fps, 0);
    frame = 1.0 / fps;
    EXPECT_EQ(rec["video_codec"], (*v)["codec_name"]);
  }
  if (a) {
    EXPECT_EQ(rec["audio_rate"].get<int>(), std::stoi((*a)["sample_rate"].get<std::string>()));
    EXPECT_EQ(rec["audio_channels"], (*a)["channels"]);
    EXPECT_EQ(rec["audio_codec"], (*a)["codec_name"]);
  }
  EXPECT_EQ(rec["modality"], v && a ? "video+audio" : v ? "video" : "audio");
  ASSERT_TRUE(rec["duration"].is_number()) << rec.dump();
  EXPECT_NEAR(rec["duration"].get<double>(), std::stod(ref["format"]["duration"].get<std::string>()), frame);
  EXPECT_EQ(rec["container"], ref["format"]["format_name"]);
}

TEST(ProbeCli, AgreesWithFfprobe) {
  DFSCAN_REQUIRE_FFMPEG();
  std::vector<std::string> paths;
  for (const char* name :
       {"h264.mp4", "mpeg4.avi", "vp9.webm", "vfr.mp4", "rotated.mp4", "one_pixel.mp4", "single_frame.mp4",
        "ten_bit.mp4", "tone.wav", "tone.mp3", "tone.flac", "tone.ogg", "tone.m4a"}) {
    paths.push_back(ClipDir::get().clip(name));
    ASSERT_FALSE(paths.back().empty()) << name;
  }
  std::string shared = std::string(DFSCAN_SHARED_DIR) + "/data/videos";
  if (fs::is_directory(shared))
    for (const auto& e : fs::directory_iterator(shared))
      if (e.path().extension() == ".mp4") paths.push_back(e.path().string());

  auto run = dfscan("probe --format jsonl " + quoted(paths));
  EXPECT_EQ(run.exit_code, 0) << run.out;
  ASSERT_EQ(run.lines.size(), paths.size() + 1) << run.out;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    EXPECT_EQ(run.lines[i]["path"], paths[i]);  // input order
    EXPECT_EQ(run.lines[i]["type"], "file");
    expect_agrees_with_ffprobe(run.lines[i], paths[i]);
  }
  const auto& summary = run.lines.back();
  EXPECT_EQ(summary["type"], "summary");
  EXPECT_EQ(summary["counts"]["ok"], paths.size());
  // Rotation is reported as the clockwise turn applied for display.
  EXPECT_EQ(run.lines[4]["rotation"], 270);
}

TEST(ProbeCli, BrokenInputsGetTypedStatusesAndExit2) {
  DFSCAN_REQUIRE_FFMPEG();
  auto& dir = ClipDir::get();
  std::string noise(32 * 1024, '\0');
  std::uint32_t x = 7;
  for (auto& c : noise) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 23);
  }
  const std::vector<std::pair<std::string, std::string>> cases{
      {dir.clip("h264.mp4"), "ok"},
      {dir.write("zero_bytes.mp4", ""), "empty"},
      {dir.write("random.bin", noise), "unsupported"},
      {dir.write("readme.mp4", "This is a text file, not a video.\n"), "unsupported"},
      {dir.truncated("h264_faststart.mp4", "cut_half.mp4", 0.5), "truncated"},
      {dir.truncated("h264.mp4", "no_moov.mp4", 0.5), "decode_error"},
      {dir.write("huge.png", png_header_only(100000, 100000)), "too_large"},
      {dir.write("no_samples.wav", empty_wav()), "empty"},
      {(dir.path() / "does_not_exist.mp4").string(), "not_found"},
      {dir.clip("tone.flac"), "ok"},
  };
  std::vector<std::string> paths;
  for (const auto& c : cases) paths.push_back(c.first);
  auto run = dfscan("probe --format jsonl " + quoted(paths));
  EXPECT_EQ(run.exit_code, 2);
  ASSERT_EQ(run.lines.size(), cases.size() + 1) << run.out;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& rec = run.lines[i];
    EXPECT_EQ(rec["path"], cases[i].first);
    EXPECT_EQ(rec["status"], cases[i].second) << rec.dump();
    if (cases[i].second == "ok") {
      EXPECT_TRUE(rec["error"].is_null());
    } else {
      ASSERT_TRUE(rec["error"].is_string()) << rec.dump();
      EXPECT_EQ(rec["error"].get<std::string>().find('\n'), std::string::npos);
    }
  }
  const auto& counts = run.lines.back()["counts"];
  EXPECT_EQ(counts["ok"], 2);
  EXPECT_EQ(counts["empty"], 2);
  EXPECT_EQ(counts["unsupported"], 2);
  EXPECT_EQ(run.lines.back()["files"], cases.size());

  // The same files one at a time: a good file alone exits 0, each bad one 2.
  EXPECT_EQ(dfscan("probe " + shell_quote(cases[0].first)).exit_code, 0);
  EXPECT_EQ(dfscan("probe " + shell_quote(cases[4].first)).exit_code, 2);
}

TEST(ProbeCli, UnreadableFileIsPermissionDenied) {
  DFSCAN_REQUIRE_FFMPEG();
  auto& dir = ClipDir::get();
  auto good = dir.clip("tone.wav");
  ASSERT_FALSE(good.empty());
  auto locked = dir.write("locked.wav", "RIFF");
  ASSERT_EQ(::chmod(locked.c_str(), 0), 0);
  std::string prefix;
  if (::geteuid() == 0) {
    // Root reads anything: drop to nobody, which needs a path it can traverse to everything.
    if (!have_tool("setpriv")) GTEST_SKIP() << "running as root without setpriv";
    ::chmod(dir.path().c_str(), 0755);
    ::chmod(good.c_str(), 0644);
    prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
    if (run_shell(prefix + "test -x " + shell_quote(kDfscan) + " -a -r " + shell_quote(good)) != 0)
      GTEST_SKIP() << "the unprivileged user cannot reach the binary or the temp folder";
    if (run_shell(prefix + "test -r " + shell_quote(locked)) == 0)
      GTEST_SKIP() << "cannot make a file unreadable";
  } else if (::access(locked.c_str(), R_OK) == 0) {
    GTEST_SKIP() << "cannot make a file unreadable here";
  }
  auto run = dfscan("probe --format jsonl " + shell_quote(good) + " " + shell_quote(locked), prefix);
  EXPECT_EQ(run.exit_code, 2) << run.out;
  ASSERT_EQ(run.lines.size(), 3u) << run.out;
  EXPECT_EQ(run.lines[0]["status"], "ok");
  EXPECT_EQ(run.lines[1]["status"], "permission_denied");
}

TEST(ProbeCli, FormatsAndUsage) {
  DFSCAN_REQUIRE_FFMPEG();
  auto clip = ClipDir::get().clip("h264.mp4");
  ASSERT_FALSE(clip.empty());
  auto missing = (ClipDir::get().path() / "gone.mp4").string();

  auto doc_run = dfscan("probe --format json " + shell_quote(clip) + " " + shell_quote(missing));
  EXPECT_EQ(doc_run.exit_code, 2);
  auto doc = nlohmann::json::parse(doc_run.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << doc_run.out;
  EXPECT_EQ(doc["schema"], "dfscan.probe/1");
  ASSERT_EQ(doc["results"].size(), 2u);
  EXPECT_EQ(doc["results"][1]["status"], "not_found");
  EXPECT_EQ(doc["summary"]["counts"]["not_found"], 1);

  auto text = dfscan("probe " + shell_quote(clip));
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find(": ok"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("320x240"), std::string::npos) << text.out;

  auto csv = dfscan("probe --format csv " + shell_quote(clip));
  EXPECT_EQ(csv.exit_code, 0);
  EXPECT_EQ(csv.out.rfind("path,status,modality,", 0), 0u) << csv.out;
  EXPECT_NE(csv.out.find(",ok,video+audio,"), std::string::npos) << csv.out;

  EXPECT_EQ(dfscan("probe").exit_code, 64);
  EXPECT_EQ(dfscan("probe --format xml " + shell_quote(clip)).exit_code, 64);
}

TEST(ProbeCli, FoldersAreProbedFileByFileAndRecursivelyWithR) {
  DFSCAN_REQUIRE_FFMPEG();
  auto& dir = ClipDir::get();
  const auto root = dir.path() / "probe_folder";
  fs::create_directories(root / "sub");
  fs::copy_file(dir.clip("tone.wav"), root / "b.wav", fs::copy_options::overwrite_existing);
  fs::copy_file(dir.clip("h264.mp4"), root / "a.mp4", fs::copy_options::overwrite_existing);
  fs::copy_file(dir.clip("tone.flac"), root / "sub" / "c.flac", fs::copy_options::overwrite_existing);
  auto flat = dfscan("probe -f jsonl " + shell_quote(root.string()));
  EXPECT_EQ(flat.exit_code, 0) << flat.out;
  ASSERT_EQ(flat.lines.size(), 3u) << flat.out;
  EXPECT_EQ(flat.lines[0]["path"], (root / "a.mp4").string());
  EXPECT_EQ(flat.lines[1]["path"], (root / "b.wav").string());
  auto deep = dfscan("probe -r -f jsonl " + shell_quote(root.string()));
  ASSERT_EQ(deep.lines.size(), 4u) << deep.out;
  EXPECT_EQ(deep.lines[2]["path"], (root / "sub" / "c.flac").string());
}

TEST(ProbeCli, DashReadsOneFileFromStandardInput) {
  DFSCAN_REQUIRE_FFMPEG();
  // An MP4 whose index sits at its end can only be read by seeking, so "-" must not be read as a
  // stream: the record is the file's, under the name "-".
  auto& dir = ClipDir::get();
  const auto clip = dir.clip("h264.mp4");
  auto direct = dfscan("probe -f jsonl " + shell_quote(clip));
  auto piped = dfscan("probe -f jsonl - < " + shell_quote(clip));
  ASSERT_EQ(piped.exit_code, 0) << piped.out;
  ASSERT_EQ(piped.lines.size(), 2u) << piped.out;
  auto expected = direct.lines[0];
  expected["path"] = "-";
  EXPECT_EQ(piped.lines[0], expected);

  // Broken bytes on stdin get the status the same bytes get as a file, and other inputs still run.
  const auto junk = dir.write("junk.bin", std::string(4096, '\x5a'));
  auto mixed = dfscan("probe -f jsonl - " + shell_quote(clip) + " < " + shell_quote(junk));
  EXPECT_EQ(mixed.exit_code, 2);
  ASSERT_EQ(mixed.lines.size(), 3u) << mixed.out;
  EXPECT_EQ(mixed.lines[0]["path"], "-");
  EXPECT_EQ(mixed.lines[0]["status"], "unsupported");
  EXPECT_EQ(mixed.lines[1]["status"], "ok");
  EXPECT_EQ(dfscan("probe -f jsonl - < /dev/null").lines[0]["status"], "empty");

  // Standard input can be read once; no temporary copy outlives the run.
  EXPECT_EQ(dfscan("probe - - < " + shell_quote(clip)).exit_code, 64);
  const auto tmp = dir.path() / "tmp";
  fs::create_directories(tmp);
  EXPECT_EQ(dfscan("probe - < " + shell_quote(clip), "TMPDIR=" + shell_quote(tmp.string()) + " ").exit_code,
            0);
  EXPECT_TRUE(fs::is_empty(tmp));
  // A copy that cannot be made is that input's error, not the run's end.
  auto nowhere =
      dfscan("probe -f jsonl - " + shell_quote(clip) + " < " + shell_quote(clip), "TMPDIR=/nonexistent/dir ");
  EXPECT_EQ(nowhere.exit_code, 2);
  ASSERT_EQ(nowhere.lines.size(), 3u) << nowhere.out;
  EXPECT_EQ(nowhere.lines[0]["status"], "error");
  EXPECT_NE(nowhere.lines[0]["error"].get<std::string>().find("temporary file in /nonexistent/dir"),
            std::string::npos);
  EXPECT_EQ(nowhere.lines[1]["status"], "ok");
}

}  // namespace
}  // namespace dfscan::test
