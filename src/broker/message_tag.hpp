#pragma once
// What the broker keeps in message::tag (48 bits, model/message.hpp) while a message is in a
// channel part's memory:
//   0            nothing to remember (a key is given when it enters a channel's queue)
//   order key    below bit 47: when the message entered a channel part's queue, in µs of the
//                monotonic clock (ordering.hpp)
//   disk ticket  bit 47 set: the message was read from the disk queue of its channel's part on
//                shard `origin` (bits 35..46), which holds its record under `ticket` (bits
//                0..34) until the broker releases it (FIN): a crash before then reads it again
//                (storage/disk_queue.hpp, crash-safe reads).

#include <cstdint>

#include "model/message.hpp"
#include "model/message_id.hpp"
#include "storage/disk_queue.hpp"

namespace nsqd::broker::message_tag {

inline constexpr std::uint64_t disk_bit = std::uint64_t(1) << 47;
inline constexpr unsigned ticket_bits = storage::disk_queue::ticket_bits;
inline constexpr std::uint64_t ticket_mask = (std::uint64_t(1) << ticket_bits) - 1;
static_assert(ticket_bits + 12 <= 47, "origin shard and ticket fit below the disk bit");
static_assert(message_id_generator::max_shard_count <= 4096, "origin shard fits in 12 bits");

inline std::uint64_t disk_ticket(unsigned origin, std::uint64_t ticket) noexcept {
  return disk_bit | (std::uint64_t(origin) << ticket_bits) | (ticket & ticket_mask);
}
inline bool is_disk_ticket(std::uint64_t tag) noexcept { return (tag & disk_bit) != 0; }
inline unsigned origin(std::uint64_t tag) noexcept { return unsigned((tag & ~disk_bit) >> ticket_bits); }
inline std::uint64_t ticket(std::uint64_t tag) noexcept { return tag & ticket_mask; }

}  // namespace nsqd::broker::message_tag
