#pragma once
// `dfscan data <verb>`: the verbs that prepare training data (face-crop cache, self-blended previews)
// register themselves like top-level commands, so each lives in its own cmd_data_*.cpp file.
#include "command.hpp"

namespace dfscan::cli {

struct DataCommandRegistrar {
  DataCommandRegistrar(const char* name, CommandFactory factory);
};

}  // namespace dfscan::cli

// The factory receives the `data` subcommand and adds its verb to it.
#define DFSCAN_DATA_COMMAND(name, factory) \
  static const ::dfscan::cli::DataCommandRegistrar dfscan_data_command_registrar_##factory(name, factory)
