// The adapters on the real manifests in shared/manifests (skipped when absent). Counts were taken
// once by hand with jq/grep/awk and pinned here:
//   ffpp: train/val/test.json hold 360/70/70 pairs = 720/140/140 ids, 1000 distinct;
//   celebdf: 518 lines, 178 with label 1 (real): 108 Celeb-real + 70 YouTube-real; 340 Celeb-synthesis;
//   dfdc metadata.json: 23 entries, 13 FAKE, 10 REAL, all split train;
//   asvspoof2019 train excerpt: 40 lines, 11 bonafide, 29 spoof (A01 7, A02 3, A03 3, A04 4, A05 7, A06 5).
#include <gtest/gtest.h>

#include <map>

#include "benchmark_test_util.hpp"

using namespace benchmark_test;
using namespace dfscan::data;

namespace {
#define REQUIRE_MANIFEST(path)                                     \
  if (!fs::exists(path)) GTEST_SKIP() << "no manifest " << (path); \
  static_assert(true)

BenchmarkOptions listing_only() {
  BenchmarkOptions o;
  o.require_files = false;
  o.keep_missing = true;
  return o;
}
}  // namespace

TEST(RealManifests, FfppOfficialSplits) {
  REQUIRE_MANIFEST(kManifests / "ffpp" / "train.json");
  TempDir t;
  auto o = listing_only();
  o.manifest = kManifests / "ffpp";
  const auto b = open_benchmark("ffpp", t.path, o);
  const auto& ds = b.dataset;
  ASSERT_EQ(ds.size(), 5000u);  // 1000 reals + 4 classic methods x 1000
  EXPECT_EQ(b.layout.expected, 5000u);
  EXPECT_EQ(b.layout.missing_count, 5000u);
  EXPECT_EQ(b.layout.found, 0u);
  EXPECT_EQ(b.layout.missing_examples.size(), 5u);
  const std::pair<Split, size_t> per_split[] = {{Split::train, 720}, {Split::valid, 140}, {Split::test, 140}};
  for (const auto& [split, n] : per_split) {
    const auto samples = ds.split(split);
    size_t reals = 0;
    std::map<std::string, size_t> fakes;
    for (const auto& s : samples) {
      EXPECT_EQ(s.groups.at("source"), "ffpp");
      EXPECT_EQ(s.groups.at("compression"), "c23");
      if (s.label == 0) {
        ++reals;
        EXPECT_EQ(s.groups.at("method"), "original");
      } else {
        ++fakes[s.groups.at("method")];
      }
    }
    EXPECT_EQ(reals, n) << to_string(split);
    ASSERT_EQ(fakes.size(), 4u);
    for (const auto& [method, count] : fakes) EXPECT_EQ(count, n) << method << " " << to_string(split);
  }
  auto find = [&](const std::string& tail) -> const Sample* {
    for (const auto& s : ds)
      if (s.path.size() >= tail.size() && s.path.compare(s.path.size() - tail.size(), tail.size(), tail) == 0)
        return &s;
    return nullptr;
  };
  // test.json starts with ["953","974"], train.json with ["071","054"], val.json with ["720","672"]:
  // both reals and both fakes (a_b and b_a) of a pair are in the pair's split.
  const std::pair<const char*, Split> members[] = {{"youtube/c23/videos/953.mp4", Split::test},
                                                   {"Deepfakes/c23/videos/953_974.mp4", Split::test},
                                                   {"NeuralTextures/c23/videos/974_953.mp4", Split::test},
                                                   {"youtube/c23/videos/054.mp4", Split::train},
                                                   {"Face2Face/c23/videos/054_071.mp4", Split::train},
                                                   {"FaceSwap/c23/videos/720_672.mp4", Split::valid}};
  for (const auto& [tail, split] : members) {
    const auto* s = find(tail);
    ASSERT_NE(s, nullptr) << tail;
    EXPECT_EQ(s->split, split) << tail;
  }
  EXPECT_EQ(find("Deepfakes/c23/videos/953_012.mp4"), nullptr);  // not a pair

  // One split, another compression, other methods.
  o.split = Split::test;
  o.compression = "c0";
  o.methods = {"FaceShifter", "DF"};
  const auto test = open_benchmark("ffpp", t.path, o);
  EXPECT_EQ(test.dataset.size(), 140u * 3);
  EXPECT_EQ(count_group(test.dataset, "method", "FaceShifter"), 140u);
  EXPECT_EQ(count_group(test.dataset, "method", "Deepfakes"), 140u);
  EXPECT_EQ(count_group(test.dataset, "compression", "raw"), 420u);
  EXPECT_NE(test.dataset.samples()[0].path.find("original_sequences/youtube/raw/videos/"), std::string::npos);
}

