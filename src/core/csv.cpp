#include "dfscan/csv.hpp"

#include "dfscan/status.hpp"

namespace dfscan::csv {

bool read_line(std::istream& in, std::string& line, std::size_t& line_no) {
  if (!std::getline(in, line)) return false;
  ++line_no;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line_no == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
  return true;
}

std::vector<std::string> split(std::string_view line) {
  std::vector<std::string> fields;
  std::size_t i = 0;
  while (true) {
    std::string value;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] != '"') {
          value += line[i++];
        } else if (i + 1 < line.size() && line[i + 1] == '"') {
          value += '"';
          i += 2;
        } else {
          ++i;
          closed = true;
          break;
        }
      }
      if (!closed) throw Error(Status::error, "unterminated quoted field");
      if (i < line.size() && line[i] != ',') throw Error(Status::error, "text after a closing quote");
    } else {
      while (i < line.size() && line[i] != ',') value += line[i++];
    }
    fields.push_back(std::move(value));
    if (i >= line.size()) return fields;
    ++i;  // the comma
  }
}

std::vector<std::string> split(std::string_view line, const std::string& file, std::size_t line_no) {
  try {
    return split(line);
  } catch (const Error& e) {
    throw Error(e.status(), file + ":" + std::to_string(line_no) + ": " + e.what());
  }
}

std::string field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

}  // namespace dfscan::csv
