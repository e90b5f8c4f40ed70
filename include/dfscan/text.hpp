#pragma once
// Small text helpers shared by the layers and the CLI.
#include <string>
#include <string_view>
#include <vector>

namespace dfscan {

// `text` cut at every `separator`, empty parts included: "a,,b" -> {"a", "", "b"}, "" -> {""}.
// (Quoted fields are csv::split's.)
std::vector<std::string> split_on(std::string_view text, char separator);

}  // namespace dfscan
