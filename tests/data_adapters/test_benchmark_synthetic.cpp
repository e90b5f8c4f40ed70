// The adapters on tiny synthetic layouts: label conventions, splits, missing and extra files,
// require_files, and one-line errors that name the offending line or entry.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <typeinfo>

#include "benchmark_test_util.hpp"
#include "dfscan/status.hpp"

using namespace benchmark_test;
using namespace dfscan::data;

namespace {

BenchmarkOptions lenient() {
  BenchmarkOptions o;
  o.require_files = false;
  return o;
}

std::map<std::string, int> labels_by_name(const Dataset& ds) {
  std::map<std::string, int> out;
  for (const auto& s : ds) out[fs::path(s.path).filename().string()] = s.label;
  return out;
}

void expect_one_line_error(const std::string& msg, const std::string& needle) {
  EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

// A gzip-compressed ustar archive; names over 100 bytes get a GNU 'L' record.
void write_tar_gz(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& files) {
  fs::create_directories(path.parent_path());
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  auto header = [&](const std::string& name, size_t size, char type) {
    char h[512] = {};
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
    std::snprintf(h + 100, 8, "%07o", 0644);
    std::snprintf(h + 108, 8, "%07o", 0);
    std::snprintf(h + 116, 8, "%07o", 0);
    std::snprintf(h + 124, 12, "%011zo", size);
    std::snprintf(h + 136, 12, "%011o", 0);
    h[156] = type;
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    gzwrite(gz, h, 512);
  };
  auto data = [&](const std::string& bytes) {
    gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
    const std::string pad((512 - bytes.size() % 512) % 512, '\0');
    gzwrite(gz, pad.data(), static_cast<unsigned>(pad.size()));
  };
  for (const auto& [name, content] : files) {
    if (name.size() > 100) {
      header("././@LongLink", name.size() + 1, 'L');
      data(name + '\0');
    }
    header(name, content.size(), '0');
    data(content);
  }
  const std::string end(1024, '\0');
  gzwrite(gz, end.data(), 1024);
  gzclose(gz);
}

// One tar header block with a raw 12-byte size field (octal text, or GNU base-256 when its first
// byte has the high bit), a valid checksum, and `tail` bytes after it: hostile archives.
std::string raw_header(const std::string& name, const std::string& size_field, char type) {
  char h[512] = {};
  std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
  std::memcpy(h + 124, size_field.data(), std::min<size_t>(size_field.size(), 12));
  h[156] = type;
  std::memcpy(h + 257, "ustar", 6);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  return std::string(h, 512);
}

// GNU base-256 size field holding `value`.
std::string base256(std::uint64_t value) {
  std::string f(12, '\0');
  f[0] = static_cast<char>(0x80);
  for (int i = 11; i >= 4; --i, value >>= 8) f[static_cast<size_t>(i)] = static_cast<char>(value & 0xff);
  return f;
}

void write_gz(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(gz);
}

// The status of reading `member` from `archive` (ok when it reads).
dfscan::Status member_status(const fs::path& archive, const std::string& member,
                             std::string* message = nullptr) {
  try {
    read_archive_member(archive.string() + "#" + member);
    return dfscan::Status::ok;
  } catch (const dfscan::Error& e) {
    if (message) *message = e.what();
    return e.status();
  }
}

}  // namespace

// ---- FaceForensics++ --------------------------------------------------------------------------

namespace {
void ffpp_layout(const fs::path& root) {
  write(root / "splits/train.json", R"([["000", "001"]])");
  write(root / "splits/val.json", "[]");
  write(root / "splits/test.json", R"([["002", "003"]])");
  for (const char* id : {"000", "001", "002", "003"})
    write(root / "original_sequences/youtube/c23/videos" / (std::string(id) + ".mp4"));
  for (const char* name : {"000_001", "001_000", "002_003", "003_002"})
    write(root / "manipulated_sequences/Deepfakes/c23/videos" / (std::string(name) + ".mp4"));
  write(root / "manipulated_sequences/Deepfakes/masks/videos/000_001.mp4");  // masks are not samples
}
}  // namespace

TEST(FfppLayout, PairsGiveBothFakesInThePairsSplit) {
  TempDir t;
  ffpp_layout(t.path);
  const auto b = open_benchmark("ffpp", t.path);
  const auto& ds = b.dataset;
  ASSERT_EQ(ds.size(), 8u);  // default methods: only Deepfakes is on disk
  EXPECT_EQ(b.layout.expected, 8u);
  EXPECT_EQ(b.layout.found, 8u);
  EXPECT_EQ(b.layout.extra_count, 0u);
  const auto train = ds.split(Split::train), test = ds.split(Split::test);
  ASSERT_EQ(train.size(), 4u);
  ASSERT_EQ(test.size(), 4u);
  EXPECT_TRUE(ds.split(Split::valid).empty());
  const auto labels = labels_by_name(ds);
  EXPECT_EQ(labels.at("000.mp4"), 0);
  EXPECT_EQ(labels.at("001_000.mp4"), 1);
  EXPECT_EQ(labels.at("003_002.mp4"), 1);
  for (const auto& s : test)
    EXPECT_TRUE(s.path.find("002") != std::string::npos || s.path.find("003") != std::string::npos) << s.path;
  EXPECT_EQ(count_group(ds, "method", "Deepfakes"), 4u);
  EXPECT_EQ(count_group(ds, "method", "original"), 4u);
  EXPECT_EQ(count_group(ds, "compression", "c23"), 8u);
}

TEST(FfppLayout, UnpairedFakeIsExtraAndMissingFakeIsReported) {
  TempDir t;
  ffpp_layout(t.path);
  write(t.path / "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4");
  fs::remove(t.path / "manipulated_sequences/Deepfakes/c23/videos/001_000.mp4");
  const auto msg = error_of([&] { open_benchmark("ffpp", t.path); });
  expect_one_line_error(msg, "1 of 8 files missing");
  EXPECT_NE(msg.find("manipulated_sequences/Deepfakes/c23/videos/001_000.mp4"), std::string::npos) << msg;
  const auto b = open_benchmark("ffpp", t.path, lenient());
  EXPECT_EQ(b.dataset.size(), 7u);
  EXPECT_EQ(b.layout.missing_count, 1u);
  EXPECT_EQ(b.layout.extra_count, 1u);
  EXPECT_EQ(b.layout.extra_examples.at(0), "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4");
}

TEST(FfppLayout, CompressionAliasMethodsAndErrors) {
  TempDir t;
  ffpp_layout(t.path);
  for (const char* id : {"000", "001", "002", "003"})
    write(t.path / "original_sequences/youtube/raw/videos" / (std::string(id) + ".mp4"));
  auto o = lenient();
  o.compression = "c0";  // the lossless folder is named raw
  o.methods = {"f2f"};
  const auto b = open_benchmark("ffpp", t.path, o);
  EXPECT_EQ(b.layout.found, 4u);          // the raw reals
  EXPECT_EQ(b.layout.missing_count, 4u);  // no Face2Face downloaded
  EXPECT_EQ(count_group(b.dataset, "compression", "raw"), 4u);
  o.methods = {"Deepfakes", "NoSuchMethod"};
  expect_one_line_error(error_of([&] { open_benchmark("ffpp", t.path, o); }),
                        "unknown method 'NoSuchMethod'");
  o.methods = {};
  o.compression = "c99";
  expect_one_line_error(error_of([&] { open_benchmark("ffpp", t.path, o); }), "compression 'c99'");
  write(t.path / "splits/val.json", R"([["001", "009"]])");  // 001 is also in train
  expect_one_line_error(error_of([&] { open_benchmark("ffpp", t.path); }),
                        "id 001 appears in more than one pair");
  write(t.path / "splits/val.json", R"([["004"]])");
  expect_one_line_error(error_of([&] { open_benchmark("ffpp", t.path); }), "entry 0 is not a pair");
}

TEST(FfppLayout, DeepFakeDetectionIsAllTestData) {
  TempDir t;
  write(t.path / "original_sequences/actors/c23/videos/01__exit_phone_room.mp4");
  write(t.path / "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__exit_phone_room__YVGY8LOK.mp4");
  write(t.path / "manipulated_sequences/DeepFakeDetection/c23/videos/02_01__exit_phone_room__ABCDEFGH.mp4");
  BenchmarkOptions o;
  o.methods = {"DFD"};
  const auto b = open_benchmark("ffpp", t.path, o);  // no split files needed
  ASSERT_EQ(b.dataset.size(), 3u);
  EXPECT_EQ(count_split(b.dataset, Split::test), 3u);
  EXPECT_EQ(count_label(b.dataset, 1), 2u);
  EXPECT_EQ(count_group(b.dataset, "method", "DeepFakeDetection_original"), 1u);
}

// ---- Celeb-DF ---------------------------------------------------------------------------------

TEST(CelebdfLayout, ListLabelsAreInvertedAndTheRestIsTrain) {
  TempDir t;
  write(t.path / "Celeb-real/id0_0000.mp4");
  write(t.path / "Celeb-real/id0_0001.mp4");
  write(t.path / "Celeb-synthesis/id0_id1_0000.mp4");
  write(t.path / "Celeb-synthesis/id0_id1_0001.mp4");
  write(t.path / "YouTube-real/00000.mp4");
  write(t.path / "YouTube-real/notes.txt");
  // "Youtube-real" as some copies spell it; a blank line.
  write(t.path / "List_of_testing_videos.txt",
        "1 Celeb-real/id0_0000.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n\n1 Youtube-real/00000.mp4\n");
  const auto b = open_benchmark("celebdf", t.path);
  const auto& ds = b.dataset;
  ASSERT_EQ(ds.size(), 5u);
  const auto test = ds.split(Split::test);
  ASSERT_EQ(test.size(), 3u);
  EXPECT_EQ(test[0].path, (t.path / "Celeb-real/id0_0000.mp4").string());
  EXPECT_EQ(test[0].label, 0);  // "1" = real
  EXPECT_EQ(test[1].label, 1);  // "0" = fake
  EXPECT_EQ(test[2].path, (t.path / "YouTube-real/00000.mp4").string());
  EXPECT_EQ(test[2].label, 0);
  const auto train = ds.split(Split::train);
  ASSERT_EQ(train.size(), 2u);
  EXPECT_EQ(labels_by_name(ds).at("id0_0001.mp4"), 0);
  EXPECT_EQ(labels_by_name(ds).at("id0_id1_0001.mp4"), 1);
  EXPECT_EQ(b.layout.extra_count, 1u);
  EXPECT_EQ(b.layout.extra_examples.at(0), "YouTube-real/notes.txt");
  BenchmarkOptions o;
  o.split = Split::test;
  EXPECT_EQ(open_benchmark("celebdf", t.path, o).dataset.size(), 3u);
}

TEST(CelebdfLayout, BadLinesAreOneLineErrorsNamingTheLine) {
  TempDir t;
  const auto list = t.path / "List_of_testing_videos.txt";
  write(list, "1 Celeb-real/a.mp4\n1 Celeb-synthesis/id0_id1_0000.mp4\n");
  expect_one_line_error(error_of([&] { open_benchmark("celebdf", t.path, lenient()); }),
                        list.string() + ":2: 'Celeb-synthesis/id0_id1_0000.mp4' is listed as real");
  write(list, "1 Celeb-real/a.mp4\n2 Celeb-real/b.mp4\n");
  expect_one_line_error(error_of([&] { open_benchmark("celebdf", t.path, lenient()); }),
                        list.string() + ":2: label '2'");
  write(list, "1 Other/a.mp4\n");
  expect_one_line_error(error_of([&] { open_benchmark("celebdf", t.path, lenient()); }),
                        ":1: 'Other/a.mp4' is not under");
  write(list, "1 Celeb-real/a.mp4\n1 Celeb-real/a.mp4\n");
  expect_one_line_error(error_of([&] { open_benchmark("celebdf", t.path, lenient()); }),
                        ":2: 'Celeb-real/a.mp4' is listed twice");
  fs::remove(list);
  EXPECT_NE(error_of([&] { open_benchmark("celebdf", t.path); }).find("List_of_testing_videos.txt not found"),
            std::string::npos);
}

// ---- DFDC -------------------------------------------------------------------------------------

TEST(DfdcLayout, PartsMetadataAndTestLabelsCsv) {
  TempDir t;
  write(
      t.path / "dfdc_train_part_0/metadata.json",
      R"({"a.mp4":{"label":"REAL","split":"train","original":null},"b.mp4":{"label":"FAKE","split":"train","original":"a.mp4"}})");
  write(t.path / "dfdc_train_part_0/a.mp4");
  write(t.path / "dfdc_train_part_0/b.mp4");
  write(t.path / "dfdc_train_part_0/stray.mp4");
  // Nested after unzip.
  write(t.path / "dfdc_train_part_1/dfdc_train_part_1/metadata.json",
        R"({"e.mp4":{"label":"FAKE","split":"train"}})");
  write(t.path / "dfdc_train_part_1/dfdc_train_part_1/e.mp4");
  write(t.path / "test/labels.csv", "filename,label\nc.mp4,0\nd.mp4,1\n");
  write(t.path / "test/c.mp4");
  write(t.path / "test/d.mp4");
  const auto b = open_benchmark("dfdc", t.path);
  const auto& ds = b.dataset;
  ASSERT_EQ(ds.size(), 5u);
  const auto labels = labels_by_name(ds);
  EXPECT_EQ(labels.at("a.mp4"), 0);
  EXPECT_EQ(labels.at("b.mp4"), 1);
  EXPECT_EQ(labels.at("c.mp4"), 0);  // labels.csv: 1 = fake
  EXPECT_EQ(labels.at("d.mp4"), 1);
  EXPECT_EQ(labels.at("e.mp4"), 1);
  EXPECT_EQ(count_split(ds, Split::test), 2u);
  EXPECT_EQ(count_split(ds, Split::train), 3u);
  EXPECT_EQ(count_group(ds, "part", "test"), 2u);
  EXPECT_EQ(count_group(ds, "part", "dfdc_train_part_1/dfdc_train_part_1"), 1u);
  EXPECT_EQ(b.layout.extra_count, 1u);
  EXPECT_EQ(b.layout.extra_examples.at(0), "dfdc_train_part_0/stray.mp4");
  // The test folder alone.
  const auto test = open_benchmark("dfdc", t.path / "test");
  EXPECT_EQ(test.dataset.size(), 2u);
}

TEST(DfdcLayout, UnknownLabelsNameTheLineOrEntry) {
  TempDir t;
  write(t.path / "labels.csv",
        "\xEF\xBB\xBF"
        "filename,label\r\nc.mp4,0\r\nd.mp4,FAKE\r\n");
  expect_one_line_error(error_of([&] { open_benchmark("dfdc", t.path, lenient()); }),
                        (t.path / "labels.csv").string() + ":3: label 'FAKE' is not 1 (fake) or 0 (real)");
  fs::remove(t.path / "labels.csv");
  write(t.path / "metadata.json", R"({"a.mp4":{"label":"MAYBE"}})");
  expect_one_line_error(error_of([&] { open_benchmark("dfdc", t.path, lenient()); }),
                        "entry 'a.mp4': label 'MAYBE' is not REAL or FAKE");
  write(t.path / "metadata.json", R"({"a.mp4":{"label":"REAL","split":"holdout"}})");
  expect_one_line_error(error_of([&] { open_benchmark("dfdc", t.path, lenient()); }), "split 'holdout'");
}

TEST(DfdcLayout, PreviewDatasetJson) {
  TempDir t;
  write(t.path / "dataset.json", R"({"original_videos/1/x.mp4":{"label":"real","set":"train"},)"
                                 R"("method_A/1/1_A/y.mp4":{"label":"fake","set":"test"},)"
                                 R"("method_B/2/2_C/z.mp4":{"label":"fake","set":"test"}})");
  write(t.path / "original_videos/1/x.mp4");
  write(t.path / "method_A/1/1_A/y.mp4");
  write(t.path / "method_B/2/2_C/z.mp4");
  write(t.path / "method_B/2/2_C/w.mp4");
  for (const char* name : {"dfdc", "dfdcp"}) {
    const auto b = open_benchmark(name, t.path);
    ASSERT_EQ(b.dataset.size(), 3u) << name;
    EXPECT_EQ(count_split(b.dataset, Split::test), 2u);
    EXPECT_EQ(labels_by_name(b.dataset).at("x.mp4"), 0);
    EXPECT_EQ(count_group(b.dataset, "method", "method_A"), 1u);
    EXPECT_EQ(count_group(b.dataset, "source", "dfdcp"), 3u);
    EXPECT_EQ(b.layout.extra_count, 1u);
  }
}

// ---- Audio ------------------------------------------------------------------------------------

TEST(AudioLayout, Asvspoof2019ProtocolsAndAudio) {
  TempDir t;
  const auto proto = t.path / "ASVspoof2019_LA_cm_protocols";
  write(proto / "ASVspoof2019.LA.cm.train.trn.txt",
        "LA_0079 LA_T_0000001 - - bonafide\nLA_0079 LA_T_0000002 - A01 spoof\n");
  write(proto / "ASVspoof2019.LA.cm.eval.trl.txt", "LA_0001 LA_E_0000003 - A17 spoof\n");
  write(t.path / "ASVspoof2019_LA_train/flac/LA_T_0000001.flac");
  write(t.path / "ASVspoof2019_LA_train/flac/LA_T_0000002.flac");
  write(t.path / "ASVspoof2019_LA_train/flac/LA_T_0000009.flac");
  const auto b = open_benchmark("asvspoof2019la", t.path, lenient());
  ASSERT_EQ(b.dataset.size(), 2u);
  EXPECT_EQ(b.layout.missing_count, 1u);
  EXPECT_EQ(b.layout.missing_examples.at(0), "ASVspoof2019_LA_eval/flac/LA_E_0000003.flac");
  EXPECT_EQ(b.layout.extra_count, 1u);
  const auto labels = labels_by_name(b.dataset);
  EXPECT_EQ(labels.at("LA_T_0000001.flac"), 0);
  EXPECT_EQ(labels.at("LA_T_0000002.flac"), 1);
  EXPECT_EQ(count_group(b.dataset, "attack", "A01"), 1u);
  write(proto / "ASVspoof2019.LA.cm.eval.trl.txt",
        "LA_0001 LA_E_0000003 - A17 spoof\nLA_0001 LA_E_0000004 - A17 fake\n");
  expect_one_line_error(error_of([&] { open_benchmark("asvspoof2019la", t.path, lenient()); }),
                        ":2: key 'fake' is not bonafide or spoof");
  write(proto / "ASVspoof2019.LA.cm.eval.trl.txt", "LA_0001 LA_E_0000003 - A17 bonafide\n");
  expect_one_line_error(error_of([&] { open_benchmark("asvspoof2019la", t.path, lenient()); }),
                        ":1: attack 'A17' does not fit key bonafide");
}

TEST(AudioLayout, Asvspoof2021KeysFilterTheEvalSubset) {
  TempDir t;
  write(
      t.path / "keys/DF/CM/trial_metadata.txt",
      "LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -\n"
      "LA_0023 DF_E_2000012 low_mp3 vcc2020 - bonafide notrim eval bonafide - - - -\n"
      "LA_0024 DF_E_2000013 high_m4a vcc2018 A09 spoof notrim eval neural_vocoder_autoregressive - - - -\n");
  // The DF download comes in parts.
  write(t.path / "ASVspoof2021_DF_eval_part00/ASVspoof2021_DF_eval/flac/DF_E_2000012.flac");
  write(t.path / "ASVspoof2021_DF_eval_part01/ASVspoof2021_DF_eval/flac/DF_E_2000013.flac");
  const auto b = open_benchmark("asvspoof2021", t.path);
  ASSERT_EQ(b.dataset.size(), 2u);
  EXPECT_EQ(b.dataset.samples()[0].label, 0);
  EXPECT_EQ(b.dataset.samples()[0].groups.at("codec"), "low_mp3");
  EXPECT_EQ(b.dataset.samples()[1].label, 1);
  EXPECT_EQ(b.dataset.samples()[1].groups.at("vocoder"), "neural_vocoder_autoregressive");
  EXPECT_EQ(count_group(b.dataset, "source", "asvspoof2021df"), 2u);
  BenchmarkOptions o = lenient();
  o.subset = "all";
  const auto all = open_benchmark("asvspoof2021", t.path, o);
  EXPECT_EQ(all.layout.expected, 3u);
  EXPECT_EQ(all.layout.missing_count, 1u);
  o.version = "LA";
  EXPECT_NE(error_of([&] { open_benchmark("asvspoof2021", t.path, o); }).find("trial_metadata.txt not found"),
            std::string::npos);
  write(t.path / "keys/LA/CM/trial_metadata.txt", "LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\n");
  write(t.path / "ASVspoof2021_LA_eval/flac/LA_E_9332881.flac");
  const auto la = open_benchmark("asvspoof2021", t.path, o);
  ASSERT_EQ(la.dataset.size(), 1u);
  EXPECT_EQ(la.dataset.samples()[0].groups.at("transmission"), "ita_tx");
  // Both tracks present: the track must be named.
  EXPECT_NE(error_of([&] { open_benchmark("asvspoof2021", t.path); }).find("name the track"),
            std::string::npos);
}

TEST(AudioLayout, InTheWildHyphenatedBonaFide) {
  TempDir t;
  write(t.path / "meta.csv",
        "file,speaker,label\n0.wav,Alec Guinness,spoof\n1.wav,\"Guinness, Alec\",bona-fide\n");
  write(t.path / "0.wav");
  write(t.path / "1.wav");
  write(t.path / "2.wav");
  const auto b = open_benchmark("inthewild", t.path);
  ASSERT_EQ(b.dataset.size(), 2u);
  EXPECT_EQ(b.dataset.samples()[0].label, 1);
  EXPECT_EQ(b.dataset.samples()[1].label, 0);
  EXPECT_EQ(b.dataset.samples()[1].groups.at("speaker"), "Guinness, Alec");
  EXPECT_EQ(count_split(b.dataset, Split::test), 2u);
  EXPECT_EQ(b.layout.extra_count, 1u);
  // Saved by a spreadsheet: byte order mark, CRLF, and a quoted nickname inside a plain field.
  write(t.path / "meta.csv",
        "\xEF\xBB\xBF"
        "file,speaker,label\r\n0.wav,Dwayne \"The Rock\" Johnson,spoof\r\n");
  const auto excel = open_benchmark("inthewild", t.path, lenient());
  ASSERT_EQ(excel.dataset.size(), 1u);
  EXPECT_EQ(excel.dataset.samples()[0].groups.at("speaker"), "Dwayne \"The Rock\" Johnson");
  write(t.path / "meta.csv", "file,speaker,label\n0.wav,\"A,spoof\n");
  expect_one_line_error(error_of([&] { open_benchmark("inthewild", t.path); }),
                        (t.path / "meta.csv").string() + ":2: unterminated quoted field");
  write(t.path / "meta.csv", "file,speaker,label\n0.wav,A,spoof\n1.wav,A,real\n");
  expect_one_line_error(error_of([&] { open_benchmark("inthewild", t.path); }),
                        (t.path / "meta.csv").string() + ":3: label 'real' is not bona-fide or spoof");
}

// ---- WildDeepfake -----------------------------------------------------------------------------

TEST(WildDeepfakeLayout, ArchivesInPlaceAndExtracted) {
  TempDir t;
  write_tar_gz(t.path / "real_test/0.tar.gz",
               {{"0/real/0/0.png", "frame-0"}, {"0/real/0/1.png", "frame-1"}, {"0/real/0/2.png", "frame-2"}});
  const std::string long_seq(120, 's');
  write_tar_gz(t.path / "fake_test/0.tar.gz", {{"0/fake/3/0.png", "f0"},
                                               {"0/fake/3/1.png", "f1"},
                                               {"0/fake/3/readme.txt", "?"},
                                               {"0/fake/" + long_seq + "/0.png", "long"}});
  write(t.path / "fake_train/7/fake/1/0.png");  // extracted
  const auto b = open_benchmark("wilddeepfake", t.path);
  const auto& ds = b.dataset;
  ASSERT_EQ(ds.size(), 7u);
  EXPECT_EQ(count_split(ds, Split::test), 6u);
  EXPECT_EQ(count_label(ds, 0), 3u);
  EXPECT_EQ(count_group(ds, "sequence", "real_test/0/0"), 3u);
  EXPECT_EQ(count_group(ds, "sequence", "fake_test/0/3"), 2u);
  EXPECT_EQ(count_group(ds, "sequence", "fake_test/0/" + long_seq), 1u);
  EXPECT_EQ(count_group(ds, "sequence", "fake_train/7/1"), 1u);
  EXPECT_EQ(b.layout.extra_count, 1u);
  EXPECT_EQ(b.layout.extra_examples.at(0), "fake_test/0.tar.gz#0/fake/3/readme.txt");
  const Sample* member = nullptr;
  for (const auto& s : ds)
    if (s.path.find("real_test/0.tar.gz#0/real/0/1.png") != std::string::npos) member = &s;
  ASSERT_NE(member, nullptr);
  EXPECT_TRUE(is_archive_member(member->path));
  EXPECT_EQ(read_archive_member(member->path), "frame-1");
  EXPECT_EQ(read_archive_member((t.path / "fake_test/0.tar.gz#0/fake/").string() + long_seq + "/0.png"),
            "long");
  EXPECT_FALSE(is_archive_member((t.path / "fake_train/7/fake/1/0.png").string()));
  try {
    read_archive_member((t.path / "real_test/0.tar.gz#0/real/0/9.png").string());
    FAIL() << "no error";
  } catch (const dfscan::Error& e) {
    EXPECT_EQ(e.status(), dfscan::Status::not_found);
  }
}

TEST(WildDeepfakeLayout, HostileArchiveHeadersAreRefusedBeforeAnyWork) {
  TempDir t;
  const std::string end(1024, '\0');
  std::string why;
  // A size of 2^64 - 512: its padded length wraps, and the skip over its data once became a seek
  // back onto the same header, forever.
  write_gz(t.path / "loop.tar.gz", raw_header("a.png", base256(~std::uint64_t{0} - 511), '0') + end);
  EXPECT_EQ(member_status(t.path / "loop.tar.gz", "b.png", &why), dfscan::Status::decode_error);
  expect_one_line_error(why, "size");
  // A GNU long-name record claiming 8 GiB is not allocated.
  write_gz(t.path / "longname.tar.gz", raw_header("././@LongLink", "77777777777", 'L') + end);
  EXPECT_EQ(member_status(t.path / "longname.tar.gz", "b.png", &why), dfscan::Status::decode_error);
  expect_one_line_error(why, "record");
  // A member claiming 100 GiB is not read into memory.
  write_gz(t.path / "huge.tar.gz", raw_header("big.png", base256(std::uint64_t{100} << 30), '0') + end);
  EXPECT_EQ(member_status(t.path / "huge.tar.gz", "big.png", &why), dfscan::Status::too_large);
  expect_one_line_error(why, "big.png");
  // A member whose data the archive does not hold: truncated, whichever member is asked for.
  write_gz(t.path / "short.tar.gz", raw_header("a.png", "00000004000", '0') + std::string(100, 'x'));
  EXPECT_EQ(member_status(t.path / "short.tar.gz", "a.png"), dfscan::Status::truncated);
  EXPECT_EQ(member_status(t.path / "short.tar.gz", "b.png"), dfscan::Status::truncated);
}

TEST(WildDeepfakeLayout, MutatedArchivesEndInTheMemberOrAStatus) {
  // A small valid archive (a long name, a pax record, a folder, three members), changed at random
  // in its header blocks; half the time the checksum is made valid again, so that sizes and types
  // reach the parser. Every read ends with the member or a dfscan::Error, never anything else.
  auto octal = [](std::size_t n) {
    char f[12];
    std::snprintf(f, sizeof f, "%011zo", n);
    return std::string(f, 11);
  };
  auto member = [&](const std::string& name, const std::string& bytes, char type = '0') {
    return raw_header(name, octal(bytes.size()), type) + bytes +
           std::string((512 - bytes.size() % 512) % 512, '\0');
  };
  const std::string long_name(130, 'n');
  const std::string tar = member("././@LongLink", long_name + '\0', 'L') + member(long_name, "long") +
                          member("pax", "25 path=0/real/0/pax.png\n", 'x') + member("pax.png", "pax") +
                          member("0/real/", "", '5') + member("0/real/0/0.png", std::string(700, 'f')) +
                          std::string(1024, '\0');
  TempDir t;
  std::mt19937 rng(7);
  int refused = 0, read = 0;
  for (int round = 0; round < 400; ++round) {
    std::string bad = tar;
    const int blocks = static_cast<int>(bad.size() / 512);
    const std::size_t block = 512 * static_cast<std::size_t>(rng() % static_cast<unsigned>(blocks));
    for (unsigned k = 0, n = 1 + rng() % 4; k < n; ++k)
      bad[block + rng() % 512] = static_cast<char>(rng() & 0xff);
    if (rng() % 2) {  // a valid checksum again
      std::memset(&bad[block + 148], ' ', 8);
      unsigned sum = 0;
      for (std::size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(bad[block + i]);
      char field[8];
      std::snprintf(field, sizeof field, "%06o", sum);
      std::memcpy(&bad[block + 148], field, 7);
    }
    const auto path = t.path / ("m" + std::to_string(round) + ".tar.gz");
    write_gz(path, bad);
    for (const char* name : {"0/real/0/0.png", "absent.png"}) {
      try {
        read_archive_member(path.string() + "#" + name);
        ++read;
      } catch (const dfscan::Error& e) {
        expect_one_line_error(e.what(), "");
        ++refused;
      } catch (const std::exception& e) {
        ADD_FAILURE() << "round " << round << ": " << typeid(e).name() << ": " << e.what();
      }
    }
    fs::remove(path);
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(read, 0);
}

TEST(WildDeepfakeLayout, WrapperFoldersAndLabelMismatch) {
  TempDir t;
  write_tar_gz(t.path / "deepfake_in_the_wild/real_train/real_train/1.tar.gz", {{"1/real/5/0.png", "x"}});
  const auto b = open_benchmark("wilddeepfake", t.path);
  ASSERT_EQ(b.dataset.size(), 1u);
  EXPECT_EQ(b.dataset.samples()[0].split, Split::train);
  write_tar_gz(t.path / "deepfake_in_the_wild/real_train/real_train/2.tar.gz", {{"2/fake/5/0.png", "x"}});
  expect_one_line_error(error_of([&] { open_benchmark("wilddeepfake", t.path); }),
                        "member 2/fake/5/0.png is fake but real_train/ holds real sequences");
  fs::remove(t.path / "deepfake_in_the_wild/real_train/real_train/2.tar.gz");
  write(t.path / "deepfake_in_the_wild/real_train/real_train/3.tar.gz", "not a gzip archive at all");
  EXPECT_NE(error_of([&] { open_benchmark("wilddeepfake", t.path); }), "");
  TempDir empty;
  EXPECT_NE(error_of([&] { open_benchmark("wilddeepfake", empty.path); }).find("none of real_train/"),
            std::string::npos);
}

// ---- DeepfakeTIMIT ----------------------------------------------------------------------------

TEST(DeepfakeTimitLayout, FakesWithVidTimitReals) {
  TempDir t;
  const auto root = t.path / "DeepfakeTIMIT";
  write(root / "higher_quality/fadg0/sa1-video-fram1.avi");
  write(root / "higher_quality/fadg0/sa1.wav");
  write(root / "lower_quality/fadg0/sa1-video-fram1.avi");
  write(root / "lower_quality/fadg0/Thumbs.db");
  // Without VidTIMIT the real half is missing.
  const auto msg = error_of([&] { open_benchmark("deepfaketimit", root); });
  expect_one_line_error(msg, "1 of 3 files missing");
  EXPECT_NE(msg.find("VidTIMIT/fadg0/video/sa1"), std::string::npos) << msg;
  EXPECT_EQ(open_benchmark("deepfaketimit", root, lenient()).dataset.size(), 2u);
  // VidTIMIT beside the DeepfakeTIMIT folder, as JPEG frame folders.
  write(t.path / "VidTIMIT/fadg0/video/sa1/001");
  write(t.path / "VidTIMIT/fadg0/video/sa1/002");
  const auto b = open_benchmark("deepfaketimit", root);
  ASSERT_EQ(b.dataset.size(), 4u);
  EXPECT_EQ(count_label(b.dataset, 1), 2u);
  EXPECT_EQ(count_group(b.dataset, "sequence", "vidtimit/fadg0/sa1"), 2u);
  EXPECT_EQ(count_group(b.dataset, "quality", "higher_quality"), 1u);
  EXPECT_EQ(count_split(b.dataset, Split::test), 4u);
  EXPECT_EQ(b.layout.extra_count, 1u);
  BenchmarkOptions o;
  o.version = "hq";
  EXPECT_EQ(open_benchmark("deepfaketimit", root, o).dataset.size(), 3u);
  // A re-encoded <subject>/<sentence>.avi wins over the frame folder.
  write(t.path / "VidTIMIT/fadg0/sa1.avi");
  EXPECT_EQ(open_benchmark("deepfaketimit", root).dataset.size(), 3u);
}

TEST(CelebdfLayout, SymlinkedFoldersAreFollowed) {
  TempDir t;
  write(t.path / "elsewhere/id0_id1_0003.mp4");
  fs::create_directories(t.path / "root/Celeb-real");
  write(t.path / "root/Celeb-real/id0_0003.mp4");
  fs::create_directory_symlink(t.path / "elsewhere", t.path / "root/Celeb-synthesis");
  write(t.path / "root/List_of_testing_videos.txt", "1 Celeb-real/id0_0003.mp4\n");
  const auto b = open_benchmark("celebdf", t.path / "root");
  ASSERT_EQ(b.dataset.size(), 2u);
  EXPECT_EQ(b.dataset.samples()[1].path, (t.path / "root/Celeb-synthesis/id0_id1_0003.mp4").string());
  EXPECT_EQ(b.dataset.samples()[1].label, 1);
}
