// The face-crop cache: extraction on a tiny folder dataset (shared face crops and videos), an index
// that open_dataset and the trainer's SampleReader read, resume after an interrupted run, and stale
// entries redone after their source changes or the settings do.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/scoped_temp_dir.hpp"
#include "../train/train_test_util.hpp"
#include "dfscan/config.hpp"
#include "dfscan/dataset.hpp"
#include "dfscan/face_cache.hpp"
#include "dfscan/status.hpp"
#include "dfscan/train.hpp"
#if DFSCAN_WITH_MEDIA
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#endif

using namespace dfscan;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kShared = fs::path(DFSCAN_SHARED_DIR) / "data";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// A small folder dataset: two real videos' worth of frames (one clip per class), a few DFDC face
// crops per split and class, an image without a face, and a file no decoder reads.
class FaceCacheTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(kShared / "videos/ff_clip_0017_fake.mp4") || !fs::exists(kShared / "dfdc-faces-sample"))
      return;
    dir_ = new test::ScopedTempDir("face-cache-data");
    const auto root = dir_->path() / "data";
    for (const char* split : {"train", "valid"})
      for (const char* label : {"real", "fake"}) {
        fs::create_directories(root / split / label);
        std::vector<fs::path> crops;
        for (const auto& e : fs::directory_iterator(kShared / "dfdc-faces-sample" / split / label))
          crops.push_back(e.path());
        std::sort(crops.begin(), crops.end());
        for (size_t i = 0; i < crops.size() && i < 3; ++i)
          fs::copy_file(crops[i], root / split / label / crops[i].filename());
      }
    fs::copy_file(kShared / "videos/ff_clip_0017_fake.mp4", root / "train/fake/ff_clip_0017_fake.mp4");
    fs::copy_file(kShared / "videos/stock_720p_aac.mp4", root / "train/real/stock_720p_aac.mp4");
    // Noise has no face; a .png of random bytes is no image at all.
#if DFSCAN_WITH_MEDIA
    cv::Mat noise(64, 64, CV_8UC3);
    cv::randu(noise, 0, 256);
    cv::imwrite((root / "train/real/noise.png").string(), noise);
#endif
    std::ofstream(root / "train/fake/broken.png", std::ios::binary) << "\x89PNG\r\n\x1a\n not really";
    data_ = root;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (data_.empty()) GTEST_SKIP() << "shared face crops or videos absent under " << kShared;
    if (!DFSCAN_WITH_MEDIA) GTEST_SKIP() << "no media layer in this build";
  }

  data::FaceCacheOptions options(const fs::path& out) const {
    data::FaceCacheOptions o;
    o.data_spec = data_.string();
    o.output = out;
    o.frames = 3;
    o.size = 48;
    o.workers = 2;
    o.shard_rows = 8;  // several shards even for this tiny set
    return o;
  }

  static size_t file_count() {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(data_)) n += e.is_regular_file();
    return n;
  }

  static inline test::ScopedTempDir* dir_ = nullptr;
  static inline fs::path data_;
};

// Crops keyed by (source, track, frame), read through the dataset API.
std::map<std::string, at::Tensor> crops_of(const fs::path& index) {
  const auto ds = data::open_dataset(index.string());
  data::SampleReader reader;
  std::map<std::string, at::Tensor> out;
  for (const auto& s : ds)
    out[s.groups.at("source") + "|" + s.groups.at("track") + "|" + s.groups.at("frame")] = reader.read(s);
  return out;
}

}  // namespace

