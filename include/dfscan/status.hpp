#pragma once
// Per-file status (CONVENTIONS.md) and the library's one exception type.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dfscan {

// Exactly one per input file; independent of the score.
enum class Status {
  ok,
  no_face,
  not_scored,
  empty,
  truncated,
  decode_error,
  unsupported,
  too_large,
  not_found,
  permission_denied,
  error,
};

const char* to_string(Status status);
std::optional<Status> status_from_string(std::string_view name);

// True for statuses that mean the file could not be scanned (exit code 2).
bool is_failure(Status status);

// Thrown inside the library; caught at the API boundary and turned into a per-file status.
// The message is always a single line.
class Error : public std::runtime_error {
 public:
  Error(Status status, const std::string& message);
  Status status() const noexcept { return status_; }

 private:
  Status status_;
};

// Collapses a multi-line message (c10::Error carries a stack trace) into its first meaningful line.
std::string one_line(std::string_view message);

}  // namespace dfscan
