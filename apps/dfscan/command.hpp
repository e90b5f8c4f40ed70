#pragma once
// Subcommands register themselves: adding one means adding a cmd_*.cpp file, not editing main.
#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace dfscan::cli {

// Adds the subcommand to `root` and returns the function that runs it after parsing.
using CommandFactory = std::function<std::function<int()>(CLI::App& root)>;

struct CommandRegistrar {
  CommandRegistrar(const char* name, CommandFactory factory);
};

struct RegisteredCommand {
  const char* name;
  CommandFactory factory;
};
std::vector<RegisteredCommand>& registered_commands();

}  // namespace dfscan::cli

#define DFSCAN_COMMAND(name, factory) \
  static const ::dfscan::cli::CommandRegistrar dfscan_command_registrar_##factory(name, factory)
