// `dfscan models import|list|info`: convert official checkpoints and inspect model files.

#include <c10/core/Device.h>

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "command.hpp"
#include "dfscan/detector.hpp"
#include "dfscan/json_text.hpp"
#include "dfscan/log.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/status.hpp"
#include "exit_codes.hpp"

namespace dfscan::cli {
namespace {
namespace fs = std::filesystem;

// The manifest alone; the hash is checked so that `list` and `info` flag damaged files.
nlohmann::json read_manifest(const fs::path& path) {
  return io::read_model_file(path).manifest;
}

struct ModelsArgs {
  ImportOptions import;
  std::string src, out, model, format = "text";
  bool load = false;
  bool names_only = false;
};

int run_import(const ModelsArgs& a) {
  auto result = import_checkpoint(a.src, a.out, a.import);
  for (const auto& k : result.unexpected_keys)
    log::warn("ignored checkpoint key '" + k + "' (use --strict to refuse)");
  for (const auto& k : result.non_finite_tensors)
    log::warn("tensor '" + k +
              "' holds NaN or infinite values: unless it is a mask, the checkpoint is broken and every score "
              "will be an error");
  std::cerr << "dfscan: wrote " << a.out << " (" << result.hash << ")\n";
  return kExitOk;
}

int run_list(const ModelsArgs& a) {
  if (a.names_only) {
    // For shell completion: the names -m resolves, first folder first, without reading any file.
    std::set<std::string> seen;
    for (const auto& dir : model_search_dirs()) {
      std::error_code ec;
      std::vector<std::string> names;
      for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".safetensors" && seen.insert(e.path().stem().string()).second)
          names.push_back(e.path().stem().string());
      std::sort(names.begin(), names.end());
      for (const auto& n : names) std::cout << n << "\n";
    }
    return kExitOk;
  }
  auto rows = nlohmann::json::array();
  int failures = 0;
  std::set<std::string> seen;  // a name in an earlier folder hides the same name in later ones
  for (const auto& dir : model_search_dirs()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".safetensors") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      try {
        auto m = read_manifest(f);
        rows.push_back({{"name", f.stem().string()},
                        {"arch", m.value("arch", "")},
                        {"modality", m.value("modality", "")},
                        {"threshold", m.value("threshold", 0.5)},
                        {"path", f.string()},
                        {"used", seen.insert(f.stem().string()).second}});
      } catch (const Error& e) {
        ++failures;
        rows.push_back({{"name", f.stem().string()}, {"path", f.string()}, {"error", e.what()}});
      }
    }
  }
  if (a.format == "json") {
    std::cout << json_text(rows, 2) << "\n";
  } else {
    std::cout << std::left << std::setw(24) << "NAME" << std::setw(16) << "ARCH" << std::setw(8) << "MODAL"
              << "PATH\n";
    for (const auto& r : rows) {
      if (r.contains("error")) {
        std::cout << std::setw(24) << r["name"].get<std::string>()
                  << "error: " << r["error"].get<std::string>() << "\n";
        continue;
      }
      std::cout << std::setw(24) << r["name"].get<std::string>() << std::setw(16)
                << r["arch"].get<std::string>() << std::setw(8) << r["modality"].get<std::string>()
                << r["path"].get<std::string>()
                << (r["used"].get<bool>() ? "" : "  (hidden: the same name in a folder above is used)")
                << "\n";
    }
  }
  return failures ? kExitFailure : kExitOk;
}

int run_info(const ModelsArgs& a) {
  const auto path = resolve_model(a.model);
  if (a.load) {
    // Builds the network and loads every weight strictly, as scanning does (e.g. to check a file, or
    // to measure what loading costs).
    const auto start = std::chrono::steady_clock::now();
    auto detector = Detector::load(path.string(), c10::Device(c10::kCPU));
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    std::cerr << "dfscan: loaded " << detector.name() << " (" << detector.arch() << ") in " << std::fixed
              << std::setprecision(2) << took.count() << " s\n";
  }
  auto m = read_manifest(path);
  if (a.format == "json") {
    std::cout << json_text(m, 2) << "\n";
    return kExitOk;
  }
  // Every key, the ones a reader needs first (what it is, its threshold, its terms) at the top;
  // strings bare, everything else as compact JSON.
  std::vector<std::pair<std::string, std::string>> rows = {{"path", path.string()}};
  auto text_of = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : json_text(v); };
  std::set<std::string> shown;
  for (const char* key : {"name", "arch", "modality", "threshold", "threshold_source", "terms", "card",
                          "hash", "format", "dfscan_version"})
    if (m.contains(key)) {
      rows.emplace_back(key, text_of(m[key]));
      shown.insert(key);
    }
  for (const auto& [key, value] : m.items())
    if (!shown.count(key)) rows.emplace_back(key, text_of(value));
  // The card is named relative to the model file; show where it is.
  for (auto& [key, value] : rows)
    if (key == "card" && std::filesystem::exists(path.parent_path() / value))
      value = (path.parent_path() / value).string();
  std::size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size() + 2);
  for (const auto& [key, value] : rows)
    std::cout << std::left << std::setw(static_cast<int>(width)) << key + ":" << value << "\n";
  return kExitOk;
}

std::function<int()> add_models(CLI::App& root) {
  auto args = std::make_shared<ModelsArgs>();
  auto* models = root.add_subcommand("models", "Import, list and inspect model files");
  models->require_subcommand(1);

  auto* imp =
      models->add_subcommand("import", "Convert an official PyTorch checkpoint (.pth) into a dfscan model");
  imp->add_option(
         "--arch", args->import.arch,
         "Architecture: " +
             [] {
               std::string s;
               for (const auto& a : registered_architectures()) s += (s.empty() ? "" : ", ") + a;
               return s;
             }())
      ->required();
  imp->add_option("src", args->src, "Checkpoint (.pth, torch.save zip format)")->required();
  imp->add_option("-o,--output", args->out, "Output .safetensors")->required();
  imp->add_option("--name", args->import.name, "Model name (default: output file stem)");
  imp->add_option("--threshold", args->import.threshold, "Decision threshold on P(fake)")
      ->check(CLI::Range(0.0, 1.0));
  imp->add_option("--notes", args->import.notes, "Free-text provenance notes");
  imp->add_flag("--strict", args->import.strict, "Refuse checkpoints with unexpected keys");

  auto* list = models->add_subcommand("list", "List the models found in the model folders");
  list->add_option("-f,--format", args->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  list->add_flag("--names", args->names_only, "Only the model names, one a line (for shell completion)");

  auto* info = models->add_subcommand("info", "Show a model's manifest");
  info->add_option("model", args->model, "Model name or path")->required();
  info->add_option("-f,--format", args->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  info->add_flag("--load", args->load, "Also build the network and load the weights into it (strict)");

  return [args, imp, list, info]() {
    if (imp->parsed()) return run_import(*args);
    if (list->parsed()) return run_list(*args);
    if (info->parsed()) return run_info(*args);
    return static_cast<int>(kExitUsage);
  };
}

}  // namespace
DFSCAN_COMMAND("models", add_models);
}  // namespace dfscan::cli
