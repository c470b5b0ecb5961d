#pragma once
// What the publisher and consumer threads of one run share, and what each hands back.
//
// The runner owns one `run_state` for the whole run and joins every thread before reading
// the results; the atomics are the only data the threads touch concurrently.

#include <atomic>
#include <cstdint>
#include <latch>
#include <string>

#include <openssl/types.h>

#include "nsq_bench/histogram.hpp"
#include "nsq_bench/tracker.hpp"

namespace nsqd::nsq_bench {

struct run_state {
  run_state(std::uint32_t id, std::uint64_t start, std::ptrdiff_t consumers)
      : run_id(id), start_ns(start), subscribed(consumers) {}

  const std::uint32_t run_id;    // stamped in every body this process publishes
  const std::uint64_t start_ns;  // CLOCK_REALTIME when the run began
  SSL_CTX* tls = nullptr;        // --tls: every connection upgrades with it

  std::atomic<bool> stop{false};   // SIGINT/SIGTERM: finish what is in flight and quit
  std::atomic<bool> abort{false};  // a second signal: quit without waiting for answers
  // Each consumer counts down once subscribed (or failed); publishers wait on it, so that
  // in `both` mode the channel exists before the first message.
  std::latch subscribed;

  std::atomic<std::uint64_t> published{0};           // messages acknowledged by nsqd
  std::atomic<bool> publishing_done{false};          // every publisher has returned
  std::atomic<std::uint64_t> publishing_done_ns{0};
  std::atomic<std::uint64_t> received{0};            // message frames, all consumers
  std::atomic<std::uint64_t> fresh{0};               // first sightings of this run's messages
  std::atomic<std::uint64_t> last_receive_ns{0};
};

struct publisher_result {
  std::uint32_t index = 0;
  std::uint64_t acked = 0;      // sequences [0, acked) are acknowledged (OKs come in order)
  std::uint64_t commands = 0;   // PUB/MPUB commands acknowledged
  std::uint64_t first_send_ns = 0;
  std::uint64_t last_ack_ns = 0;
  std::string error;            // empty unless the connection failed
};

struct consumer_result {
  std::uint64_t messages = 0;    // message frames received
  std::uint64_t body_bytes = 0;
  std::uint64_t duplicates = 0;  // seen before by this consumer
  std::uint64_t foreign = 0;     // other runs' messages (both mode) or bodies without a header
  std::uint64_t redelivered = 0; // attempts > 1
  std::uint64_t fin_failed = 0;  // E_FIN_FAILED answers
  std::uint64_t clock_skew = 0;  // timestamps in the future (recorded as latency 0)
  std::uint64_t first_receive_ns = 0;
  std::uint64_t last_receive_ns = 0;
  unsigned rdy = 0;              // RDY actually sent (clamped to max_rdy_count)
  latency_histogram latency;     // publish timestamp in the body -> receive, ns
  sequence_tracker seen;
  std::string error;
};

}  // namespace nsqd::nsq_bench
