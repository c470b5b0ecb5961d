#pragma once
// The bench message body: a fixed header the consumer decodes, then filler up to --size.
//
//   [u64 BE publish time, ns, CLOCK_REALTIME][u32 BE run id][u32 BE publisher][u64 BE sequence]
//   [filler bytes]
//
// CLOCK_REALTIME so that a `--mode=pub` and a `--mode=sub` process (even on two synced hosts)
// share the clock. The run id is random per process: a `both` run ignores messages left on the
// topic by earlier runs. Sequence numbers are per publisher, 0, 1, 2, ... in publish order.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace nsqd::nsq_bench {

inline constexpr std::size_t payload_header_size = 24;

struct payload_header {
  std::uint64_t timestamp_ns = 0;
  std::uint32_t run_id = 0;
  std::uint32_t publisher = 0;
  std::uint64_t sequence = 0;
};

// Writes the header to out[0..24); the caller owns a buffer of at least that size.
void write_payload_header(char* out, const payload_header& h);
// Rewrites only the timestamp and sequence of a header already written (the hot path).
void stamp_payload(char* out, std::uint64_t timestamp_ns, std::uint64_t sequence);
// The header of a received body, or nullopt if the body is shorter than a header.
std::optional<payload_header> read_payload_header(std::string_view body);

// Nanoseconds since the epoch, CLOCK_REALTIME.
std::uint64_t now_ns();

}  // namespace nsqd::nsq_bench
