// `dfscan completion bash`: the generated script parses, and completing in a real bash offers
// the subcommands, each subcommand's options, and nested `data` verbs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "clips.hpp"
#include "dfscan/config.hpp"

namespace fs = std::filesystem;
using dfscan::test::capture;
using dfscan::test::shell_quote;

namespace {
const std::string kBin = DFSCAN_BINARY_DIR "/apps/dfscan/dfscan";

fs::path script() {
  static const fs::path path = [] {
    auto p = fs::temp_directory_path() / ("dfscan_completion_" + std::to_string(::getpid()) + ".bash");
    int rc = -1;
    std::ofstream(p) << capture(shell_quote(kBin) + " completion bash", &rc);
    EXPECT_EQ(rc, 0);
    return p;
  }();
  return path;
}

// What bash offers after typing `line` (words split on spaces; a trailing space starts a new word),
// in an empty folder so that no file names mix in.
std::string complete(const std::string& line) {
  const std::string program =
      "PATH=" + shell_quote(fs::path(kBin).parent_path().string()) + ":$PATH; source " +
      shell_quote(script().string()) + "; line=" + shell_quote(line) +
      "; read -ra COMP_WORDS <<< \"$line\"; [[ \"$line\" == *' ' ]] && "
      "COMP_WORDS+=(''); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); "
      "empty=$(mktemp -d); cd \"$empty\"; _dfscan; printf '%s\\n' \"${COMPREPLY[@]}\"; rmdir \"$empty\"";
  int rc = -1;
  auto out = capture("bash -c " + shell_quote(program) + " 2>&1", &rc);
  EXPECT_EQ(rc, 0) << out;
  return "\n" + out;
}
}  // namespace

TEST(Completion, BashScriptIsValidBash) {
  ASSERT_GT(fs::file_size(script()), 0u);
  EXPECT_EQ(dfscan::test::run_shell("bash -n " + shell_quote(script().string())), 0);
}

TEST(Completion, OffersSubcommandsAndTheirOptions) {
  const auto top = complete("dfscan ");
  std::vector<std::string> subs{"models", "version", "completion", "bench", "train", "eval"};
  if (DFSCAN_WITH_MEDIA) subs.insert(subs.end(), {"scan", "faces", "probe"});
  for (const auto& sub : subs)
    EXPECT_NE(top.find("\n" + sub + "\n"), std::string::npos) << sub << " missing:" << top;
  if (!DFSCAN_WITH_MEDIA) {
    // A build without media has no scan: the options are checked on bench.
    EXPECT_EQ(top.find("\nscan\n"), std::string::npos) << top;
    const auto bench = complete("dfscan bench --");
    for (const char* opt : {"--batch", "--dtype", "--cuda-graphs", "--format"})
      EXPECT_NE(bench.find(std::string("\n") + opt + "\n"), std::string::npos) << opt << " missing:" << bench;
    EXPECT_EQ(complete("dfscan version --").find("--batch"), std::string::npos);
    return;
  }
  EXPECT_NE(complete("dfscan sc").find("\nscan\n"), std::string::npos);
  const auto scan = complete("dfscan scan --");
  for (const char* opt : {"--frames", "--recursive", "--resume", "--shard", "--format", "--output"})
    EXPECT_NE(scan.find(std::string("\n") + opt + "\n"), std::string::npos) << opt << " missing:" << scan;
  // Options belong to their subcommand.
  EXPECT_EQ(complete("dfscan version --").find("--shard"), std::string::npos);
  // A subcommand name typed after an option value is not taken for the subcommand.
  EXPECT_NE(complete("dfscan scan --frames 4 --re").find("--recursive"), std::string::npos);
}

TEST(Completion, NestedDataVerbs) {
  const auto data = complete("dfscan data ");
  ASSERT_NE(data.find('\n', 1), std::string::npos) << "no data verbs offered";
  // Every verb offered is one that `dfscan data --help` lists.
  int rc = -1;
  const auto help = capture(shell_quote(kBin) + " data --help 2>&1", &rc);
  std::istringstream in(data);
  for (std::string verb; std::getline(in, verb);) {
    if (verb.empty() || verb[0] == '-') continue;
    EXPECT_NE(help.find("  " + verb + " "), std::string::npos) << verb << " is not in:\n" << help;
  }
}

TEST(Completion, OptionsWithFixedValuesOfferThoseValues) {
  // After --dtype (bench exists in every build): its values, not file names.
  const auto dtype = complete("dfscan bench --dtype ");
  EXPECT_EQ(dtype, "\nfp32\ntf32\nbf16\nfp16\n");
  EXPECT_EQ(complete("dfscan bench --dtype b"), "\nbf16\n");
  const auto dataset = complete("dfscan eval --dataset ");
  for (const char* name : {"ffpp", "celebdf", "asvspoof2019la", "inthewild"})
    EXPECT_NE(dataset.find(std::string("\n") + name + "\n"), std::string::npos) << name << dataset;
  // The same option name under another subcommand has that subcommand's values.
  EXPECT_EQ(complete("dfscan bench -f j"), "\njson\njsonl\n");
  if (DFSCAN_WITH_MEDIA) {
    EXPECT_EQ(complete("dfscan scan -f c"), "\ncsv\n");
  }
}

TEST(Completion, ZshRunsTheBashFunctionThroughBashcompinit) {
  int rc = -1;
  const auto zsh = capture(shell_quote(kBin) + " completion zsh", &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(zsh.rfind("#compdef dfscan\n", 0), 0u) << zsh.substr(0, 200);
  EXPECT_NE(zsh.find("bashcompinit"), std::string::npos);
  EXPECT_NE(zsh.find("complete -o filenames -o bashdefault -F _dfscan dfscan"), std::string::npos);
  if (dfscan::test::run_shell("command -v zsh > /dev/null") == 0) {
    const auto file =
        fs::temp_directory_path() / ("dfscan_completion_" + std::to_string(::getpid()) + ".zsh");
    std::ofstream(file) << zsh;
    EXPECT_EQ(dfscan::test::run_shell("zsh -n " + shell_quote(file.string())), 0);
    fs::remove(file);
  }
}

TEST(Completion, ModelOptionsOfferTheModelNames) {
  if (!fs::exists(DFSCAN_SOURCE_DIR "/models/genconvit-ed-atto.safetensors"))
    GTEST_SKIP() << "no shipped models";
  EXPECT_NE(complete("dfscan bench -m gen").find("\ngenconvit-ed-atto\n"), std::string::npos);
  EXPECT_NE(complete("dfscan bench --model ").find("\nnpr-proxy\n"), std::string::npos);
}
