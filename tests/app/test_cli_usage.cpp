// Usage rules that hold for every subcommand, run through the built binary (media build or not):
// -v/-q anywhere on the line, and out-of-range numbers refused with a one-line message and exit 64.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "../common/cli.hpp"
#include "../common/scoped_temp_dir.hpp"

using dfscan::test::run_dfscan;

namespace {

dfscan::test::Outcome run(const std::string& args) {
  static dfscan::test::ScopedTempDir dir("dfscan_cli_usage");
  return run_dfscan(args, dir.path());
}

// Runs `args` and expects exit code `code` with `message` on stderr.
void expect_exit(const std::string& args, int code, const std::string& message) {
  SCOPED_TRACE(args);
  const auto r = run(args);
  EXPECT_EQ(r.exit_code, code);
  EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
}

}  // namespace

TEST(CliUsage, RootFlagsAreAcceptedAfterAnySubcommand) {
  // Before, only scan let -q/-v through: `dfscan models list -q` was a usage error.
  auto r = run("models list -q");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = run("models info no-such-model -v");
  EXPECT_EQ(r.exit_code, 2) << r.err;  // the model is missing; the flag was understood
  expect_exit("eval --scores /no/such/scores.csv -q", 2, "cannot open score file");
}

TEST(CliUsage, OutOfRangeNumbersNameTheRuleAndTheValue) {
  expect_exit("bench --arch npr --arch-config tiny -b 0", 64, "--batch: must be > 0, not 0");
  const auto r = run("bench --arch npr --arch-config tiny -b 0");
  EXPECT_EQ(r.err.find("1797693"), std::string::npos) << r.err;  // not CLI11's range up to DBL_MAX
  expect_exit("bench --arch npr --arch-config tiny -b 1 --repeats 0", 64, "--repeats: must be > 0, not 0");
  expect_exit("train --arch npr --data /no/such.csv -o /no/such.safetensors --lr -1", 64,
              "--lr: must be > 0, not -1");
  expect_exit("train --arch npr --data /no/such.csv -o /no/such.safetensors --threads -2", 64,
              "--threads: must be >= 0, not -2");
}

TEST(CliUsage, AMistypedDeviceIsAUsageError) {
  // Before, `--device gpu` loaded the models and then failed with exit 2, like a missing GPU.
  for (const char* command : {"bench --arch npr --arch-config tiny -b 1", "eval --scores /no/such.csv",
                              "train --arch npr --data /no/such.csv -o /no/such.safetensors"}) {
    expect_exit(std::string(command) + " --device gpu", 64, "'gpu' is not auto, cpu, cuda or cuda:N");
  }
  EXPECT_EQ(run("bench --arch npr --arch-config tiny -b 1 --device cuda:x").exit_code, 64);
  // A well-spelt device is accepted by the parser; whether it exists is the command's business.
  EXPECT_EQ(run("eval --scores /no/such.csv --device cuda:0").exit_code, 2);
}

TEST(CliUsage, UnknownDatasetsAndSplitsAreUsageErrors) {
  expect_exit("eval --dataset asvspoof2019 --root /no/such", 64,
              "unknown dataset 'asvspoof2019' (known: folder, csv, ffpp,");
  expect_exit("eval --dataset folder --root /no/such --split foo", 64,
              "unknown split 'foo' (train, valid, test)");
  // Names are not case-sensitive, and the dataset's own split names are accepted; the missing root
  // is then the (run-time) failure.
  expect_exit("eval --dataset FFPP --root /no/such --split validation", 2, "root not found: /no/such");
}

TEST(CliUsage, OutputThatCannotBeWrittenIsAFailure) {
  // A full disk must not pass for success: /dev/full refuses every write with ENOSPC.
  static dfscan::test::ScopedTempDir dir("dfscan_cli_full");
  const auto scores = dir.path() / "scores.csv";
  std::ofstream(scores) << "path,label,score\na,1,0.9\nb,0,0.2\n";
  const auto err = dir.path() / "err.txt";
  const auto eval = [&](const char* to) {
    const int status = std::system((dfscan::test::quote(dfscan::test::dfscan_binary()) + " eval --scores " +
                                    dfscan::test::quote(scores.string()) + " > " + to + " 2> " +
                                    dfscan::test::quote(err.string()))
                                       .c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(eval("/dev/full"), 2);
  const auto message = dfscan::test::slurp(err);
  EXPECT_NE(message.find("cannot write standard output: No space left on device"), std::string::npos)
      << message;
  EXPECT_EQ(eval("/dev/null"), 0);
}

TEST(CliUsage, AnOutputThatCannotBeWrittenIsRefusedBeforeAnyWork) {
  // Scoring a dataset or training takes hours: an unwritable -o or --report is found first, not
  // at the last step. (/proc refuses new entries even to root.)
  expect_exit("eval --scores /no/such/scores.csv --report /proc/dfscan-report", 2,
              "--report: cannot create /proc/dfscan-report");
  expect_exit("train --arch npr --data /no/such.csv -o /proc/dfscan/model.safetensors", 2,
              "-o: cannot create /proc/dfscan");
  expect_exit("eval --dataset folder --root /no/such -o /proc", 2, "-o: /proc is a folder, not a file");
}
