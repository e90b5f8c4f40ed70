// `dfscan models list|info` through the built binary, on the shipped models.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "../common/cli.hpp"
#include "../common/scoped_temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(DFSCAN_SOURCE_DIR) / "models";

dfscan::test::Outcome run(const std::string& args) {
  static dfscan::test::ScopedTempDir dir("dfscan_models_cli");
  return dfscan::test::run_dfscan(args, dir.path());
}

TEST(ModelsCli, InfoShowsEveryManifestKeyReadably) {
  if (!fs::exists(kModels / "genconvit-ed-atto.safetensors")) GTEST_SKIP() << "shipped model absent";
  const auto json = run("models info genconvit-ed-atto -f json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto manifest = nlohmann::json::parse(json.out);
  const auto text = run("models info genconvit-ed-atto");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  // One aligned line per key: the data's terms of use and the card included, strings unquoted.
  for (const auto& [key, value] : manifest.items())
    EXPECT_NE(text.out.find("\n" + key + ":"), std::string::npos) << "no line for " << key << "\n"
                                                                  << text.out;
  EXPECT_NE(text.out.find("terms:            " + manifest["terms"].get<std::string>() + "\n"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("card:             " + (kModels / "genconvit-ed-atto.md").string() + "\n"),
            std::string::npos)
      << text.out;
  EXPECT_EQ(text.out.find("name:             \""), std::string::npos) << text.out;
}

TEST(ModelsCli, ListSaysWhichOfTwoSameNamedModelsIsUsed) {
  if (!fs::exists(kModels / "npr-proxy.safetensors")) GTEST_SKIP() << "shipped model absent";
  static dfscan::test::ScopedTempDir dir("dfscan_models_shadow");
  fs::copy_file(kModels / "npr-proxy.safetensors", dir.path() / "npr-proxy.safetensors");
  const auto r = dfscan::test::run_command("DFSCAN_MODELS_DIR=" + dfscan::test::quote(dir.path().string()) +
                                               " " + dfscan::test::quote(dfscan::test::dfscan_binary()) +
                                               " models list -f json",
                                           dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int used = 0, hidden = 0;
  for (const auto& row : nlohmann::json::parse(r.out)) {
    if (row["name"] != "npr-proxy") continue;
    const bool mine = row["path"] == (dir.path() / "npr-proxy.safetensors").string();
    EXPECT_EQ(row["used"], mine) << row;  // the user's folder comes first
    (row["used"].get<bool>() ? used : hidden) += 1;
  }
  EXPECT_EQ(used, 1);
  EXPECT_EQ(hidden, 1);
}

}  // namespace
