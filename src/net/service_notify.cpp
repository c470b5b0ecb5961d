#include "net/service_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "go/go_syntax.hpp"

namespace nsqd::net {

service_notifier::service_notifier(std::string socket_path) : _path(std::move(socket_path)) {
  // Only a path ("/run/...") or an abstract name ("@...") is a socket we can reach.
  if (_path.empty() || (_path[0] != '/' && _path[0] != '@') || _path.size() >= sizeof(sockaddr_un::sun_path)) {
    _path.clear();
    return;
  }
  _fd.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!_fd) _path.clear();
}

bool service_notifier::notify(std::string_view state) const {
  if (!enabled()) return false;
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::memcpy(to.sun_path, _path.data(), _path.size());
  socklen_t length = socklen_t(offsetof(sockaddr_un, sun_path) + _path.size());
  if (_path[0] == '@') {
    to.sun_path[0] = '\0';  // abstract namespace: no terminating NUL counted
  } else {
    length += 1;
  }
  const ssize_t sent = ::sendto(_fd.get(), state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                                reinterpret_cast<const sockaddr*>(&to), length);
  return sent == ssize_t(state.size());
}

std::optional<std::chrono::microseconds> watchdog_interval(const char* watchdog_usec, const char* watchdog_pid,
                                                           pid_t self) {
  if (!watchdog_usec) return std::nullopt;
  std::int64_t usec = 0;
  if (go::parse_int(watchdog_usec, 10, usec) != go::num_error::none || usec <= 0) return std::nullopt;
  if (watchdog_pid && *watchdog_pid) {
    std::int64_t pid = 0;
    if (go::parse_int(watchdog_pid, 10, pid) != go::num_error::none || pid != self) return std::nullopt;
  }
  return std::chrono::microseconds(usec);
}

}  // namespace nsqd::net
