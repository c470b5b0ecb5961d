#pragma once
// The two servers under comparison. Both have the same shape: one thread per listening socket
// (all on one port, SO_REUSEPORT), accepting connections and echoing fixed-size messages:
// read exactly `size` bytes, write them back, repeat until the peer hangs up. Each
// connection owns one `size`-byte buffer, allocated when it is accepted; nothing is allocated
// or copied per message.
//
// - epoll: per thread, a nonblocking epoll loop (level-triggered by default; edge-triggered
//   with `edge_triggered`, which costs one extra recv per message to see EAGAIN).
// - reactor: core::runtime with one shard per listener; per shard, a multishot accept_stream
//   and one coroutine per connection in a task_group, on core::recv / core::send (or, as
//   experiments, a POLL_FIRST recv or a multishot recv on a buffer ring: options.hpp).
//
// A server starts in its factory and runs on its own threads until stop(). The listeners stay
// owned by the caller and must outlive the server.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "bench/options.hpp"
#include "bench/sockets.hpp"

namespace nsqd::bench {

// The reactor's own counters summed over its shards (zero for the epoll server).
struct reactor_totals {
  uint64_t loop_turns = 0;
  uint64_t enters = 0;  // io_uring_enter calls made by the loop
  uint64_t cqes = 0;
  uint64_t resumes = 0;
};

class echo_server {
 public:
  virtual ~echo_server() = default;
  // Stops every server thread and joins it; rethrows the first error a thread hit.
  // Call once; the destructor calls it if nobody did (swallowing errors).
  virtual void stop() = 0;
  // Valid after stop().
  virtual reactor_totals totals() const = 0;
};

// `spin` (an experiment): the server threads never sleep. epoll polls with a zero timeout;
// the reactor keeps a coroutine on its run queue that only yields, so each loop turn enters
// the kernel without waiting.
std::unique_ptr<echo_server> start_epoll_server(const listeners& l, size_t size,
                                                bool edge_triggered, bool spin = false);
std::unique_ptr<echo_server> start_reactor_server(const listeners& l, size_t size,
                                                  recv_kind recv = recv_kind::plain,
                                                  bool spin = false);

}  // namespace nsqd::bench
