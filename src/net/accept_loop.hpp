#pragma once
// The accept loop every listener of a shard runs: a multishot accept on the shard's own
// SO_REUSEPORT socket, one client coroutine per connection in a task group. Runs until the
// caller is cancelled, then ends every client (their I/O is cancelled) and waits for them.
// Accept failures (out of descriptors, memory) are logged and retried after a pause, as
// upstream keeps its listener alive.

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/io.hpp"
#include "core/log.hpp"
#include "core/syscheck.hpp"
#include "core/task_group.hpp"

namespace nsqd::net {

// make_client(fd) -> core::task<void>; it owns the fd.
template <class MakeClient>
core::task<void> accept_loop(int listener_fd, const core::logger& log, const char* label,
                             MakeClient make_client) {
  core::task_group clients{co_await core::this_context()};
  core::accept_stream acceptor(listener_fd);
  for (;;) {
    int fd = co_await acceptor.next();
    if (fd >= 0) {
      clients.spawn(make_client(fd));
      continue;
    }
    if (fd == -ECANCELED) break;
    log.error(label, ": accept failed - ", std::strerror(-fd), core::descriptor_limit_note(fd));
    int slept = co_await core::sleep_for(std::chrono::milliseconds(100));
    if (slept == -ECANCELED) break;
  }
  clients.cancel();
  co_await clients.join();
}

}  // namespace nsqd::net
