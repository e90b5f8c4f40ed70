#pragma once
// Small text helpers shared by the layers and the CLI.
#include <string>
#include <string_view>
#include <vector>

namespace dfscan {

// `text` cut at every `separator`, empty parts included: "a,,b" -> {"a", "", "b"}, "" -> {""}.
// (Quoted fields are csv::split's.)
std::vector<std::string> split_on(std::string_view text, char separator);

// A time span for people: "45s", "5m20s", "2h05m".
std::string format_duration(double seconds);

// Strict UTF-8: no overlong forms, surrogates or code points above U+10FFFF.
bool valid_utf8(std::string_view text);

// Standard base64 (RFC 4648, with padding), for bytes that JSON strings cannot carry, such as a
// file name that is not UTF-8. base64_decode throws std::invalid_argument on malformed input.
std::string base64_encode(std::string_view bytes);
std::string base64_decode(std::string_view text);

}  // namespace dfscan
