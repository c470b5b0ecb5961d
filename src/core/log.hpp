#pragma once
// logger: upstream's log lines, `[nsqd] 2026/11/23 10:21:33.123456 INFO: text`.
//
// One logger is made by main and passed by reference to whatever logs. Every shard may log:
// a line is formatted on the caller's stack and written with one write(2), so lines from
// different shards never interleave. The level can change at run time (PUT /config/log_level).

#include <atomic>
#include <sstream>
#include <string>
#include <string_view>

namespace nsqd::core {

enum class log_level { debug = 1, info = 2, warn = 3, error = 4, fatal = 5 };

std::string_view to_string(log_level l) noexcept;

class logger {
 public:
  explicit logger(std::string prefix = "[nsqd] ", log_level level = log_level::info, int fd = 2)
      : _prefix(std::move(prefix)), _level(int(level)), _fd(fd) {}

  // const: the level is the one thing about a logger that changes, and it is atomic.
  void set_level(log_level l) const noexcept { _level.store(int(l), std::memory_order_relaxed); }
  log_level level() const noexcept { return log_level(_level.load(std::memory_order_relaxed)); }
  bool enabled(log_level l) const noexcept { return int(l) >= _level.load(std::memory_order_relaxed); }

  // log(level, a, b, c): the arguments are streamed with operator<< into one line.
  template <class... Args>
  void log(log_level l, const Args&... args) const {
    if (!enabled(l)) return;
    std::ostringstream os;
    (os << ... << args);
    write_line(l, os.str());
  }
  template <class... Args> void debug(const Args&... a) const { log(log_level::debug, a...); }
  template <class... Args> void info(const Args&... a) const { log(log_level::info, a...); }
  template <class... Args> void warn(const Args&... a) const { log(log_level::warn, a...); }
  template <class... Args> void error(const Args&... a) const { log(log_level::error, a...); }
  // FATAL is logged whatever the level: it explains why the process exits.
  template <class... Args>
  void fatal(const Args&... args) const {
    std::ostringstream os;
    (os << ... << args);
    write_line(log_level::fatal, os.str());
  }

 private:
  void write_line(log_level l, std::string_view text) const;

  std::string _prefix;
  mutable std::atomic<int> _level;
  int _fd;
};

}  // namespace nsqd::core
