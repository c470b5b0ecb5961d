#pragma once
// Signals through signalfd, read by a task like any other I/O.
//
// main() calls block_stop_signals() before any thread starts, so every shard inherits the
// mask and no thread is ever interrupted; then a task on shard 0 waits:
//   core::signal_watch signals;            // SIGTERM, SIGINT, SIGHUP
//   int sig = co_await signals.next();     // the signal number, or -errno (-ECANCELED on stop)

#include "core/task.hpp"

namespace nsqd::core {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and ignores SIGPIPE.
void block_stop_signals();

class signal_watch {
 public:
  signal_watch();  // throws std::system_error if signalfd fails
  ~signal_watch();
  signal_watch(const signal_watch&) = delete;
  signal_watch& operator=(const signal_watch&) = delete;

  task<int> next();

 private:
  int _fd;
};

}  // namespace nsqd::core
