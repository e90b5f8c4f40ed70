#pragma once
// CSV as dfscan reads and writes it: score files, dataset manifests, face-crop cache indexes and
// scan results. One record per line; a field may be double-quoted, with "" for a quote inside.
#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace dfscan::csv {

// The next line of `in` into `line`, counting it in `line_no`: without its line ending (LF or
// CRLF) and, on the first line, without a UTF-8 byte order mark (spreadsheets save one). False at
// the end of the input.
bool read_line(std::istream& in, std::string& line, std::size_t& line_no);

// Splits one record into its fields. A quote opens a quoted field only as a field's first
// character; elsewhere it is an ordinary character, as Python's csv module reads it. Throws
// dfscan::Error (Status::error) for an unterminated quoted field or text after a closing quote;
// the message names neither file nor line, which the caller adds.
std::vector<std::string> split(std::string_view line);
// The same, the error starting "FILE:LINE: ".
std::vector<std::string> split(std::string_view line, const std::string& file, std::size_t line_no);

// `text` as one field: quoted when it holds a comma, a quote or a line break.
std::string field(std::string_view text);

}  // namespace dfscan::csv
