#include "dfscan/status.hpp"

#include <array>
#include <utility>

namespace dfscan {
namespace {
constexpr std::array<std::pair<Status, const char*>, 11> kNames{{
    {Status::ok, "ok"},
    {Status::no_face, "no_face"},
    {Status::not_scored, "not_scored"},
    {Status::empty, "empty"},
    {Status::truncated, "truncated"},
    {Status::decode_error, "decode_error"},
    {Status::unsupported, "unsupported"},
    {Status::too_large, "too_large"},
    {Status::not_found, "not_found"},
    {Status::permission_denied, "permission_denied"},
    {Status::error, "error"},
}};
}  // namespace

const char* to_string(Status status) {
  for (const auto& [s, name] : kNames)
    if (s == status) return name;
  return "error";
}

std::optional<Status> status_from_string(std::string_view name) {
  for (const auto& [s, n] : kNames)
    if (name == n) return s;
  return std::nullopt;
}

bool is_failure(Status status) {
  return status != Status::ok && status != Status::no_face && status != Status::not_scored;
}

Error::Error(Status status, const std::string& message)
    : std::runtime_error(one_line(message)), status_(status) {}

std::string one_line(std::string_view message) {
  // c10::Error messages end with "Exception raised from ..." and a stack trace.
  auto cut = message.find("Exception raised from");
  if (cut != std::string_view::npos) message = message.substr(0, cut);
  std::string out;
  out.reserve(message.size());
  bool space = false;
  for (char c : message) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace dfscan
