#pragma once
// The statsd push (upstream's statsdLoop), one task on shard 0 when --statsd-address is set.
//
// Every --statsd-interval (on a fixed grid from the start; a push that overran it starts the
// next at once, as Go's ticker buffers one tick):
// - a fresh connected UDP socket to --statsd-address (the host resolved with getaddrinfo at
//   that moment: blocking, instant for numeric addresses); if that fails, ERROR
//   `failed to create UDP socket to statsd(ADDR)` and nothing until the next tick;
// - INFO `STATSD: pushing stats to ADDR`, then every shard's stats (no clients);
// - upstream's lines `<prefix><stat>:<value>|c` (counters: the change since the last push
//   that reached this point, signed; the first push counts from start) and `|g` (gauges),
//   each ending in '\n', with --statsd-prefix as the node resolved it (`nsq.%s` ->
//   `nsq.<host>_<port>.`), names and types as upstream's (src/loops/README.md lists them);
// - the lines packed into datagrams of at most --statsd-udp-packet-size bytes (<= 0: 4096,
//   as Go's bufio) on line boundaries; a single line longer than that is sent alone, whole;
// - the datagrams spread evenly over interval - 1s (all at once when that is <= 0). Sends are
//   io_uring sends with MSG_DONTWAIT on the connected socket: they never wait, and every
//   error (ECONNREFUSED when nothing listens, EAGAIN) is dropped. On shutdown the loop stops
//   waiting, sends what is left of the current push at once (as upstream skips the sleeps
//   but finishes the writes), logs INFO `STATSD: closing` and ends.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.hpp"
#include "broker/stats.hpp"
#include "core/task.hpp"

namespace nsqd::loops {

// Runs until cancelled, on the shard of `broker` (shard 0's part: it gathers every shard).
core::task<void> statsd(broker::broker_shard& broker);

// ---- the pieces of one push (statsd_lines.cpp) -------------------------------------------

// Lines into datagrams, as upstream's BoundaryBufferedWriter over a bufio.Writer: a line that
// does not fit in what is left of the current datagram closes it first; a line longer than
// the whole size goes out alone, whole.
class statsd_packer {
 public:
  explicit statsd_packer(int packet_size);
  // One line, its '\n' included.
  void add(std::string_view line);
  // The datagrams so far (the last one closed); the packer is empty afterwards.
  std::vector<std::string> finish();

 private:
  std::size_t _size;
  std::string _current;
  std::vector<std::string> _done;
};

// This process's memory under upstream's mem.* names where one fits (glibc's mallinfo2;
// README.md of this folder says what each means and which upstream names are not sent).
struct statsd_memory {
  std::int64_t heap_in_use_bytes = 0;
  std::int64_t heap_idle_bytes = 0;
};
statsd_memory read_statsd_memory();

// Adds the topic and channel lines of `now` to `out`; counters relative to `last` (the
// previous push's stats; a topic or channel not in it counts from zero).
void statsd_stats_lines(statsd_packer& out, const std::string& prefix,
                        const std::vector<broker::topic_stats>& now,
                        const std::vector<broker::topic_stats>& last, bool exclude_ephemeral);
// Adds the mem.* gauges.
void statsd_memory_lines(statsd_packer& out, const std::string& prefix, const statsd_memory& mem);

}  // namespace nsqd::loops
