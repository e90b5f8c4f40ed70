// dfscan/text.hpp: splitting, UTF-8 validation and base64.
#include <gtest/gtest.h>

#include <stdexcept>

#include "dfscan/json_text.hpp"
#include "dfscan/text.hpp"

namespace {

TEST(Text, SplitOnKeepsEmptyParts) {
  EXPECT_EQ(dfscan::split_on("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(dfscan::split_on("a,", ','), (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(dfscan::split_on("", ','), (std::vector<std::string>{""}));
  EXPECT_EQ(dfscan::split_on("one", '+'), (std::vector<std::string>{"one"}));
}

TEST(Text, DurationsReadAsPeopleWriteThem) {
  EXPECT_EQ(dfscan::format_duration(0), "0s");
  EXPECT_EQ(dfscan::format_duration(44.6), "45s");
  EXPECT_EQ(dfscan::format_duration(320), "5m20s");
  EXPECT_EQ(dfscan::format_duration(3599.4), "59m59s");
  EXPECT_EQ(dfscan::format_duration(7500), "2h05m");
  EXPECT_EQ(dfscan::format_duration(-3), "0s");
}

TEST(Text, ValidUtf8IsStrict) {
  EXPECT_TRUE(dfscan::valid_utf8(""));
  EXPECT_TRUE(dfscan::valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(dfscan::valid_utf8("caf\xe9.mp4"));       // Latin-1
  EXPECT_FALSE(dfscan::valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(dfscan::valid_utf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(dfscan::valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(dfscan::valid_utf8("\xe2\x82"));          // cut short
}

TEST(Text, Base64MatchesRfc4648AndRoundTrips) {
  // RFC 4648 section 10's test vectors.
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : vectors) {
    EXPECT_EQ(dfscan::base64_encode(plain), coded);
    EXPECT_EQ(dfscan::base64_decode(coded), plain);
  }
  std::string every_byte;
  for (int i = 0; i < 256; ++i) every_byte += static_cast<char>(i);
  for (std::size_t n = 0; n <= every_byte.size(); n += 37)
    EXPECT_EQ(dfscan::base64_decode(dfscan::base64_encode(every_byte.substr(0, n))), every_byte.substr(0, n));
}

TEST(Text, Base64RefusesMalformedText) {
  for (const char* bad : {"Zg=", "Z===", "Zm9v=", "=Zm9", "Zg==Zg==", "Zm*v", "Zm9\n"})
    EXPECT_THROW(dfscan::base64_decode(bad), std::invalid_argument) << bad;
}

TEST(Text, JsonTextReplacesWhatIsNotUtf8InsteadOfThrowing) {
  const nlohmann::json record = {{"path", "caf\xe9.mp4"}};
  EXPECT_THROW((void)record.dump(), nlohmann::json::type_error);  // what it replaces
  EXPECT_EQ(dfscan::json_text(record), "{\"path\":\"caf\xef\xbf\xbd.mp4\"}");
  EXPECT_EQ(dfscan::json_text(nlohmann::ordered_json{{"b", 1}, {"a", "x"}}, 1),
            "{\n \"b\": 1,\n \"a\": \"x\"\n}");
}

}  // namespace
