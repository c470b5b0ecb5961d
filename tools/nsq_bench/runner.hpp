#pragma once
// run(): one benchmark. Starts the consumer threads, waits until they have subscribed, starts
// the publisher threads, prints a progress line per second on stderr, stops everything on
// SIGINT/SIGTERM (taken with sigtimedwait on the calling thread: no handler, no global), joins,
// and folds the per-connection results into a summary.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nsq_bench/histogram.hpp"
#include "nsq_bench/options.hpp"

namespace nsqd::nsq_bench {

struct bench_summary {
  std::uint32_t run_id = 0;
  bool interrupted = false;

  // Publishing (pub and both modes).
  std::uint64_t published = 0;      // messages acknowledged
  std::uint64_t pub_commands = 0;
  std::uint64_t pub_window_ns = 0;  // first send .. last OK over all publishers

  // Consuming (sub and both modes).
  std::uint64_t received = 0;       // message frames
  std::uint64_t received_bytes = 0; // bodies
  std::uint64_t sub_window_ns = 0;  // first .. last message over all consumers
  std::uint64_t unique = 0;         // distinct (run, publisher, sequence) of tracked messages
  std::uint64_t duplicates = 0;     // tracked messages received more than once
  // both: acknowledged but never received; sub with --count: how many short of it; else none.
  std::optional<std::uint64_t> lost;
  std::uint64_t foreign = 0;
  std::uint64_t redelivered = 0;
  std::uint64_t fin_failed = 0;
  std::uint64_t clock_skew = 0;
  unsigned rdy = 0;                 // RDY used (after clamping), first consumer
  latency_histogram latency;

  std::vector<std::string> errors;  // "publisher 0: ...", "consumer 2: ..."
};

// Throws only if threads cannot be started.
bench_summary run(const bench_options& o);

}  // namespace nsqd::nsq_bench
