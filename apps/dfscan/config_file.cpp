#include "config_file.hpp"

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>

namespace dfscan::cli {

std::string env_name_for(const std::string& long_name) {
  std::string out = "DFSCAN_";
  for (char c : long_name)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

void attach_environment_and_config(CLI::App& sub, const std::string& section) {
  auto config_path = std::make_shared<std::string>();
  sub.add_option("--config", *config_path, "TOML file whose [" + section + "] table sets options");
  CLI::App* app = &sub;
  sub.callback([app, section, config_path]() {
    std::map<std::string, std::vector<std::string>> from_file;
    std::string path = *config_path;
    if (path.empty())
      if (const char* env = std::getenv("DFSCAN_CONFIG"); env && *env) path = env;
    if (!path.empty()) {
      std::ifstream in(path);
      if (!in) throw CLI::FileError::Missing(path);
      for (auto& item : CLI::ConfigTOML().from_config(in)) {
        // CLI11 marks the start and end of a table with "++" and "--" items.
        if (item.name == "++" || item.name == "--" || item.name.empty()) continue;
        if (item.parents.size() == 1 && item.parents[0] == section) from_file[item.name] = item.inputs;
      }
    }
    for (CLI::Option* opt : app->get_options()) {
      const auto& name = opt->get_lnames();
      if (name.empty() || opt->count() > 0 || name[0] == "config" || name[0] == "help") continue;
      std::vector<std::string> values;
      if (const char* env = std::getenv(env_name_for(name[0]).c_str()); env && *env) {
        // Lists in the environment are comma-separated.
        std::string v = env;
        if (opt->get_items_expected_max() > 1) {
          size_t start = 0;
          while (start <= v.size()) {
            auto end = v.find(',', start);
            if (end == std::string::npos) end = v.size();
            values.push_back(v.substr(start, end - start));
            start = end + 1;
          }
        } else {
          values.push_back(v);
        }
      } else if (auto it = from_file.find(name[0]); it != from_file.end()) {
        values = it->second;
        from_file.erase(it);
      } else {
        continue;
      }
      opt->add_result(values);
      opt->run_callback();
    }
    for (const auto& [key, _] : from_file)
      throw CLI::ConfigError("unknown option '" + key + "' in [" + section + "] of " + path);
  });
}

}  // namespace dfscan::cli
