#pragma once
// Publish order across a channel's parts (issue 13; DESIGN.md, The broker).
//
// Every message in a channel part's queue carries an order key (message_tag.hpp): the time it
// entered the queue (published, requeued, timed out, due), taken from the shard's turn clock,
// which is never earlier than the arrival of the request being handled. Each part's queue is
// sorted by key. The parts of one channel share a `channel_heads`: one cache line per shard
// holding the key of that part's oldest queued message (a lower bound of it, to be exact).
// A part delivers its oldest message only when no other part advertises an older one; if one
// does, it first fetches the older messages from that part (broker_shard::fetch_older). So
// when the publish of A was answered before the publish of B was sent, A's key is stored
// before B's request arrives, and B (key later still) is not delivered before A.
//
// Why this holds with a cached look at the other parts: a part reads the other heads only now
// and then (`refreshed_at`: a fresh clock read before the loads). A message whose key is not
// after `refreshed_at` arrived before those loads, so every publish answered before it was
// sent had already stored its head: comparing with the cached minimum is enough. A newer
// message makes the part look again. Keys are microseconds: this assumes an answer and the
// next request take longer than a microsecond (a loopback round trip takes tens).
//
// Messages in transit are never invisible: a part giving messages to another (a steal or a
// fetch) first lowers the taker's head to the oldest it gives (`lower`), then raises its own;
// while its transfer lasts the taker only ever lowers its head, and it stores its true head
// once the transfer is over. So the taker reads its own head after the others' heads: read
// before them, a giver could lower it and raise its own in between, and a message in transit
// would be older than everything the taker saw (channel::front_waits_for).
//
// Messages read back from disk carry a disk ticket instead of a key and are not ordered
// against the others (as upstream, which reads memory and disk in random turns): they leave
// their part in disk order.

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>

#include "core/reactor.hpp"

namespace nsqd::broker {

// No queued message: a head later than every key.
inline constexpr std::uint64_t no_head = std::numeric_limits<std::uint64_t>::max();
// Keys stay below the disk-ticket bit (message_tag.hpp): 2^47 µs of uptime, 4.4 years; later
// keys saturate and messages then leave in any order.
inline constexpr std::uint64_t max_order_key = (std::uint64_t(1) << 47) - 1;

inline std::uint64_t order_key_of(std::chrono::steady_clock::time_point t) noexcept {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return std::min<std::uint64_t>(std::uint64_t(std::max<std::int64_t>(us, 0)) + 1, max_order_key);
}
// The key of a message entering a queue on `shard` now.
inline std::uint64_t order_key_now(const core::reactor& shard) noexcept { return order_key_of(shard.turn_time()); }
// A fresh clock read, for `refreshed_at`.
inline std::uint64_t order_key_fresh() noexcept { return order_key_of(std::chrono::steady_clock::now()); }

// Whether (key a on shard sa) goes before (key b on shard sb): older first, lower shard on a tie.
inline bool goes_before(std::uint64_t a, unsigned sa, std::uint64_t b, unsigned sb) noexcept {
  return a < b || (a == b && sa < sb);
}

class channel_heads {
 public:
  explicit channel_heads(unsigned shards) : _slots(std::make_unique<slot[]>(shards)), _count(shards) {}

  unsigned shards() const noexcept { return _count; }
  // By shard `s` only, while no other part is giving it messages.
  void advertise(unsigned s, std::uint64_t key) noexcept { _slots[s].key.store(key, std::memory_order_seq_cst); }
  // To at most `key`: by shard `s` while it takes messages, or by the part giving them to it.
  void lower(unsigned s, std::uint64_t key) noexcept {
    std::uint64_t cur = _slots[s].key.load(std::memory_order_seq_cst);
    while (key < cur && !_slots[s].key.compare_exchange_weak(cur, key, std::memory_order_seq_cst)) {
    }
  }
  std::uint64_t head(unsigned s) const noexcept { return _slots[s].key.load(std::memory_order_seq_cst); }

 private:
  struct alignas(64) slot {
    std::atomic<std::uint64_t> key{no_head};
  };
  std::unique_ptr<slot[]> _slots;
  unsigned _count;
};

}  // namespace nsqd::broker
