// `dfscan data`: parent of the data-preparation verbs registered with DFSCAN_DATA_COMMAND.
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "data_command.hpp"
#include "exit_codes.hpp"

namespace dfscan::cli {
namespace {

std::vector<RegisteredCommand>& data_commands() {
  static std::vector<RegisteredCommand> commands;
  return commands;
}

std::function<int()> add_data(CLI::App& root) {
  auto* data = root.add_subcommand("data", "Prepare training data: face-crop caches, self-blended images");
  data->require_subcommand(1);
  auto runners = std::make_shared<std::vector<std::pair<CLI::App*, std::function<int()>>>>();
  for (auto& verb : data_commands()) {
    auto before = data->get_subcommands({}).size();
    auto run = verb.factory(*data);
    auto subs = data->get_subcommands({});
    if (subs.size() > before) runners->emplace_back(subs.back(), std::move(run));
  }
  return [runners]() -> int {
    for (auto& [sub, run] : *runners)
      if (sub->parsed()) return run();
    return static_cast<int>(kExitUsage);
  };
}

DFSCAN_COMMAND("data", add_data);

}  // namespace

DataCommandRegistrar::DataCommandRegistrar(const char* name, CommandFactory factory) {
  data_commands().push_back({name, std::move(factory)});
}

}  // namespace dfscan::cli
