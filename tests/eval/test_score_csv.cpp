// The score-file reader: the format, shard merging, and one-line errors that name the line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../common/scoped_temp_dir.hpp"
#include "dfscan/metrics.hpp"
#include "dfscan/status.hpp"
#include "fixtures.hpp"

namespace dfscan::eval {
namespace {

namespace fs = std::filesystem;

class ScoreCsv : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dfscan-score-csv-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { dfscan::test::remove_tree(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string error_of(const std::vector<std::string>& files) {
    try {
      read_score_files(files);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }
  fs::path dir_;
};

TEST_F(ScoreCsv, ReadsTheGroupedFixtureLikeTheGenerator) {
  const auto table = read_score_files({testing::metric_fixture_dir() + "/grouped_scores.csv"});
  for (const auto& c : testing::load_cases()) {
    if (c["name"] != "grouped_cli") continue;
    EXPECT_EQ(table.labels, c["labels"].get<std::vector<int>>());
    EXPECT_EQ(table.scores, c["scores"].get<std::vector<double>>());
    EXPECT_EQ(column_values(table, "dataset"), c["groups"].get<std::vector<std::string>>());
    EXPECT_EQ(table.paths[0], "clips/solo/video, take 0.mp4");  // quoted field with a comma
    return;
  }
  FAIL() << "no grouped_cli fixture case";
}

TEST_F(ScoreCsv, AcceptsAnyColumnOrderCrlfAndBom) {
  const auto file =
      write("a.csv", "\xEF\xBB\xBFscore,Path,LABEL,site\r\n0.25,x.mp4,REAL,a\r\n\r\n1,y.mp4,Fake,b\r\n");
  const auto table = read_score_files({file});
  EXPECT_EQ(table.paths, (std::vector<std::string>{"x.mp4", "y.mp4"}));
  EXPECT_EQ(table.labels, (std::vector<int>{0, 1}));
  EXPECT_EQ(table.scores, (std::vector<double>{0.25, 1.0}));
  EXPECT_EQ(table.extra_columns, (std::vector<std::string>{"site"}));
  EXPECT_THROW(column_values(table, "dataset"), Error);
}

TEST_F(ScoreCsv, MergesShardsAndDropsIdenticalRepeats) {
  const auto a = write("a.csv", "path,label,score\nx,1,0.9\ny,0,0.1\n");
  const auto b = write("b.csv", "path,label,score\nz,0,0.3\nx,1,0.9\n");
  const auto table = read_score_files({a, b});
  EXPECT_EQ(table.paths, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(table.duplicates_dropped, 1u);
}

TEST_F(ScoreCsv, ConflictingRepeatNamesBothPlaces) {
  const auto a = write("a.csv", "path,label,score\nx,1,0.9\n");
  const auto b = write("b.csv", "path,label,score\nx,1,0.8\n");
  const auto message = error_of({a, b});
  EXPECT_NE(message.find(b + ":2:"), std::string::npos) << message;
  EXPECT_NE(message.find(a + ":2"), std::string::npos) << message;
}

TEST_F(ScoreCsv, BadRowsNameTheirLine) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {"path,label,score\nx,1,0.5\ny,maybe,0.5\n", ":3: label \"maybe\""},
      {"path,label,score\nx,1,1.5\n", ":2: score \"1.5\""},
      {"path,label,score\nx,1,nan\n", ":2: score \"nan\""},
      {"path,label,score\nx,1,0.5abc\n", ":2: score"},
      {"path,label,score\nx,1,\n", ":2: empty score"},
      {"path,label,score\nx,1\n", ":2: expected 3 fields, found 2"},
      {"path,label,score\n\"x,1,0.5\n", ":2: unterminated quoted field"},
      {"path,label\nx,1\n", ":1: header lacks the column \"score\""},
      {"path,label,score,path\n", ":1: column \"path\" appears twice"},
      {"", ":1: empty file"},
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    const auto file = write("bad" + std::to_string(i) + ".csv", bad[i].first);
    const auto message = error_of({file});
    EXPECT_NE(message.find(file + bad[i].second), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST_F(ScoreCsv, ShardsMustShareTheirGroupColumns) {
  const auto a = write("a.csv", "path,label,score,site\nx,1,0.9,a\n");
  const auto b = write("b.csv", "path,label,score\ny,0,0.1\n");
  EXPECT_NE(error_of({a, b}).find("extra columns differ"), std::string::npos);
}

TEST_F(ScoreCsv, MissingFileIsAnError) {
  const auto message = error_of({(dir_ / "absent.csv").string()});
  EXPECT_NE(message.find("cannot open score file"), std::string::npos) << message;
}

TEST_F(ScoreCsv, StatusColumnKeepsUnscoredFilesOutOfTheScores) {
  const auto csv = write("run.csv",
                         "path,label,score,status,error,modality,threshold,frame_scores,method\n"
                         "b.mp4,fake,0.75,ok,,video,0.7,0.5 1,Deepfakes\n"
                         "a.mp4,real,,no_face,,video,,,original\n"
                         "c.mp4,1,,decode_error,\"bad, very bad\",,,,FaceSwap\n");
  const auto t = read_score_files({csv});
  ASSERT_EQ(t.labels.size(), 1u);
  EXPECT_EQ(t.frame_scores[0], (std::vector<double>{0.5, 1.0}));
  EXPECT_EQ(t.modalities[0], "video");
  EXPECT_EQ(t.thresholds[0], 0.7);
  EXPECT_EQ(t.extra_columns, (std::vector<std::string>{"method"}));
  ASSERT_EQ(t.unscored.size(), 2u);
  EXPECT_EQ(t.unscored[0].status, "no_face");
  EXPECT_EQ(t.unscored[1].error, "bad, very bad");
  EXPECT_EQ(t.unscored[1].extra_values, (std::vector<std::string>{"FaceSwap"}));
  EXPECT_NE(error_of({write("scored_failure.csv", "path,label,score,status\na,1,0.5,decode_error\n")})
                .find("has a score"),
            std::string::npos);
}

TEST_F(ScoreCsv, WrittenTablesReadBackExactly) {
  ScoreTable t;
  t.extra_columns = {"gender", "note"};
  t.has_status = t.has_frame_scores = true;
  t.paths = {"z/b.mp4", "a, \"quoted\".jpg"};
  t.labels = {1, 0};
  t.scores = {0.1 + 0.2, 1.0 / 3.0};
  t.extra_values = {{"f", "x"}, {"m", ""}};
  t.modalities = {"video", "image"};
  t.thresholds = {0.753, 0.753};
  t.frame_scores = {{0.1, 2.0 / 3.0}, {}};
  t.unscored.push_back({"y.mp4", 1, "truncated", "index past the end", {"f", "y"}});
  t.scored_by = "ed@sha256:00ff + npr@sha256:11ee; frames=8; faces=auto; aggregate=mean";
  const auto back = read_score_files({write("t.csv", score_table_csv(t))});
  ScoreTable want = t;
  sort_by_path(want);
  EXPECT_EQ(back.paths, want.paths);
  EXPECT_EQ(back.labels, want.labels);
  EXPECT_EQ(back.scores, want.scores);  // bit for bit: 17 significant digits
  EXPECT_EQ(back.extra_values, want.extra_values);
  EXPECT_EQ(back.frame_scores, want.frame_scores);
  EXPECT_EQ(back.thresholds, want.thresholds);
  EXPECT_EQ(back.modalities, want.modalities);
  ASSERT_EQ(back.unscored.size(), 1u);
  EXPECT_EQ(back.unscored[0].status, "truncated");
  EXPECT_EQ(back.unscored[0].error, "index past the end");
  EXPECT_EQ(back.scored_by, t.scored_by);
}

TEST_F(ScoreCsv, ShardsOfDifferentRunsAreRefused) {
  // One shard rescored after a model update: its rows name another run, scored or not.
  const std::string header = "path,label,score,status,scored_by\n";
  const auto a = write("a.csv", header + "x,1,0.9,ok,ed@sha256:aa; frames=model\n");
  const auto same = write("same.csv", header + "y,0,,no_face,ed@sha256:aa; frames=model\n");
  const auto other = write("other.csv", header + "z,0,,no_face,ed@sha256:bb; frames=model\n");
  EXPECT_EQ(read_score_files({a, same}).scored_by, "ed@sha256:aa; frames=model");
  const auto message = error_of({a, same, other});
  EXPECT_NE(message.find("other.csv:2: scored by \"ed@sha256:bb; frames=model\", but "), std::string::npos)
      << message;
  EXPECT_NE(message.find("a.csv:2 by \"ed@sha256:aa; frames=model\""), std::string::npos) << message;
  // Within one file, too.
  EXPECT_NE(error_of({write("mixed.csv", header + "x,1,0.9,ok,one\ny,1,0.8,ok,two\n")}).find("mixed.csv:3"),
            std::string::npos);
  // Files without the column (other tools' scores) carry no run name.
  EXPECT_EQ(read_score_files({write("plain.csv", "path,label,score\nx,1,0.5\n")}).scored_by, "");
}

}  // namespace
}  // namespace dfscan::eval
