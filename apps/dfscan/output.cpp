#include "output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "dfscan/csv.hpp"
#include "dfscan/json_text.hpp"
#include "dfscan/status.hpp"
#include "dfscan/text.hpp"

namespace dfscan::cli {

const std::vector<std::string>& output_format_names() {
  static const std::vector<std::string> names{"text", "json", "jsonl", "csv"};
  return names;
}

OutputFormat parse_output_format(const std::string& name) {
  if (name == "text") return OutputFormat::text;
  if (name == "json") return OutputFormat::json;
  if (name == "jsonl") return OutputFormat::jsonl;
  if (name == "csv") return OutputFormat::csv;
  throw std::invalid_argument("unknown output format: " + name);
}

std::int64_t StatusCounts::total() const {
  std::int64_t n = 0;
  for (const auto& [status, count] : counts_) n += count;
  return n;
}

std::int64_t StatusCounts::count(const std::string& status) const {
  auto it = counts_.find(status);
  return it == counts_.end() ? 0 : it->second;
}

nlohmann::json StatusCounts::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [status, count] : counts_) j[status] = count;
  return j;
}

std::string csv_field(const nlohmann::json& value) {
  std::string text;
  if (value.is_null()) return text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (i) text += ';';
      text += value[i].is_string() ? value[i].get<std::string>() : value[i].dump();
    }
  } else {
    text = value.dump();
  }
  return csv::field(text);
}

std::string exact_path(const nlohmann::json& record) {
  if (auto bytes = record.find("path_bytes"); bytes != record.end() && bytes->is_string()) {
    try {
      return base64_decode(bytes->get<std::string>());
    } catch (const std::invalid_argument&) {
      // A hand-edited record: fall back to the readable path.
    }
  }
  return record.value("path", "");
}

void check_writable(const std::filesystem::path& path, bool is_folder, const std::string& option) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!is_folder && fs::is_directory(path, ec))
    throw Error(Status::error, option + ": " + path.string() + " is a folder, not a file");
  const fs::path folder = is_folder ? path : (path.has_parent_path() ? path.parent_path() : fs::path("."));
  fs::create_directories(folder, ec);
  if (ec) throw Error(Status::error, option + ": cannot create " + folder.string() + ": " + ec.message());
  // Permission bits do not tell (root, read-only mounts, /proc): write a file and remove it.
  const auto probe = folder / (".dfscan-write-check-" + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    throw Error(Status::permission_denied,
                option + ": cannot write in " + folder.string() + ": " + std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

std::string status_summary_line(const nlohmann::json& summary) {
  std::string line = std::to_string(summary["files"].get<std::int64_t>()) + " file(s):";
  for (const auto& [status, count] : summary["counts"].items()) line += " " + count.dump() + " " + status;
  return line;
}

RecordWriter::RecordWriter(std::ostream& out, OutputFormat format, Layout layout)
    : out_(out), format_(format), layout_(std::move(layout)) {}

void RecordWriter::write(nlohmann::json record) {
  if (!record.contains("type")) record["type"] = "file";
  if (!record.contains("schema") && !layout_.schema.empty()) record["schema"] = layout_.schema;
  if (auto path = record.find("path"); path != record.end() && path->is_string()) {
    const auto& bytes = path->get_ref<const std::string&>();
    if (!valid_utf8(bytes)) record["path_bytes"] = base64_encode(bytes);
  }
  switch (format_) {
    case OutputFormat::jsonl:
      out_ << json_text(record) << '\n' << std::flush;
      break;
    case OutputFormat::json:
      buffered_.push_back(std::move(record));
      break;
    case OutputFormat::text:
      out_ << (layout_.text ? layout_.text(record) : json_text(record)) << '\n' << std::flush;
      break;
    case OutputFormat::csv: {
      if (!csv_header_written_) {
        for (std::size_t i = 0; i < layout_.csv_columns.size(); ++i)
          out_ << (i ? "," : "") << csv_field(layout_.csv_columns[i]);
        out_ << '\n';
        csv_header_written_ = true;
      }
      for (std::size_t i = 0; i < layout_.csv_columns.size(); ++i) {
        // "a.b" reaches into nested objects.
        const nlohmann::json* value = &record;
        std::string key = layout_.csv_columns[i];
        std::size_t from = 0;
        while (value && value->is_object()) {
          auto dot = key.find('.', from);
          auto part = key.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
          auto it = value->find(part);
          value = it == value->end() ? nullptr : &*it;
          if (dot == std::string::npos) break;
          from = dot + 1;
        }
        out_ << (i ? "," : "") << (value ? csv_field(*value) : std::string());
      }
      out_ << '\n' << std::flush;
      break;
    }
  }
}

void RecordWriter::finish(nlohmann::json summary) {
  summary["type"] = "summary";
  if (!layout_.schema.empty()) summary["schema"] = layout_.schema;
  switch (format_) {
    case OutputFormat::jsonl:
      out_ << json_text(summary) << '\n' << std::flush;
      break;
    case OutputFormat::json: {
      nlohmann::json doc;
      doc["schema"] = layout_.schema;
      doc["results"] = std::move(buffered_);
      doc["summary"] = std::move(summary);
      out_ << json_text(doc, 2) << '\n' << std::flush;
      buffered_ = nlohmann::json::array();
      break;
    }
    case OutputFormat::text:
      if (layout_.text_summary) out_ << layout_.text_summary(summary) << '\n' << std::flush;
      break;
    case OutputFormat::csv:
      out_ << std::flush;  // a CSV holds file rows only
      break;
  }
}

}  // namespace dfscan::cli
