// dfscan: tells authentic media from deepfakes. This file only parses, dispatches and maps
// outcomes to exit codes; the work lives in libdfscan.

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "command.hpp"
#include "dfscan/log.hpp"
#include "dfscan/runtime.hpp"
#include "dfscan/status.hpp"
#include "exit_codes.hpp"

namespace dfscan::cli {

std::vector<RegisteredCommand>& registered_commands() {
  static std::vector<RegisteredCommand> commands;
  return commands;
}

CommandRegistrar::CommandRegistrar(const char* name, CommandFactory factory) {
  registered_commands().push_back({name, std::move(factory)});
}

namespace {

// Commands that decode media files, which a build without media (DFSCAN_WITH_MEDIA=OFF, e.g. on a
// GPU box without FFmpeg and OpenCV) leaves out.
const std::set<std::string> kMediaCommands{"scan", "faces", "probe", "continual"};

// `dfscan clip.mp4` means `dfscan scan clip.mp4`: subcommand names win over file names. When that
// resolves to a media command this build lacks, `missing` names it (the arguments stay as given).
std::vector<std::string> with_default_subcommand(int argc, char** argv, const std::set<std::string>& names,
                                                 std::string& missing) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return args;
  // Verbosity flags belong to the root and may come first: `dfscan -v clip.mp4`.
  static const std::set<std::string> verbosity{"-v", "-vv", "-vvv", "--verbose", "-q", "--quiet"};
  size_t first = 0;
  while (first < args.size() && verbosity.count(args[first])) ++first;
  if (first == args.size()) return args;
  static const std::set<std::string> root_flags{"-h", "--help", "--help-all", "--version", "-V"};
  // `dfscan train --continual ...` is `dfscan continual ...`: one home for the continual options.
  if (args[first] == "train") {
    const auto flag = std::find(args.begin() + static_cast<std::ptrdiff_t>(first), args.end(), "--continual");
    if (flag != args.end()) {
      if (!names.count("continual")) {
        missing = "continual";
        return args;
      }
      args.erase(flag);
      args[first] = "continual";
      return args;
    }
  }
  if (names.count(args[first]) || root_flags.count(args[first])) return args;
  if (kMediaCommands.count(args[first])) {
    missing = args[first];
    return args;
  }
  if (!names.count("scan")) {
    missing = "scan";
    return args;
  }
  args.insert(args.begin() + static_cast<std::ptrdiff_t>(first), "scan");
  return args;
}

// A command's results went to standard output; if they could not all be written (a full disk,
// a closed pipe), the run failed whatever the command found, unless it already said so.
int with_output_written(int exit_code) {
  std::cout.flush();
  if (std::cout.good() && std::fflush(stdout) == 0 && !std::ferror(stdout)) return exit_code;
  const int error = errno;
  if (exit_code == kExitFailure) return exit_code;
  if (error != EPIPE)  // `dfscan ... | head` closing early is not worth a message
    std::cerr << "dfscan: error: cannot write standard output: " << std::strerror(error) << "\n";
  return kExitFailure;
}

}  // namespace
}  // namespace dfscan::cli

// Called by the `dfscan` executable (launcher.cpp) once it has set up the process environment.
extern "C" __attribute__((visibility("default"))) int dfscan_cli_main(int argc, char** argv) {
  using namespace dfscan::cli;
  CLI::App app{
      "dfscan: tells authentic media from deepfakes.\n"
      "Run `dfscan FILE...` to scan, or a subcommand below."};
  app.name("dfscan");
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  app.require_subcommand(0, 1);
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "More log output on stderr (-vv for debug)");
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");

  std::vector<std::pair<CLI::App*, std::function<int()>>> runners;
  std::set<std::string> names;
  for (auto& cmd : registered_commands()) {
    auto before = app.get_subcommands({}).size();
    auto run = cmd.factory(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) runners.emplace_back(subs.back(), std::move(run));
    names.insert(cmd.name);
  }
  // -v and -q are the root's, and may come anywhere: `dfscan bench ... -q` as well as `dfscan -q bench`.
  std::function<void(CLI::App&)> let_root_flags_through = [&](CLI::App& parent) {
    for (auto* sub : parent.get_subcommands({})) {
      sub->fallthrough();
      let_root_flags_through(*sub);
    }
  };
  let_root_flags_through(app);
  app.footer(
      "Exit codes: 0 nothing fake, 1 something fake, 2 a file or operation failed, "
      "64 usage error, 130 interrupted.");

  std::string missing;
  auto args = with_default_subcommand(argc, argv, names, missing);
  if (!missing.empty()) {
    // Not an unknown word to the user: a command of the product that this build cannot run.
    std::cerr << "dfscan: error: `" << missing
              << "` reads media files and needs the media build (DFSCAN_WITH_MEDIA=ON, with FFmpeg and "
                 "OpenCV); this dfscan was built without it\n";
    return kExitFailure;
  }
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  dfscan::init_logging(quiet ? -1 : verbosity);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return with_output_written(run());
    std::cout << app.help();
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    // Option combinations that can only be checked once the command runs are usage errors too.
    std::cerr << "dfscan: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const dfscan::Error& e) {
    dfscan::log::error(e.what());
    return kExitFailure;
  } catch (const std::exception& e) {
    dfscan::log::error(dfscan::one_line(e.what()));
    return kExitFailure;
  }
}
