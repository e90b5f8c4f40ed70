#include "dfscan/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace dfscan {

void init_logging(int verbosity) {
  auto logger = spdlog::stderr_color_mt("dfscan");
  logger->set_pattern("dfscan: %^%l%$: %v");
  spdlog::set_default_logger(logger);
  auto level = spdlog::level::warn;
  if (verbosity < 0) level = spdlog::level::err;
  if (verbosity == 1) level = spdlog::level::info;
  if (verbosity >= 2) level = spdlog::level::debug;
  if (const char* env = std::getenv("DFSCAN_LOG"); env && *env) level = spdlog::level::from_str(env);
  spdlog::set_level(level);
}

}  // namespace dfscan

namespace dfscan::log {
void debug(const std::string& message) {
  spdlog::debug("{}", message);
}
void info(const std::string& message) {
  spdlog::info("{}", message);
}
void warn(const std::string& message) {
  spdlog::warn("{}", message);
}
void error(const std::string& message) {
  spdlog::error("{}", message);
}
}  // namespace dfscan::log