TEST_F(FaceCacheTest, ExtractsShardsAndAnIndexTheTrainerReads) {
  test::ScopedTempDir out("face-cache");
  const auto cache = out / "cache";
  const auto s = data::extract_faces(options(cache));
  const auto n = file_count();
  EXPECT_EQ(s.files, n);
  EXPECT_EQ(s.extracted, n);
  EXPECT_EQ(s.reused, 0u);
  EXPECT_GE(s.ok, 2u) << "faces in at least the fake clip and some DFDC crops";
  EXPECT_GE(s.no_face, 1u) << "the noise image";
  EXPECT_EQ(s.failed, 1u) << "the broken file";
  EXPECT_EQ(s.ok + s.no_face + s.failed, n);
  EXPECT_GT(s.shards_written, 1u);

  // files.csv lists every file with its status, faces or not.
  const auto files = lines_of(cache / "files.csv");
  ASSERT_EQ(files.size(), n + 1);
  EXPECT_EQ(files[0], "source,label,split,status,crops,frames_sampled,message");
  bool saw_no_face = false, saw_failure = false;
  for (const auto& line : files) {
    if (line.find("noise.png") != std::string::npos)
      saw_no_face = line.find(",no_face,") != std::string::npos;
    if (line.find("broken.png") != std::string::npos)
      saw_failure = line.find(",ok,") == std::string::npos && line.find(",no_face,") == std::string::npos;
  }
  EXPECT_TRUE(saw_no_face);
  EXPECT_TRUE(saw_failure);

  // index.csv is a CSV dataset of shard rows with the source file's label and split.
  const auto ds = data::open_dataset(s.index.string());
  ASSERT_EQ(ds.size(), s.crops);
  ASSERT_GT(ds.size(), 0u);
  data::SampleReader reader;
  size_t from_clip = 0;
  for (const auto& sample : ds) {
    EXPECT_NE(sample.path.find(".pth#"), std::string::npos) << sample.path;
    const auto img = reader.read(sample);
    ASSERT_EQ(img.sizes(), (std::vector<int64_t>{48, 48, 3}));
    EXPECT_EQ(img.scalar_type(), torch::kUInt8);
    EXPECT_GT(img.to(torch::kFloat).std().item<float>(), 1.0f) << "a crop with content";
    const auto& source = sample.groups.at("source");
    EXPECT_EQ(sample.label, source.find("/fake/") != std::string::npos ? 1 : 0) << source;
    EXPECT_EQ(sample.split,
              source.find("/valid/") != std::string::npos ? data::Split::valid : data::Split::train);
    from_clip += source.find("ff_clip_0017_fake.mp4") != std::string::npos;
  }
  EXPECT_GE(from_clip, 2u) << "the fake clip has a face in its sampled frames";

  // cache.json records the settings.
  const auto info = json::parse(slurp(cache / "cache.json"));
  EXPECT_EQ(info["settings"]["size"], 48);
  EXPECT_EQ(info["settings"]["frames"], 3);
  EXPECT_EQ(info["summary"]["crops"], s.crops);

  // The shards are torch.save files Python reads too (when Debian's torch is there).
  if (std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") == 0) {
    const auto shard = ds.samples().front().path.substr(0, ds.samples().front().path.rfind('#'));
    const std::string cmd =
        "/usr/bin/python3 -c \"import torch,sys; d=torch.load(sys.argv[1]); "
        "x=d['images']; assert x.dtype==torch.uint8 and x.dim()==4 and x.shape[1:]==(48,48,3), "
        "x.shape\" '" +
        shard + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }

  // And a training run reads it directly.
  auto model = test::tiny_model(3);
  train::TrainOptions o;
  o.epochs = 1;
  o.batch_size = 2;
  o.workers = 2;
  o.select = "loss";
  o.progress = false;
  o.augment = train::parse_augment_spec("default");
  const auto result = train::train(model, ds, o);
  EXPECT_EQ(result.epochs_run, 1);
  EXPECT_TRUE(result.history.front()["train_loss"].is_number());
}

TEST_F(FaceCacheTest, ResumesAfterAnInterruptedRun) {
  test::ScopedTempDir out("face-cache-resume");
  const auto cache = out / "cache";
  const auto full = data::extract_faces(options(cache));
  const auto reference = crops_of(full.index);

  // A run killed partway: the journal holds its first entries and a torn line; no index yet.
  auto journal = lines_of(cache / "journal.jsonl");
  ASSERT_EQ(journal.size(), full.files);
  {
    std::ofstream cut(cache / "journal.jsonl", std::ios::trunc);
    for (size_t i = 0; i < 4; ++i) cut << journal[i] << "\n";
    cut << journal[4].substr(0, journal[4].size() / 2);  // torn mid-write
  }
  fs::remove(cache / "index.csv");
  const auto resumed = data::extract_faces(options(cache));
  EXPECT_EQ(resumed.reused, 4u);
  EXPECT_EQ(resumed.extracted, full.files - 4);
  EXPECT_EQ(resumed.crops, full.crops);
  EXPECT_EQ(resumed.ok, full.ok);
  EXPECT_EQ(resumed.no_face, full.no_face);
  const auto again = crops_of(resumed.index);
  ASSERT_EQ(again.size(), reference.size());
  for (const auto& [key, img] : reference) {
    ASSERT_TRUE(again.count(key)) << key;
    EXPECT_TRUE(torch::equal(again.at(key), img)) << key;
  }
  // Shards of the redone files' first extraction are garbage now, and gone.
  EXPECT_GT(resumed.shards_removed, 0u);

  // Up to date: a third run extracts nothing and writes no shard.
  const auto noop = data::extract_faces(options(cache));
  EXPECT_EQ(noop.extracted, 0u);
  EXPECT_EQ(noop.reused, full.files);
  EXPECT_EQ(noop.shards_written, 0u);
  EXPECT_EQ(noop.crops, full.crops);
}

