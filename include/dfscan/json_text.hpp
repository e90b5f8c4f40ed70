#pragma once
// JSON text that never throws on the strings dfscan meets: file names need not be UTF-8 (a
// Latin-1 name on a Linux disk), and nlohmann's dump() throws on such a string, which at the end of
// an evaluation or a training run would lose the whole run. Bytes that are not UTF-8 become
// U+FFFD; scan records also keep the exact bytes (path_bytes).
#include <nlohmann/json.hpp>
#include <string>

namespace dfscan {

template <typename Json>
std::string json_text(const Json& value, int indent = -1) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace dfscan
