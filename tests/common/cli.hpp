#pragma once
// Running the built dfscan binary (and other programs) from the CLI tests: output captured to files,
// shell quoting, and JSON Lines parsing.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace dfscan::test {

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

inline const std::string& dfscan_binary() {
  static const std::string path = DFSCAN_BINARY_DIR "/apps/dfscan/dfscan";
  return path;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string quote(const std::filesystem::path& p) {
  return quote(p.string());
}

// Runs `command` through the shell, capturing stdout and stderr into files under `dir`.
inline Outcome run_command(const std::string& command, const std::filesystem::path& dir) {
  const auto out = dir / "stdout", err = dir / "stderr";
  const std::string cmd = command + " >" + quote(out.string()) + " 2>" + quote(err.string());
  const int status = std::system(cmd.c_str());
  Outcome r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// The JSON values of a JSON Lines text, blank lines skipped.
inline std::vector<nlohmann::json> jsonl(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

inline Outcome run_dfscan(const std::string& args, const std::filesystem::path& dir) {
  return run_command(quote(dfscan_binary()) + " " + args, dir);
}

}  // namespace dfscan::test
