#pragma once
// Sockets passed by a service manager (systemd's socket activation, sd_listen_fds(3)): when
// $LISTEN_PID is this process, $LISTEN_FDS descriptors from fd 3 on, named by
// $LISTEN_FDNAMES (':'-separated; FileDescriptorName= in a .socket unit).
//
//   auto passed = passed_sockets(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
//                                getenv("LISTEN_FDNAMES"), getpid());
//   if (auto fd = take_passed(passed, "tcp", 0)) ...   // in place of binding --tcp-address
//
// nsqd takes sockets named `tcp`, `http` and `https`; a socket with another name (none, or
// systemd's defaults: "unknown", or the .socket unit's name) is taken by position: the first
// for TCP, the second for HTTP, the third for HTTPS. Each is shared by every shard
// (shared_listener()).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "net/socket.hpp"

namespace nsqd::net {

struct passed_socket {
  std::string name;  // as $LISTEN_FDNAMES gives it ("" without one)
  int fd;
};

// The passed sockets, each made close-on-exec; none when the variables are absent, malformed
// or meant for another process.
std::vector<passed_socket> passed_sockets(const char* listen_pid, const char* listen_fds, const char* listen_fdnames,
                                          pid_t self);

// The socket named `name`, or else the one at `position` unless that one is named for another
// listener; nullopt when there is none.
std::optional<int> take_passed(const std::vector<passed_socket>& passed, std::string_view name, std::size_t position);

// `count` descriptors of one passed listening socket, one per shard (duplicates: each shard
// owns and closes its own). Throws listen_error when `fd` is not a listening stream socket.
std::vector<unique_fd> shared_listener(int fd, unsigned count, std::string_view name);

}  // namespace nsqd::net
