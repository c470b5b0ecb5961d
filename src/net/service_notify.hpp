#pragma once
// systemd's service notification protocol (sd_notify(3)) without libsystemd: datagrams of
// `KEY=VALUE` lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or `@name` in the
// abstract namespace). nsqd sends READY=1 once it serves, STATUS= lines a person can read
// (`systemctl status`), STOPPING=1 at SIGTERM/SIGINT, and WATCHDOG=1 (loops/watchdog.hpp).
//
//   service_notifier systemd(getenv("NOTIFY_SOCKET") ? getenv("NOTIFY_SOCKET") : "");
//   systemd.notify("READY=1\nSTATUS=serving");   // a no-op when not run by systemd
//
// The socket is made once, non-blocking; a send never waits (a datagram to a local socket is
// queued or refused at once), so it may be called on a shard.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <sys/types.h>

#include "net/socket.hpp"

namespace nsqd::net {

class service_notifier {
 public:
  // `socket_path`: $NOTIFY_SOCKET; empty when there is no service manager to tell.
  explicit service_notifier(std::string socket_path = {});

  bool enabled() const noexcept { return !_path.empty(); }
  // Sends `state` (lines without a trailing '\n'). False when disabled or not sent.
  bool notify(std::string_view state) const;

 private:
  std::string _path;
  unique_fd _fd;
};

// The keep-alive interval systemd asks for: $WATCHDOG_USEC (microseconds, > 0), when
// $WATCHDOG_PID is unset or names `self` (sd_watchdog_enabled(3)); nullopt otherwise.
std::optional<std::chrono::microseconds> watchdog_interval(const char* watchdog_usec, const char* watchdog_pid,
                                                           pid_t self);

}  // namespace nsqd::net
