#include "config_file.hpp"

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dfscan/text.hpp"

namespace dfscan::cli {

std::string env_name_for(const std::string& long_name) {
  std::string out = "DFSCAN_";
  for (char c : long_name)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

namespace {

// The tables a config file may hold, one per subcommand that reads it. A file is shared between
// subcommands, so another command's table is fine; any other table is a typo.
const std::set<std::string> kTables = {"bench", "eval", "scan", "train"};

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ".") + p;
  return out;
}

// The [section] table of the TOML file at `path`, as option name -> values. CLI11's reader is
// lenient: a broken table header ("[scan") becomes a top-level flag and a table name with a typo
// is just another table, so both would be ignored without a word. They are errors here.
std::map<std::string, std::vector<std::string>> read_table(const std::string& path,
                                                           const std::string& section) {
  std::ifstream in(path);
  if (!in) throw CLI::FileError::Missing(path);
  std::map<std::string, std::vector<std::string>> table;
  for (auto& item : CLI::ConfigTOML().from_config(in)) {
    const auto where = joined(item.parents);
    if (!item.parents.empty() && !kTables.count(where))
      throw CLI::ConfigError(path + ": unknown table [" + where +
                             "] (dfscan reads [bench], [eval], [scan] and [train])");
    // CLI11 marks the start and end of a table with "++" and "--" items.
    if (item.name == "++" || item.name == "--" || item.name.empty()) continue;
    if (item.parents.empty())
      throw CLI::ConfigError(path + ": '" + item.name +
                             "' is not a `name = value` line inside a table such as [" + section + "]");
    if (where == section) table[item.name] = item.inputs;
  }
  return table;
}

// Values from the environment: a list option's are comma-separated.
std::vector<std::string> environment_values(const std::string& value, bool list) {
  return list ? split_on(value, ',') : std::vector<std::string>{value};
}

}  // namespace

void attach_environment_and_config(CLI::App& sub, const std::string& section) {
  auto config_path = std::make_shared<std::string>();
  sub.add_option("--config", *config_path, "TOML file whose [" + section + "] table sets options");
  CLI::App* app = &sub;
  sub.callback([app, section, config_path]() {
    std::string path = *config_path;
    if (path.empty())
      if (const char* env = std::getenv("DFSCAN_CONFIG"); env && *env) path = env;
    auto from_file =
        path.empty() ? std::map<std::string, std::vector<std::string>>{} : read_table(path, section);
    for (CLI::Option* opt : app->get_options()) {
      const auto& name = opt->get_lnames();
      if (name.empty() || name[0] == "config" || name[0] == "help") continue;
      // Known, so not an unknown key below, even where a flag or the environment wins over it.
      std::optional<std::vector<std::string>> file_values;
      if (auto it = from_file.find(name[0]); it != from_file.end()) {
        file_values = std::move(it->second);
        from_file.erase(it);
      }
      if (opt->count() > 0) continue;
      std::vector<std::string> values;
      std::string source;  // where a bad value came from, for the message
      const auto env_name = env_name_for(name[0]);
      if (const char* env = std::getenv(env_name.c_str()); env && *env) {
        values = environment_values(env, opt->get_items_expected_max() > 1);
        source = env_name + "=" + env;
      } else if (file_values) {
        values = std::move(*file_values);
        source = "[" + section + "] " + name[0] + " in " + path;
      } else {
        continue;
      }
      try {
        opt->add_result(values);
        opt->run_callback();
      } catch (const CLI::ParseError& e) {
        // The message names the flag; the user may never have typed it.
        throw CLI::ValidationError(source + ": " + e.what());
      }
    }
    for (const auto& [key, _] : from_file)
      throw CLI::ConfigError("unknown option '" + key + "' in [" + section + "] of " + path);
  });
}

}  // namespace dfscan::cli