TEST_F(FaceCacheTest, RedoesStaleEntries) {
  test::ScopedTempDir out("face-cache-stale");
  const auto cache = out / "cache";
  const auto first = data::extract_faces(options(cache));

  // Touching one source (same bytes, new mtime) makes its entry stale, and only its.
  const auto clip = data_ / "train/fake/ff_clip_0017_fake.mp4";
  const auto mtime = fs::last_write_time(clip);
  fs::last_write_time(clip, mtime + std::chrono::seconds(5));
  const auto touched = data::extract_faces(options(cache));
  fs::last_write_time(clip, mtime);  // the suite shares the data folder
  EXPECT_EQ(touched.extracted, 1u);
  EXPECT_EQ(touched.stale, 1u);
  EXPECT_EQ(touched.reused, first.files - 1);
  EXPECT_EQ(touched.crops, first.crops);

  // Other settings make every entry stale; the old shards go.
  auto wider = options(cache);
  wider.margin = 0.5;
  const auto redone = data::extract_faces(wider);
  EXPECT_EQ(redone.extracted, first.files);
  EXPECT_EQ(redone.stale, first.files);
  EXPECT_GT(redone.shards_removed, 0u);
  const auto info = json::parse(slurp(cache / "cache.json"));
  EXPECT_DOUBLE_EQ(info["settings"]["margin"].get<double>(), 0.5);
  size_t shards = 0;
  for (const auto& e : fs::directory_iterator(cache / "shards")) shards += e.path().extension() == ".pth";
  EXPECT_EQ(shards, redone.shards_written) << "only the current settings' shards remain";
  EXPECT_EQ(data::open_dataset(redone.index.string()).size(), redone.crops);
}

TEST(FaceCacheOptions, BadSettingsAreRefused) {
  if (!DFSCAN_WITH_MEDIA) {
    data::FaceCacheOptions o;
    o.output = "x";
    try {
      data::extract_faces(o);
      FAIL() << "extract_faces must refuse without media";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::unsupported);
    }
    return;
  }
  test::ScopedTempDir out("face-cache-bad");
  data::FaceCacheOptions o;
  o.data_spec = (out / "missing").string();
  o.output = out / "cache";
  EXPECT_THROW(data::extract_faces(o), Error) << "missing dataset";
  o.size = 4;
  EXPECT_THROW(data::extract_faces(o), Error) << "size below 8";
}

TEST_F(FaceCacheTest, ANameThatIsNotUtf8IsReusedOnTheNextRun) {
  // The journal is JSON, which holds UTF-8 only: a Latin-1 name keeps its bytes there, so a
  // second run reuses its entry instead of extracting it again.
  test::ScopedTempDir out("face-cache-latin1");
  for (const char* label : {"real", "fake"}) {
    fs::create_directories(out / "data/train" / label);
    for (const auto& e : fs::directory_iterator(data_ / "train" / label))
      if (e.path().extension() == ".jpg") {
        fs::copy_file(e.path(),
                      out / "data/train" / label / (std::string("caf\xe9_") + e.path().filename().string()));
        break;
      }
  }
  auto o = options(out / "cache");
  o.data_spec = (out / "data").string();
  const auto first = data::extract_faces(o);
  ASSERT_EQ(first.files, 2u);
  const auto second = data::extract_faces(o);
  EXPECT_EQ(second.reused, 2u);
  EXPECT_EQ(second.extracted, 0u);
}
