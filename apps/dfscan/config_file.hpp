#pragma once
// Every scan, eval and train option can also come from DFSCAN_<FLAG> or a --config TOML table
// (CONVENTIONS.md). Precedence: flag > environment > config > model manifest > built-in default.
#include <CLI/CLI.hpp>
#include <string>

namespace dfscan::cli {

// Adds --config FILE to `sub` and, once `sub` is parsed, fills each long option that was not given
// on the command line from DFSCAN_<NAME> (upper case, dashes to underscores), else from the
// config file's [section] table.
void attach_environment_and_config(CLI::App& sub, const std::string& section);

// The environment variable that sets option `--long-name`.
std::string env_name_for(const std::string& long_name);

}  // namespace dfscan::cli