TEST(RealManifests, CelebdfTestList) {
  const auto list = kManifests / "celebdf" / "List_of_testing_videos.txt";
  REQUIRE_MANIFEST(list);
  TempDir t;
  auto o = listing_only();
  o.manifest = list;
  const auto b = open_benchmark("celebdf", t.path, o);
  const auto& ds = b.dataset;
  ASSERT_EQ(ds.size(), 518u);
  EXPECT_EQ(count_split(ds, Split::test), 518u);
  EXPECT_EQ(count_label(ds, 0), 178u);  // "1" in the list
  EXPECT_EQ(count_label(ds, 1), 340u);
  EXPECT_EQ(count_group(ds, "subset", "Celeb-real"), 108u);
  EXPECT_EQ(count_group(ds, "subset", "YouTube-real"), 70u);
  EXPECT_EQ(count_group(ds, "subset", "Celeb-synthesis"), 340u);
  EXPECT_EQ(count_group(ds, "source", "celebdf-v2"), 518u);
  // The list starts "1 YouTube-real/00170.mp4": 1 = real, so label 0.
  EXPECT_EQ(ds.samples()[0].path, (t.path / "YouTube-real/00170.mp4").string());
  EXPECT_EQ(ds.samples()[0].label, 0);
  EXPECT_EQ(b.layout.missing_count, 518u);
  // Without keep_missing nothing is left, and with require_files it is an error naming the count.
  o.keep_missing = false;
  EXPECT_TRUE(open_benchmark("celebdf", t.path, o).dataset.empty());
  o.require_files = true;
  EXPECT_NE(error_of([&] { open_benchmark("celebdf", t.path, o); }).find("518 of 518 files missing"),
            std::string::npos);
}

TEST(RealManifests, DfdcMetadataExcerpt) {
  const auto meta = kManifests / "dfdc" / "metadata.json";
  REQUIRE_MANIFEST(meta);
  TempDir t;
  const auto part = t.path / "train_sample_videos";
  fs::create_directories(part);
  fs::copy_file(meta, part / "metadata.json");
  auto b = open_benchmark("dfdc", t.path, listing_only());
  const auto& ds = b.dataset;
  ASSERT_EQ(ds.size(), 23u);
  EXPECT_EQ(count_label(ds, 1), 13u);
  EXPECT_EQ(count_label(ds, 0), 10u);
  EXPECT_EQ(count_split(ds, Split::train), 23u);
  EXPECT_EQ(count_group(ds, "part", "train_sample_videos"), 23u);
  std::map<std::string, int> label_of;
  for (const auto& s : ds) label_of[fs::path(s.path).filename().string()] = s.label;
  EXPECT_EQ(label_of.at("aagfhgtpmv.mp4"), 1);  // FAKE
  EXPECT_EQ(label_of.at("abarnvbtwb.mp4"), 0);  // REAL
  EXPECT_EQ(label_of.at("eukvucdetx.mp4"), 1);

  // With every video present (and one the metadata does not name) the default options pass.
  for (const auto& [name, label] : label_of) write(part / name);
  write(part / "zzzzzzzzzz.mp4");
  b = open_benchmark("dfdc", t.path);
  EXPECT_EQ(b.dataset.size(), 23u);
  EXPECT_EQ(b.layout.found, 23u);
  EXPECT_EQ(b.layout.extra_count, 1u);
  ASSERT_EQ(b.layout.extra_examples.size(), 1u);
  EXPECT_EQ(b.layout.extra_examples[0], "train_sample_videos/zzzzzzzzzz.mp4");
}

TEST(RealManifests, Asvspoof2019ProtocolExcerpt) {
  const auto protocol = kManifests / "asvspoof2019" / "ASVspoof2019.LA.cm.train.trn.excerpt.txt";
  REQUIRE_MANIFEST(protocol);
  TempDir t;
  auto o = listing_only();
  o.manifest = protocol;
  const auto b = open_benchmark("asvspoof2019la", t.path, o);
  const auto& ds = b.dataset;
  ASSERT_EQ(ds.size(), 40u);
  EXPECT_EQ(count_split(ds, Split::train), 40u);
  EXPECT_EQ(count_label(ds, 0), 11u);  // bonafide
  EXPECT_EQ(count_label(ds, 1), 29u);  // spoof
  EXPECT_EQ(count_group(ds, "attack", "bonafide"), 11u);
  const std::pair<const char*, size_t> attacks[] = {{"A01", 7}, {"A02", 3}, {"A03", 3},
                                                    {"A04", 4}, {"A05", 7}, {"A06", 5}};
  for (const auto& [attack, n] : attacks) EXPECT_EQ(count_group(ds, "attack", attack), n) << attack;
  EXPECT_EQ(ds.samples()[0].path, (t.path / "ASVspoof2019_LA_train/flac/LA_T_1560007.flac").string());
  EXPECT_EQ(ds.samples()[0].label, 1);
}

// The face-crop sample shipped in shared/data (counted with find: 166 JPEGs; test 28 fake + 28 real,
// train 27 + 27, valid 28 + 28), through the registry as the eval command opens it.
TEST(RealManifests, DfdcFacesSampleFolder) {
  const auto root = fs::path(DFSCAN_SHARED_DIR) / "data" / "dfdc-faces-sample";
  REQUIRE_MANIFEST(root);
  const auto all = open_benchmark("folder", root);
  EXPECT_EQ(all.dataset.size(), 166u);
  EXPECT_EQ(all.layout.found, 166u);
  EXPECT_EQ(all.layout.missing_count, 0u);
  BenchmarkOptions o;
  o.split = Split::test;
  const auto test = open_benchmark("folder", root, o);
  ASSERT_EQ(test.dataset.size(), 56u);
  EXPECT_EQ(count_label(test.dataset, 1), 28u);
  EXPECT_EQ(count_split(all.dataset, Split::train), 54u);
  EXPECT_EQ(count_split(all.dataset, Split::valid), 56u);
}
