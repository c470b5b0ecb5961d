#pragma once
// Outbound TCP connects on our loop (the HTTP client, lookupd peers).
//
//   unique_fd fd;
//   int r = co_await connect_stream(resolve_tcp_address("127.0.0.1:4160"), 1s, fd);  // 0 or -errno

#include <chrono>
#include <optional>

#include "core/task.hpp"
#include "net/socket.hpp"

namespace nsqd::net {

// Connects a fresh socket (close-on-exec) to `addr` within `timeout` (none = unbounded; zero
// or less fails at once with -ETIMEDOUT): 0 with `fd` set, or -errno with `fd` empty.
core::task<int> connect_stream(const socket_address& addr, std::optional<std::chrono::nanoseconds> timeout,
                               unique_fd& fd);

}  // namespace nsqd::net
