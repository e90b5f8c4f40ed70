// dfscan/csv.hpp: how every CSV that dfscan reads is split, and every field it writes is quoted.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "dfscan/csv.hpp"
#include "dfscan/status.hpp"
#include "dfscan/text.hpp"

namespace csv = dfscan::csv;
using Fields = std::vector<std::string>;

TEST(Csv, SplitsQuotedAndPlainFields) {
  EXPECT_EQ(csv::split("a,b,c"), (Fields{"a", "b", "c"}));
  EXPECT_EQ(csv::split(""), (Fields{""}));
  EXPECT_EQ(csv::split("a,,"), (Fields{"a", "", ""}));
  EXPECT_EQ(csv::split(R"("x, y",2)"), (Fields{"x, y", "2"}));
  EXPECT_EQ(csv::split(R"("say ""hi""",)"), (Fields{R"(say "hi")", ""}));
  EXPECT_EQ(csv::split(R"("")"), (Fields{""}));
}

TEST(Csv, AQuoteInsideAPlainFieldIsText) {
  // As Python's csv module reads it: a speaker named Dwayne "The Rock" Johnson keeps his quotes.
  EXPECT_EQ(csv::split(R"(0.wav,Dwayne "The Rock" Johnson,spoof)"),
            (Fields{"0.wav", R"(Dwayne "The Rock" Johnson)", "spoof"}));
}

TEST(Csv, MalformedQuotingIsAnError) {
  for (const char* line : {R"("open,1)", R"("closed"text,1)", R"(a,")"}) {
    try {
      csv::split(line);
      ADD_FAILURE() << "accepted " << line;
    } catch (const dfscan::Error& e) {
      EXPECT_EQ(e.status(), dfscan::Status::error);
      EXPECT_TRUE(std::string(e.what()) == "unterminated quoted field" ||
                  std::string(e.what()) == "text after a closing quote")
          << e.what();
    }
  }
}

TEST(Csv, ReadLineDropsLineEndingsAndTheByteOrderMark) {
  std::istringstream in(
      "\xEF\xBB\xBFpath,label\r\na.mp4,1\r\n\r\n\xEF\xBB\xBF"
      "b.mp4,0");
  std::string line;
  std::size_t line_no = 0;
  std::vector<std::string> lines;
  while (csv::read_line(in, line, line_no)) lines.push_back(line);
  // Only the first line's mark is a byte order mark; later the bytes are data.
  EXPECT_EQ(lines, (Fields{"path,label", "a.mp4,1", "",
                           "\xEF\xBB\xBF"
                           "b.mp4,0"}));
  EXPECT_EQ(line_no, 4u);
}

TEST(Csv, FieldsRoundTrip) {
  const Fields values{"plain", "a,b", R"(say "hi")", "two\nlines", "cr\r", ""};
  for (const auto& v : values) {
    if (v.find_first_of("\r\n") == std::string::npos) {
      EXPECT_EQ(csv::split(csv::field(v)), Fields{v}) << v;
    }
  }
  EXPECT_EQ(csv::field("plain"), "plain");
  EXPECT_EQ(csv::field("a,b"), R"("a,b")");
  EXPECT_EQ(csv::field("two\nlines"), "\"two\nlines\"");
}

TEST(Csv, ErrorsCanNameFileAndLine) {
  EXPECT_EQ(csv::split("a,b", "x.csv", 7), (Fields{"a", "b"}));
  try {
    csv::split(R"(a,"b)", "x.csv", 7);
    FAIL() << "accepted";
  } catch (const dfscan::Error& e) {
    EXPECT_STREQ(e.what(), "x.csv:7: unterminated quoted field");
  }
}
