// `dfscan data extract-faces`: the model's face setup, the summary on stdout, exit codes, and
// `dfscan train --data CACHE/index.csv` on the result.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/scoped_temp_dir.hpp"
#include "dfscan/config.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kApp = fs::path(DFSCAN_BINARY_DIR) / "apps/dfscan/dfscan";
const fs::path kShared = fs::path(DFSCAN_SHARED_DIR) / "data";

struct Run {
  int exit_code = -1;
  std::string out;
};

Run run(const std::string& args, const fs::path& dir) {
  const auto out = dir / "stdout.txt";
  const std::string cmd = "'" + kApp.string() + "' " + args + " > '" + out.string() + "' 2>> '" +
                          (dir / "stderr.txt").string() + "'";
  const int status = std::system(cmd.c_str());
  Run r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  r.out = ss.str();
  return r;
}

}  // namespace

TEST(ExtractFacesCli, TakesTheModelsFaceSetupAndFeedsTrain) {
  ASSERT_TRUE(fs::exists(kApp)) << kApp;
  if (!DFSCAN_WITH_MEDIA) {
    // Without media there is nothing to decode: a clear refusal (the cache itself is read there).
    dfscan::test::ScopedTempDir dir("extract-faces-cli-no-media");
    const auto r =
        run("data extract-faces --data '" + dir.path().string() + "' -o '" + (dir / "cache").string() + "'",
            dir.path());
    EXPECT_EQ(r.exit_code, 2) << r.out;
    return;
  }
  if (!fs::exists(kShared / "videos/ff_clip_0017_fake.mp4") || !fs::exists(kShared / "dfdc-faces-sample"))
    GTEST_SKIP() << "shared data absent";
  dfscan::test::ScopedTempDir dir("extract-faces-cli");
  // Train split only: one clip and a few face crops per class.
  const auto data = dir / "data";
  for (const char* label : {"real", "fake"}) {
    fs::create_directories(data / "train" / label);
    std::vector<fs::path> crops;
    for (const auto& e : fs::directory_iterator(kShared / "dfdc-faces-sample/train" / label))
      crops.push_back(e.path());
    std::sort(crops.begin(), crops.end());
    for (size_t i = 0; i < crops.size() && i < 3; ++i)
      fs::copy_file(crops[i], data / "train" / label / crops[i].filename());
  }
  fs::copy_file(kShared / "videos/ff_clip_0017_fake.mp4", data / "train/fake/clip.mp4");
  const auto cache = dir / "cache";
  const std::string base = "data extract-faces --data '" + data.string() + "' -o '" + cache.string() + "'";

  const auto r = run(base + " --model genconvit-ed-atto --frames 2 --workers 2 --no-progress", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto summary = json::parse(r.out);
  // The shipped GenConViT's manifest: dlib HOG, no margin, the tight box, 128 px; --frames overrides.
  EXPECT_EQ(summary["settings"]["detector"], "dlib-hog");
  EXPECT_EQ(summary["settings"]["size"], 128);
  EXPECT_EQ(summary["settings"]["margin"], 0.0);
  EXPECT_EQ(summary["settings"]["square"], false);
  EXPECT_EQ(summary["settings"]["frames"], 2);
  EXPECT_EQ(summary["files"], 7);
  EXPECT_EQ(summary["extracted"], 7);
  EXPECT_EQ(summary["failed"], 0);
  ASSERT_GT(summary["crops"].get<int>(), 2);
  EXPECT_TRUE(fs::exists(cache / "index.csv"));

  // Re-running is a no-op.
  const auto again = run(base + " --model genconvit-ed-atto --frames 2 --no-progress", dir.path());
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_EQ(json::parse(again.out)["reused"], 7);
  EXPECT_EQ(json::parse(again.out)["extracted"], 0);

  // The index is a training set as it stands.
  const auto model = dir / "tiny.safetensors";
  const auto t =
      run("train --arch npr --arch-config '{\"layers\":[1,1]}' --input-size 16 --data '" +
              (cache / "index.csv").string() +
              "' --epochs 1 --batch 2 --threads 1 --workers 2 --augment default --no-progress -o '" +
              model.string() + "'",
          dir.path());
  ASSERT_EQ(t.exit_code, 0) << t.out;
  EXPECT_TRUE(fs::exists(model));
  EXPECT_EQ(json::parse(t.out)["epochs_run"], 1);
}

TEST(ExtractFacesCli, UsageErrors) {
  ASSERT_TRUE(fs::exists(kApp)) << kApp;
  dfscan::test::ScopedTempDir dir("extract-faces-usage");
  EXPECT_EQ(run("data extract-faces -o '" + (dir / "c").string() + "'", dir.path()).exit_code, 64);
  EXPECT_EQ(run("data extract-faces --data x -o y --size 4", dir.path()).exit_code, 64);
  EXPECT_EQ(
      run("data extract-faces --data '" + (dir / "none").string() + "' -o '" + (dir / "c").string() + "'",
          dir.path())
          .exit_code,
      2);
}
