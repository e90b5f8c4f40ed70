#pragma once
// Logging goes to stderr only; stdout carries results.
//
// Code that includes torch logs through these functions rather than spdlog directly: PyTorch 2.x
// bundles its own fmt, which clashes with the fmt a system spdlog was built against.
#include <string>

namespace dfscan {

// verbosity: -1 quiet (errors only), 0 default (warnings), 1 info, 2 debug.
// DFSCAN_LOG (trace|debug|info|warn|error|off) overrides it.
void init_logging(int verbosity);

namespace log {
void debug(const std::string& message);
void info(const std::string& message);
void warn(const std::string& message);
void error(const std::string& message);
}  // namespace log

}  // namespace dfscan
