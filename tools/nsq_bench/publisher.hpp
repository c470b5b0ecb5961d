#pragma once
// One publisher connection: PUB or MPUB batches of stamped bodies until its quota, the
// deadline or a stop, with up to --pipeline commands awaiting their OK, paced by --rate.

#include <cstdint>
#include <optional>
#include <string>

#include "nsq_bench/options.hpp"
#include "nsq_bench/run_state.hpp"

namespace nsqd::nsq_bench {

struct publisher_plan {
  std::uint32_t index = 0;
  std::optional<std::uint64_t> quota;  // messages to publish; nullopt: until the deadline
  std::optional<std::uint64_t> deadline_ns;
  double rate = 0;                     // msgs/s for this connection; 0: as fast as acks allow
  std::uint64_t first_send_ns = 0;     // pacing origin (staggered between publishers)
};

// The PUB or MPUB command for `n` messages of `size` bytes, each body's header written for
// (run, publisher) with sequence 0 and filler after it. `body_offsets` receives where each
// body starts, for stamp_payload().
std::string build_publish(const bench_options& o, std::uint32_t run, std::uint32_t publisher,
                          unsigned n, std::vector<std::size_t>& body_offsets);

// Runs on the calling thread until done; never throws (failures land in error()).
publisher_result run_publisher(const bench_options& o, const publisher_plan& plan,
                               run_state& state);

}  // namespace nsqd::nsq_bench
