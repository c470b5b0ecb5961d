#include "loops/statsd.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <stdexcept>

#include "core/io.hpp"
#include "net/socket.hpp"

namespace nsqd::loops {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A UDP socket connected to `address` (host:port), or nothing: resolution, socket or connect
// failed (a UDP connect only sets the peer; it sends nothing and never waits).
std::optional<net::unique_fd> open_udp(const std::string& address) {
  net::socket_address to;
  try {
    to = net::resolve_tcp_address(address);  // host:port as Go splits it; same for UDP
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
  net::unique_fd fd(::socket(to.storage.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return std::nullopt;
  if (::connect(fd.get(), to.get(), to.length) != 0) return std::nullopt;
  return fd;
}

// One datagram, whatever the loop's cancellation: MSG_DONTWAIT makes it one non-waiting
// attempt, so it ends at once; its result (ECONNREFUSED, EAGAIN, ...) does not matter.
core::task<void> send_datagram(int fd, const std::string& datagram) {
  int sent = co_await core::send(fd, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)sent;
}

// Upstream's SpreadWriter: the datagrams evenly over `span`, the first at once. Returns false
// when cancelled (the rest is then sent at once, as upstream skips the sleeps on exit).
core::task<bool> spread(int fd, const std::vector<std::string>& datagrams, clock::duration span) {
  const clock::time_point start = clock::now();
  const clock::duration step = datagrams.empty() ? span : span / std::ptrdiff_t(datagrams.size());
  bool waiting = span > clock::duration::zero();
  for (std::size_t i = 0; i < datagrams.size(); ++i) {
    co_await core::shielded(send_datagram(fd, datagrams[i]));
    if (!waiting || i + 1 == datagrams.size()) continue;
    clock::duration left = start + step * std::ptrdiff_t(i + 1) - clock::now();
    int slept = co_await core::sleep_for(std::max(left, clock::duration::zero()));
    if (slept == -ECANCELED) waiting = false;
  }
  co_return waiting || span <= clock::duration::zero();
}

struct push_state {
  std::vector<broker::topic_stats> last;  // the stats of the last push that got a socket
};

// One push. Returns false when cancelled on the way.
core::task<bool> push(broker::broker_shard& broker, push_state& state) {
  const config::options& opts = broker.opts();
  std::optional<net::unique_fd> fd = open_udp(opts.statsd_address);
  if (!fd) {
    broker.log().error("failed to create UDP socket to statsd(", opts.statsd_address, ")");
    co_return true;
  }
  broker.log().info("STATSD: pushing stats to ", opts.statsd_address);
  std::vector<broker::topic_stats> now = co_await broker.gather_stats("", "", false);
  statsd_packer packer(opts.statsd_udp_packet_size);
  statsd_stats_lines(packer, opts.statsd_prefix, now, state.last, opts.statsd_exclude_ephemeral);
  state.last = std::move(now);
  if (opts.statsd_mem_stats) statsd_memory_lines(packer, opts.statsd_prefix, read_statsd_memory());
  const std::vector<std::string> datagrams = packer.finish();
  bool finished = co_await spread(fd->get(), datagrams, opts.statsd_interval - 1s);
  co_return finished;
}

}  // namespace

core::task<void> statsd(broker::broker_shard& broker) {
  const clock::duration interval =
      std::chrono::duration_cast<clock::duration>(broker.opts().statsd_interval);
  if (interval <= clock::duration::zero()) {
    // Upstream's ticker panics on this; here statsd is off and the node serves on.
    broker.log().error("STATSD: --statsd-interval must be positive; not pushing");
    co_return;
  }
  push_state state;
  clock::time_point tick = clock::now() + interval;
  for (;;) {
    clock::duration left = tick - clock::now();
    int slept = co_await core::sleep_for(std::max(left, clock::duration::zero()));
    if (slept == -ECANCELED) break;
    bool finished = co_await push(broker, state);
    if (!finished) break;
    // The ticker's grid: the next tick; of the ticks a long push overran, only the last one
    // is kept (Go's ticker holds one), and it fires at once.
    const clock::time_point after = clock::now();
    tick += interval;
    while (tick + interval <= after) tick += interval;
  }
  broker.log().info("STATSD: closing");
}

}  // namespace nsqd::loops
