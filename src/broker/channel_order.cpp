// A channel part's side of publish order across parts (broker/ordering.hpp): the keyed queue,
// the shared heads, and what to fetch from the other parts before the oldest message may go.
#include "broker/broker.hpp"

#include <algorithm>

#include "broker/message_tag.hpp"

namespace nsqd::broker {
namespace {

bool by_key(const message& a, const message& b) { return a.tag() < b.tag(); }

}  // namespace

void channel::enqueue(message m) {
  if (message_tag::is_disk_ticket(m.tag())) {
    _from_disk.push_back(std::move(m));
    return;
  }
  if (m.tag() == 0) m.set_tag(order_key_now(_topic.shard().reactor()));
  if (_queue.empty() || _queue.back().tag() <= m.tag()) {
    _queue.push_back(std::move(m));
    return;
  }
  _queue.insert(std::upper_bound(_queue.begin(), _queue.end(), m, by_key), std::move(m));
}

void channel::merge(std::vector<message> batch) {
  std::vector<message> keyed;
  keyed.reserve(batch.size());
  for (message& m : batch) {
    if (message_tag::is_disk_ticket(m.tag()) || m.tag() == 0)
      enqueue(std::move(m));
    else
      keyed.push_back(std::move(m));
  }
  if (keyed.empty()) return;
  std::stable_sort(keyed.begin(), keyed.end(), by_key);
  if (_queue.empty() || keyed.front().tag() >= _queue.back().tag()) {
    for (message& m : keyed) _queue.push_back(std::move(m));
  } else if (keyed.back().tag() <= _queue.front().tag()) {  // the usual case: older than ours
    for (auto it = keyed.rbegin(); it != keyed.rend(); ++it) _queue.push_front(std::move(*it));
  } else {
    core::fifo<message> merged;
    std::merge(std::make_move_iterator(_queue.begin()), std::make_move_iterator(_queue.end()),
               std::make_move_iterator(keyed.begin()), std::make_move_iterator(keyed.end()),
               std::back_inserter(merged), by_key);
    _queue.swap(merged);
  }
}

void channel::refresh_heads() {
  const unsigned me = _topic.shard().shard_id();
  _refreshed_at = order_key_fresh();  // before the loads: see ordering.hpp
  _others_min = no_head;
  _others_min_shard = me;
  for (unsigned s = 0; s < _heads->shards(); ++s) {
    if (s == me) continue;
    std::uint64_t h = _heads->head(s);
    if (goes_before(h, s, _others_min, _others_min_shard)) {
      _others_min = h;
      _others_min_shard = s;
    }
  }
}

void channel::transfer_begun() { ++_transfers; }

void channel::transfer_done() {
  if (_transfers > 0) --_transfers;
}

channel::front_wait channel::front_waits_for() {
  if (_heads->shards() == 1) return front_wait::nothing;
  const std::uint64_t key = _queue.front().tag();
  const unsigned me = _topic.shard().shard_id();
  auto none_older = [&] { return key <= _refreshed_at && goes_before(key, me, _others_min, _others_min_shard); };
  bool older_elsewhere = !none_older();
  if (older_elsewhere) {
    refresh_heads();
    older_elsewhere = !none_older();
  }
  // This part's own head after the others' (ordering.hpp): a giver lowers it before it raises
  // its own, so an older message that left another part after those loads shows here.
  if (_transfers > 0 && _heads->head(me) < key) return front_wait::older_on_the_way;
  return older_elsewhere ? front_wait::older_elsewhere : front_wait::nothing;
}

void channel::advertise() {
  if (_heads->shards() == 1) return;
  const unsigned me = _topic.shard().shard_id();
  const std::uint64_t head = std::min(_queue.empty() ? no_head : _queue.front().tag(), _reserved_min);
  if (_transfers > 0) {  // messages may be on their way here: only lower (ordering.hpp)
    _heads->lower(me, head);
    return;
  }
  if (_heads->head(me) != head) _heads->advertise(me, head);
}

bool channel::hungry() const {
  for (consumer* c : _consumers)
    if (c->credit() > 0) return true;
  return false;
}

std::optional<channel::fetch_plan> channel::plan_fetch() {
  if (_queue.empty() || _paused || _heads->shards() == 1) return std::nullopt;
  std::int64_t credit = 0;
  for (consumer* c : _consumers) credit += std::max<std::int64_t>(0, c->credit());
  if (credit <= 0 || front_waits_for() != front_wait::older_elsewhere) return std::nullopt;
  return fetch_plan{_others_min_shard, _queue.front().tag(), _others_min,
                    std::min<std::size_t>(std::size_t(credit), max_steal_batch)};
}

void channel::fetch_ended() {
  _fetching = false;
  pump();
}

std::vector<message> channel::give_older(std::uint64_t before_key, unsigned before_shard, std::size_t want) {
  std::vector<message> out;
  const unsigned me = _topic.shard().shard_id();
  // What was dealt to the asking shard goes along (it is that shard's turn anyway).
  std::uint64_t oldest = take_reserved(before_shard, out);
  if (!_queue.empty() && goes_before(_queue.front().tag(), me, before_key, before_shard))
    oldest = std::min(oldest, _queue.front().tag());
  _heads->lower(before_shard, oldest);  // before they leave: ordering.hpp
  while (out.size() < want && !_queue.empty() && goes_before(_queue.front().tag(), me, before_key, before_shard)) {
    out.push_back(std::move(_queue.front()));
    _queue.pop_front();
  }
  advertise();
  return out;
}

std::vector<message> channel::give_batch(unsigned taker, std::size_t want, demand d) {
  std::vector<message> out;
  std::uint64_t oldest = take_reserved(taker, out);
  const std::size_t dealt = out.size();
  record_demand(taker, d);  // they share in what comes next (channel_share.cpp)
  if (dealt == 0 && !has_queued()) {
    if (want > 0) {
      _remote_demand[taker] = true;
      if (_disk && _disk->depth() > 0) start_disk_read();  // woken when it lands
    }
    return out;
  }
  // Messages a local sampling consumer declined go first (they are for other consumers),
  // then the oldest queued, then those read from disk.
  // `want` was their credit before what was dealt to them arrives.
  const std::size_t more = want > dealt ? want - dealt : 0;
  const std::size_t n = dealt + std::min({more, _declined.size() + _queue.size() + _from_disk.size(), max_steal_batch});
  out.reserve(n);
  for (; out.size() < n && !_declined.empty(); _declined.pop_front()) out.push_back(std::move(_declined.front().first));
  if (out.size() < n && !_queue.empty()) oldest = std::min(oldest, _queue.front().tag());
  _heads->lower(taker, oldest);  // before they leave: ordering.hpp
  for (; out.size() < n && !_queue.empty(); _queue.pop_front()) out.push_back(std::move(_queue.front()));
  for (; out.size() < n && !_from_disk.empty(); _from_disk.pop_front()) out.push_back(std::move(_from_disk.front()));
  advertise();
  return out;
}

}  // namespace nsqd::broker
