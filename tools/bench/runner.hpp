#pragma once
// One measurement: a fresh server of one kind on a fresh port, the load client against it,
// a warm-up, then a timed window. Everything is started and stopped inside run_once.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "bench/echo_server.hpp"
#include "bench/options.hpp"

namespace nsqd::bench {

struct sample {
  double rate = 0;           // round trips per second in the timed window
  double server_cpu = 0;     // CPU seconds per wall second used by the server's threads
  double client_cpu = 0;     // the same for the client's threads
  double others_cpu = 0;     // the rest of the machine (other processes, other containers)
  uint64_t round_trips = 0;  // from the first connect to stop (warm-up included)
  reactor_totals totals;     // the reactor's counters over the same span (zero for epoll)
  bool noisy = false;        // others_cpu stayed above o.max_other_load after every retry
};

sample run_once(server_kind kind, unsigned connections, size_t size, const bench_options& o);

// run_once, repeated while the rest of the machine used more than o.max_other_load CPUs
// during the window (other engineers compiling): waits for a quiet second (up to
// o.patience) before each retry, and gives up after three tries, marking the sample noisy.
sample measure(server_kind kind, unsigned connections, size_t size, const bench_options& o);

// Busy CPU time of the whole machine so far (all CPUs, from /proc/stat), or 0 if unknown.
std::chrono::nanoseconds machine_cpu();

// --serve: one server on o.port (0: any) for o.duration; prints its port first, then, at the
// end, the reactor's counters. --connect: the client alone for warm-up + duration; prints
// its rate. Both write to stdout and return the process exit code.
int serve_alone(const bench_options& o);
int connect_alone(const bench_options& o);

}  // namespace nsqd::bench
