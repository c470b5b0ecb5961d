#pragma once
// Message ids (SPEC B.2): a 64-bit id sent and stored as 16 lowercase hex characters, and the
// per-(topic, shard) generator that makes them.
//
// Id layout, upstream-compatible (upstream's guidFactory with 10 node bits):
//
//   bit 63 ........ 22 | 21 ...... 12 | 11 ............................ 0
//   ticks (42 bits)    | node_id (10) | shard (shard_bits) | seq (12 - shard_bits)
//
//   ticks    = (unix_ns >> 20) - 1288834974288   (units of 2^20 ns ~ 1.05 ms since upstream's
//              epoch, 2010-11-04; 42 bits last until about 2150)
//   node_id  = --node-id, 0..1023
//   shard    = the generating shard's index; shard_bits = bit_width(shard_count - 1), so one
//              shard uses all 12 low bits for its sequence like upstream
//   seq      = per-tick sequence, restarting at 0 when the tick advances
//
// Uniqueness: within one process the shard field separates the shards of a topic, and each
// generator's ids strictly increase. Where upstream sleeps 1 ms when a tick's sequence runs
// out (or the clock steps back), a generator instead advances its own logical tick: it never
// goes backwards and may run ahead of the clock during bursts above 2^seq_bits ids per tick,
// falling back in step once the clock catches up. Across restarts ids stay unique provided
// the new process starts after the clock has passed the old one's last logical tick (a burst
// of 1M ids on one shard of four runs ~1 s ahead), and the clock did not step back meanwhile.
// As upstream, different topics may produce equal ids.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string_view>

namespace nsqd {

// 16 id bytes as on the wire. Ids this server makes are lowercase hex of the raw id, and for
// those the byte order (operator<=>) is the numeric order; ids read from clients or disk are
// only required to be 16 bytes (upstream does not validate the hex).
struct message_id {
  std::array<char, 16> hex{};

  // Lowercase hex of `raw`, most significant nibble first.
  static message_id from_raw(std::uint64_t raw);
  // Any 16 bytes (FIN/REQ/TOUCH arguments, disk records); nullopt if the size is not 16.
  static std::optional<message_id> from_bytes(std::string_view bytes);
  // The raw id, or nullopt unless all 16 bytes are lowercase hex digits.
  std::optional<std::uint64_t> raw() const;

  std::string_view view() const { return {hex.data(), hex.size()}; }

  // Two 8-byte compares (the defaulted one called memcmp: each FIN compares ids).
  friend bool operator==(const message_id& a, const message_id& b) noexcept {
    std::uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, a.hex.data(), 8);
    std::memcpy(&a1, a.hex.data() + 8, 8);
    std::memcpy(&b0, b.hex.data(), 8);
    std::memcpy(&b1, b.hex.data() + 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  friend std::strong_ordering operator<=>(const message_id&, const message_id&) = default;
};

// Hash for unordered containers keyed by id (mixes all 16 bytes; ids are sequential). Inline:
// each FIN looks one up.
struct message_id_hash {
  using is_avalanching = void;  // (boost::unordered_flat_map: no extra mixing needed)
  std::size_t operator()(const message_id& id) const noexcept {
    std::uint64_t a, b;
    std::memcpy(&a, id.hex.data(), 8);
    std::memcpy(&b, id.hex.data() + 8, 8);
    return static_cast<std::size_t>(mix(a ^ mix(b)));
  }
  static constexpr std::uint64_t mix(std::uint64_t x) noexcept {  // splitmix64's finalizer
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
  }
};

// Makes the ids of one topic on one shard. Owned by that topic's state on that shard and used
// only there (not thread-safe). Time comes in as a parameter, so tests are deterministic.
class message_id_generator {
 public:
  static constexpr std::int64_t epoch_ticks = 1288834974288;  // upstream's twepoch
  static constexpr unsigned tick_shift = 22;
  static constexpr unsigned node_shift = 12;
  static constexpr std::uint32_t max_node_id = 1023;
  static constexpr std::uint32_t max_shard_count = 4096;

  // Throws std::invalid_argument unless node_id <= 1023, 1 <= shard_count <= 4096 and
  // shard < shard_count.
  message_id_generator(std::uint32_t node_id, std::uint32_t shard, std::uint32_t shard_count);

  // The next id given the wall clock `now_unix_ns` (ns since the Unix epoch). Strictly
  // greater than every id this generator returned before, whatever `now_unix_ns` does.
  std::uint64_t next_raw(std::int64_t now_unix_ns);
  message_id next(std::int64_t now_unix_ns) { return message_id::from_raw(next_raw(now_unix_ns)); }

  // Ticks since upstream's epoch for a wall-clock time (clamped at 0 for times before it).
  static std::int64_t ticks_of(std::int64_t unix_ns);

  unsigned shard_bits() const { return _shard_bits; }
  // Ids one generator can make per tick before it runs ahead of the clock: 2^(12-shard_bits).
  std::uint32_t ids_per_tick() const { return _seq_limit; }
  // The logical tick of the last id made (-1 before the first).
  std::int64_t last_tick() const { return _tick; }

 private:
  std::uint64_t _low_fixed;  // node and shard fields, already shifted
  unsigned _shard_bits;
  std::uint32_t _seq_limit;
  std::int64_t _tick = -1;
  std::uint32_t _seq = 0;
};

}  // namespace nsqd

template <>
struct std::hash<nsqd::message_id> : nsqd::message_id_hash {};
