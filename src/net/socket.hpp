#pragma once
// Sockets: addresses as upstream spells them, and listening sockets for every shard.
//
// Listeners are bound at start-up on the main thread (so a busy port is reported before
// anything runs) and handed to the shards: one socket per shard on the same address with
// SO_REUSEPORT, so the kernel spreads connections over shards. Before binding them, a probe
// socket without SO_REUSEPORT checks that no other process (even another SO_REUSEPORT user)
// holds the address.

#include <sys/socket.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nsqd::net {

// Owns one file descriptor; closes it on destruction.
class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : _fd(fd) {}
  unique_fd(unique_fd&& o) noexcept : _fd(std::exchange(o._fd, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const noexcept { return _fd; }
  explicit operator bool() const noexcept { return _fd >= 0; }
  int release() noexcept { return std::exchange(_fd, -1); }
  void reset(int fd = -1) noexcept;

 private:
  int _fd = -1;
};

// A resolved TCP address.
struct socket_address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

// "host:port", "[v6]:port" or ":port" (all interfaces), as Go's net.SplitHostPort takes them;
// host names are resolved. Throws std::runtime_error with Go-like wording on failure.
socket_address resolve_tcp_address(const std::string& address);

// What a failed listen reports: upstream's `listen (ADDR) failed - listen tcp ADDR: bind: ...`.
class listen_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// `count` listening TCP sockets on `address`, all bound to the same port (port 0 picks one
// for all). Throws listen_error.
std::vector<unique_fd> listen_tcp(const std::string& address, unsigned count);

// Whether `address` names a unix socket path rather than a TCP "host:port", as upstream's
// TypeOfAddr decides: anything Go's net.SplitHostPort refuses ("/run/nsqd.sock": no port).
bool is_unix_address(const std::string& address);

// `count` descriptors of one listening unix socket at `path`, one per shard (SO_REUSEPORT
// does not apply to unix sockets: the shards share the socket). A file already at `path`, a
// stale socket from a crash included, fails as upstream's Listen does ("bind: address already
// in use"); remove it, or let a clean stop remove it. Throws listen_error.
std::vector<unique_fd> listen_unix(const std::string& path, unsigned count);

// listen_tcp or listen_unix, as the address says.
std::vector<unique_fd> listen_stream(const std::string& address, unsigned count);

// The port a bound socket has, or -1.
int local_port(int fd);

// "ip:port" of the peer (for logs and stats), "" if unknown.
std::string peer_name(int fd);

}  // namespace nsqd::net
