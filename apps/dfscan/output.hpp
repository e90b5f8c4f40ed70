#pragma once
// Writing per-file records as text, one JSON document, JSON Lines or CSV. Shared by subcommands:
// they build nlohmann::json records and never format output themselves.
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace dfscan::cli {

enum class OutputFormat { text, json, jsonl, csv };

// The accepted --format names, for CLI11's IsMember check.
const std::vector<std::string>& output_format_names();
OutputFormat parse_output_format(const std::string& name);

// Counts records per status for the summary record.
class StatusCounts {
 public:
  void add(const std::string& status) { ++counts_[status]; }
  std::int64_t total() const;
  std::int64_t count(const std::string& status) const;
  nlohmann::json to_json() const;  // {"ok": 3, "not_found": 1}

 private:
  std::map<std::string, std::int64_t> counts_;
};

class RecordWriter {
 public:
  struct Layout {
    std::string schema;                                              // e.g. "dfscan.probe/1"
    std::function<std::string(const nlohmann::json&)> text;          // one line per record (no newline)
    std::vector<std::string> csv_columns;                            // keys of the record; nested with '.'
    std::function<std::string(const nlohmann::json&)> text_summary;  // optional last text line
  };

  RecordWriter(std::ostream& out, OutputFormat format, Layout layout);

  // JSONL, text and CSV rows are written and flushed at once, so a killed run keeps its lines.
  // `record` gets "type":"file" and the schema when it lacks them, and `path_bytes` when its path
  // is not UTF-8 (exact_path).
  void write(nlohmann::json record);
  // JSONL: a last line marked "type":"summary"; json: the whole document; text: the summary line.
  void finish(nlohmann::json summary);

 private:
  std::ostream& out_;
  OutputFormat format_;
  Layout layout_;
  nlohmann::json buffered_ = nlohmann::json::array();
  bool csv_header_written_ = false;
};

// JSON strings carry UTF-8 only, so a record whose path is not (a Latin-1 file name) is written
// with U+FFFD in `path` and the exact bytes, base64-encoded, in `path_bytes`. This reads the exact
// path back from such a record.
std::string exact_path(const nlohmann::json& record);

// Refuses, before any work, an output whose folder cannot be written (a typo, a read-only disk):
// a command that scores a dataset or trains for hours must not fail at its last step. Creates the
// folder (`path` itself when `is_folder`, else its parent) and any missing parents, and writes and
// removes a file in it. Throws dfscan::Error naming `option`.
void check_writable(const std::filesystem::path& path, bool is_folder, const std::string& option);

// "3 file(s): 2 ok 1 not_found" from a summary holding "files" and "counts" (StatusCounts).
std::string status_summary_line(const nlohmann::json& summary);

// "a,b" -> "\"a,b\"" as RFC 4180 wants; null -> empty; arrays joined with ';'.
std::string csv_field(const nlohmann::json& value);

}  // namespace dfscan::cli
