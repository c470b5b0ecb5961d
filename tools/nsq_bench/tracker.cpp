#include "nsq_bench/tracker.hpp"

#include <algorithm>
#include <bit>

namespace nsqd::nsq_bench {

sequence_tracker::chunk& sequence_tracker::chunk_for(const key& k) {
  if (_last && k == _last_key) return *_last;
  auto& slot = _chunks[k];
  if (!slot) slot = std::make_unique<chunk>(chunk_words, 0);
  _last_key = k;
  _last = slot.get();
  return *slot;
}

bool sequence_tracker::mark(std::uint32_t run, std::uint32_t publisher,
                            std::uint64_t sequence) {
  key k{std::uint64_t(run) << 32 | publisher, sequence >> chunk_bits};
  chunk& c = chunk_for(k);
  std::uint64_t bit = sequence & ((std::uint64_t(1) << chunk_bits) - 1);
  std::uint64_t mask = std::uint64_t(1) << (bit % 64);
  std::uint64_t& word = c[bit / 64];
  if (word & mask) return false;
  word |= mask;
  ++_unique;
  return true;
}

std::uint64_t sequence_tracker::merge(const sequence_tracker& other) {
  std::uint64_t duplicates = 0;
  for (const auto& [k, theirs] : other._chunks) {
    chunk& mine = chunk_for(k);
    for (std::size_t i = 0; i < chunk_words; ++i) {
      std::uint64_t both = mine[i] & (*theirs)[i];
      duplicates += std::uint64_t(std::popcount(both));
      _unique += std::uint64_t(std::popcount((*theirs)[i] & ~mine[i]));
      mine[i] |= (*theirs)[i];
    }
  }
  return duplicates;
}

std::uint64_t sequence_tracker::missing(std::uint32_t run, std::uint32_t publisher,
                                        std::uint64_t published) const {
  const std::uint64_t per_chunk = std::uint64_t(1) << chunk_bits;
  std::uint64_t seen = 0;
  for (std::uint64_t ci = 0; ci * per_chunk < published; ++ci) {
    auto it = _chunks.find(key{std::uint64_t(run) << 32 | publisher, ci});
    if (it == _chunks.end()) continue;
    std::uint64_t bits = std::min(per_chunk, published - ci * per_chunk);
    const chunk& c = *it->second;
    for (std::size_t w = 0; w * 64 < bits; ++w) {
      std::uint64_t word = c[w];
      if (bits - w * 64 < 64) word &= (std::uint64_t(1) << (bits - w * 64)) - 1;
      seen += std::uint64_t(std::popcount(word));
    }
  }
  return published - seen;
}

}  // namespace nsqd::nsq_bench
