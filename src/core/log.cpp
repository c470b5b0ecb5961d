#include "core/log.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace nsqd::core {

std::string_view to_string(log_level l) noexcept {
  switch (l) {
    case log_level::debug: return "DEBUG";
    case log_level::info: return "INFO";
    case log_level::warn: return "WARNING";
    case log_level::error: return "ERROR";
    case log_level::fatal: return "FATAL";
  }
  return "?";
}

void logger::write_line(log_level l, std::string_view text) const {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm local{};
  localtime_r(&tv.tv_sec, &local);
  char stamp[40];
  int n = std::snprintf(stamp, sizeof stamp, "%04d/%02d/%02d %02d:%02d:%02d.%06ld ",
                        local.tm_year + 1900, local.tm_mon + 1, local.tm_mday, local.tm_hour,
                        local.tm_min, local.tm_sec, long(tv.tv_usec));
  std::string line;
  line.reserve(_prefix.size() + size_t(n) + text.size() + 12);
  line.append(_prefix).append(stamp, size_t(n)).append(to_string(l)).append(": ").append(text);
  line.push_back('\n');
  // One write per line; a short write on a pipe or terminal is finished, errors are dropped.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t w = ::write(_fd, p, left);
    if (w <= 0) break;
    p += w;
    left -= size_t(w);
  }
}

}  // namespace nsqd::core
