#pragma once
// A channel part's messages by id: those in flight, or those deferred.
//
//   id_table<in_flight_entry> t;
//   auto [e, fresh] = t.try_emplace(id, in_flight_entry{...});  // e stays put until erased
//   if (in_flight_entry* f = t.find(id)) t.erase(id);
//
// Every delivery adds an entry and every FIN drops one, so neither may cost an allocation:
// entries live in blocks that are reused (a free list), and the index is an open-addressing
// hash table of pointers (boost::unordered_flat_map: no node per entry). A pointer to an entry
// stays valid until it is erased (the channel's timeout queues hold them). Emptied, the table
// keeps only its first small block and a small index, so an idle channel holds next to nothing.
// One channel part on one shard owns it; not thread-safe.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "model/message_id.hpp"

namespace nsqd::broker {

template <class Entry>
class id_table {
 public:
  id_table() = default;
  id_table(const id_table&) = delete;
  id_table& operator=(const id_table&) = delete;
  ~id_table() { clear(); }

  std::size_t size() const noexcept { return _index.size(); }
  bool empty() const noexcept { return _index.empty(); }
  bool contains(const message_id& id) const { return _index.contains(id); }

  Entry* find(const message_id& id) noexcept {
    auto it = _index.find(id);
    return it == _index.end() ? nullptr : it->second;
  }

  // Adds `e` under `id`, unless the id is taken: then the entry there, and false.
  std::pair<Entry*, bool> try_emplace(const message_id& id, Entry&& e) {
    auto [it, fresh] = _index.try_emplace(id, nullptr);
    if (!fresh) return {it->second, false};
    try {
      it->second = ::new (static_cast<void*>(take_slot())) Entry(std::move(e));
    } catch (...) {
      _index.erase(it);
      throw;
    }
    return {it->second, true};
  }

  void erase(const message_id& id) noexcept {
    auto it = _index.find(id);
    if (it == _index.end()) return;
    Entry* e = it->second;
    _index.erase(it);
    e->~Entry();
    give_slot(reinterpret_cast<slot*>(e));
    if (_index.empty()) shrink();
  }

  void clear() noexcept {
    for (auto& [id, e] : _index) e->~Entry();
    _index.clear();
    _blocks.clear();
    _free = nullptr;
    shrink();
  }

  // f(const message_id&, Entry&) for every entry, in no particular order; f must not add or
  // erase entries.
  template <class F>
  void for_each(F&& f) {
    for (auto& [id, e] : _index) f(id, *e);
  }

 private:
  union slot {
    slot() noexcept {}
    ~slot() {}
    Entry entry;
    slot* next;  // while free
  };
  static constexpr std::size_t first_block = 8;     // slots
  static constexpr std::size_t largest_block = 512;
  static constexpr std::size_t index_kept = 64;     // room the index keeps when emptied

  slot* take_slot() {
    if (!_free) add_block();
    slot* s = _free;
    _free = s->next;
    return s;
  }
  void give_slot(slot* s) noexcept {
    s->next = _free;
    _free = s;
  }
  void add_block() {
    const std::size_t n = _blocks.empty() ? first_block : std::min(largest_block, first_block << _blocks.size());
    _blocks.push_back(std::make_unique<slot[]>(n));
    slot* b = _blocks.back().get();
    for (std::size_t i = n; i-- > 0;) give_slot(&b[i]);
  }
  // Empty: all blocks but the first go, and a large index.
  void shrink() noexcept {
    if (_blocks.size() > 1) {
      _blocks.resize(1);
      _free = nullptr;
      slot* b = _blocks.front().get();
      for (std::size_t i = first_block; i-- > 0;) give_slot(&b[i]);
    }
    if (_index.bucket_count() > index_kept) decltype(_index)().swap(_index);
  }

  boost::unordered_flat_map<message_id, Entry*, message_id_hash> _index;
  std::vector<std::unique_ptr<slot[]>> _blocks;
  slot* _free = nullptr;
};

}  // namespace nsqd::broker
