// Options from DFSCAN_<FLAG> and from a --config TOML table (apps/dfscan/config_file.cpp), with the
// precedence CONVENTIONS.md fixes: flag > environment > config file > built-in default.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "../common/scoped_temp_dir.hpp"
#include "checks.hpp"
#include "config_file.hpp"

namespace {

struct Parsed {
  int frames = 0;
  std::string device = "auto";
  std::vector<std::string> models;
};

// Parses `args` (after the subcommand) for a `scan` subcommand with three options.
Parsed parse(std::vector<std::string> args) {
  CLI::App app;
  auto* sub = app.add_subcommand("scan");
  Parsed p;
  sub->add_option("--frames", p.frames)->check(dfscan::cli::kNonNegative);
  sub->add_option("--device", p.device);
  sub->add_option("-m,--model", p.models);
  dfscan::cli::attach_environment_and_config(*sub, "scan");
  args.insert(args.begin(), "scan");
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  app.parse(args);
  return p;
}

// Sets an environment variable for the lifetime of the guard.
struct EnvGuard {
  std::string name;
  EnvGuard(std::string n, const std::string& value) : name(std::move(n)) {
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~EnvGuard() { ::unsetenv(name.c_str()); }
};

class ConfigFile : public ::testing::Test {
 protected:
  dfscan::test::ScopedTempDir dir{"config-file"};
  std::string write(const std::string& text) {
    const auto path = (dir / "dfscan.toml").string();
    std::ofstream(path) << text;
    return path;
  }
  // The message of the CLI11 error that parsing `args` throws, or "" if it succeeds.
  static std::string error_of(const std::vector<std::string>& args) {
    try {
      parse(args);
    } catch (const CLI::ParseError& e) {
      return e.what();
    }
    return "";
  }
};

}  // namespace

TEST_F(ConfigFile, FlagBeatsEnvironmentBeatsFileBeatsDefault) {
  const auto path = write("[scan]\nframes = 4\ndevice = \"cpu\"\nmodel = [\"a\", \"b\"]\n");
  auto p = parse({"--config", path});
  EXPECT_EQ(p.frames, 4);
  EXPECT_EQ(p.device, "cpu");
  EXPECT_EQ(p.models, (std::vector<std::string>{"a", "b"}));
  {
    EnvGuard env("DFSCAN_FRAMES", "6");
    EnvGuard list("DFSCAN_MODEL", "c,d,e");
    p = parse({"--config", path});
    EXPECT_EQ(p.frames, 6);
    EXPECT_EQ(p.models, (std::vector<std::string>{"c", "d", "e"}));
    EXPECT_EQ(p.device, "cpu");
    // A flag wins over both. Before, a key that the flag overrode was left over and reported as
    // an unknown option.
    p = parse({"--config", path, "--frames", "8", "--device", "cuda"});
    EXPECT_EQ(p.frames, 8);
    EXPECT_EQ(p.device, "cuda");
  }
  p = parse({});
  EXPECT_EQ(p.frames, 0);
  EXPECT_EQ(p.device, "auto");
}

TEST_F(ConfigFile, DfscanConfigNamesTheFile) {
  EnvGuard env("DFSCAN_CONFIG", write("[scan]\nframes = 5\n"));
  EXPECT_EQ(parse({}).frames, 5);
}

TEST_F(ConfigFile, OtherCommandsTablesAreLeftToThem) {
  const auto path =
      write("[train]\nepochs = 3\n[scan]\nframes = 2\n[eval]\nbootstrap = 0\n[bench]\niters = 1\n");
  EXPECT_EQ(parse({"--config", path}).frames, 2);
}

TEST_F(ConfigFile, MistakesAreErrorsNotIgnored) {
  // Each of these was ignored without a word, except the unknown key.
  EXPECT_NE(error_of({"--config", write("[scan\nframes = 3\n")}).find("'[scan' is not a `name = value` line"),
            std::string::npos);
  EXPECT_NE(error_of({"--config", write("frames = 3\n")})
                .find("'frames' is not a `name = value` line inside a table"),
            std::string::npos);
  EXPECT_NE(error_of({"--config", write("[scna]\nframes = 3\n")}).find("unknown table [scna]"),
            std::string::npos);
  EXPECT_NE(error_of({"--config", write("[scan.extra]\nframes = 3\n")}).find("unknown table [scan.extra]"),
            std::string::npos);
  EXPECT_NE(error_of({"--config", write("[scan]\nfrmaes = 3\n")}).find("unknown option 'frmaes' in [scan]"),
            std::string::npos);
  EXPECT_NE(error_of({"--config", (dir / "missing.toml").string()}).find("missing.toml"), std::string::npos);
}

TEST_F(ConfigFile, BadValuesNameWhereTheyCameFrom) {
  // The check's message names --frames, which the user may never have typed.
  const auto path = write("[scan]\nframes = -2\n");
  EXPECT_EQ(error_of({"--config", path}), "[scan] frames in " + path + ": --frames: must be >= 0, not -2");
  EnvGuard env("DFSCAN_FRAMES", "abc");
  EXPECT_EQ(error_of({}), "DFSCAN_FRAMES=abc: --frames: 'abc' is not a number");
}
