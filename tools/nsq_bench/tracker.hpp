#pragma once
// sequence_tracker: which (run, publisher, sequence) triples a consumer has seen, to count
// lost and duplicated messages.
//
// A sparse bitmap: 64 Ki-bit chunks created on first use, keyed by (run, publisher,
// sequence / 64 Ki), so memory follows what arrived (1 bit per message), whatever a stray
// body claims. Each consumer thread owns one; the runner merges them when all have stopped.

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace nsqd::nsq_bench {

class sequence_tracker {
 public:
  // Marks the triple seen: true if new, false if it had been marked already (a duplicate).
  bool mark(std::uint32_t run, std::uint32_t publisher, std::uint64_t sequence);

  // Folds `other` into this tracker; returns how many of its marks this one already had.
  std::uint64_t merge(const sequence_tracker& other);

  // Distinct triples marked.
  std::uint64_t unique() const { return _unique; }

  // How many of sequences [0, published) of (run, publisher) are not marked.
  std::uint64_t missing(std::uint32_t run, std::uint32_t publisher,
                        std::uint64_t published) const;

 private:
  static constexpr unsigned chunk_bits = 16;
  static constexpr std::size_t chunk_words = (std::size_t(1) << chunk_bits) / 64;
  using chunk = std::vector<std::uint64_t>;  // chunk_words words

  struct key {
    std::uint64_t run_publisher;  // run << 32 | publisher
    std::uint64_t chunk_index;    // sequence >> chunk_bits
    bool operator==(const key&) const = default;
  };
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept {
      return std::hash<std::uint64_t>()(k.run_publisher * 0x9e3779b97f4a7c15ull ^ k.chunk_index);
    }
  };

  chunk& chunk_for(const key& k);

  std::unordered_map<key, std::unique_ptr<chunk>, key_hash> _chunks;
  key _last_key{~0ull, ~0ull};  // one-entry cache: a publisher's sequences arrive in order
  chunk* _last = nullptr;
  std::uint64_t _unique = 0;
};

}  // namespace nsqd::nsq_bench
