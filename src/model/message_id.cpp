#include "model/message_id.hpp"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace nsqd {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

}  // namespace

message_id message_id::from_raw(std::uint64_t raw) {
  message_id id;
  for (int i = 15; i >= 0; --i, raw >>= 4) id.hex[static_cast<std::size_t>(i)] = hex_digits[raw & 0xf];
  return id;
}

std::optional<message_id> message_id::from_bytes(std::string_view bytes) {
  if (bytes.size() != 16) return std::nullopt;
  message_id id;
  std::memcpy(id.hex.data(), bytes.data(), 16);
  return id;
}

std::optional<std::uint64_t> message_id::raw() const {
  std::uint64_t v = 0;
  for (const char c : hex) {
    unsigned d;
    if (c >= '0' && c <= '9')
      d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = static_cast<unsigned>(c - 'a' + 10);
    else
      return std::nullopt;
    v = (v << 4) | d;
  }
  return v;
}

message_id_generator::message_id_generator(std::uint32_t node_id, std::uint32_t shard,
                                           std::uint32_t shard_count) {
  if (node_id > max_node_id) throw std::invalid_argument("message id: node id must be 0..1023");
  if (shard_count < 1 || shard_count > max_shard_count)
    throw std::invalid_argument("message id: shard count must be 1..4096");
  if (shard >= shard_count) throw std::invalid_argument("message id: shard out of range");
  _shard_bits = static_cast<unsigned>(std::bit_width(shard_count - 1));
  const unsigned seq_bits = node_shift - _shard_bits;
  _seq_limit = std::uint32_t{1} << seq_bits;
  _low_fixed = (std::uint64_t{node_id} << node_shift) | (std::uint64_t{shard} << seq_bits);
}

std::int64_t message_id_generator::ticks_of(std::int64_t unix_ns) {
  const std::int64_t t = (unix_ns >> 20) - epoch_ticks;
  return t < 0 ? 0 : t;
}

std::uint64_t message_id_generator::next_raw(std::int64_t now_unix_ns) {
  const std::int64_t t = ticks_of(now_unix_ns);
  if (t > _tick) {
    _tick = t;
    _seq = 0;
  } else if (++_seq == _seq_limit) {  // sequence spent (or clock behind): run ahead one tick
    ++_tick;
    _seq = 0;
  }
  return (static_cast<std::uint64_t>(_tick) << tick_shift) | _low_fixed | _seq;
}

}  // namespace nsqd
