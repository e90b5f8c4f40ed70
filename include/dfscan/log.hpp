#pragma once
// Logging goes to stderr only; stdout carries results.

namespace dfscan {

// verbosity: -1 quiet (errors only), 0 default (warnings), 1 info, 2 debug.
// DFSCAN_LOG (trace|debug|info|warn|error|off) overrides it.
void init_logging(int verbosity);

}  // namespace dfscan
