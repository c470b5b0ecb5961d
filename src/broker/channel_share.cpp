// Fair shares across a channel's parts (issue 13): a part deals its messages in one rotation
// to its own consumers and to the hungry consumers of other shards, as many and with as much
// RDY as their last request said (broker_shard::give_batch records it). A remote turn sets
// the message aside for that shard, up to their RDY, and tells it to come (its steal takes
// what was set aside first, and says again what its consumers can take). Without this, the part where a publisher's connection lands feeds its own
// consumers first and the others get what is left (shares 50-90% off the mean).
//
// Set-aside messages stay this part's until taken: they count in its advertised head
// (ordering.hpp), its depth and what a clean stop saves.
#include "broker/broker.hpp"

#include <algorithm>

#include "broker/message_tag.hpp"

namespace nsqd::broker {

std::size_t channel::turns() const {
  std::size_t n = _consumers.size();
  for (const remote_share& r : _remote)
    if (r.cap > 0) n += r.consumers;
  return n;
}

bool channel::deal_remote(std::size_t t) {
  t -= _consumers.size();
  unsigned s = 0;
  for (; s < _remote.size(); ++s) {
    if (_remote[s].cap <= 0) continue;
    if (t < _remote[s].consumers) break;
    t -= _remote[s].consumers;
  }
  if (s == _remote.size()) return false;
  remote_share& r = _remote[s];
  if (std::int64_t(r.reserved.size()) >= r.cap) return false;  // they have not come for it yet
  core::fifo<message>* from = !_queue.empty() ? &_queue : !_from_disk.empty() ? &_from_disk : nullptr;
  if (!from) return false;
  message m = std::move(from->front());
  from->pop_front();
  if (!message_tag::is_disk_ticket(m.tag())) _reserved_min = std::min(_reserved_min, m.tag());
  if (r.reserved.empty()) _remote_demand[s] = true;  // told by the next wake_remote_demand
  r.reserved.push_back(std::move(m));
  ++_reserved_count;
  return true;
}

void channel::record_demand(unsigned taker, demand d) {
  remote_share& r = _remote[taker];
  r.consumers = d.consumers;
  // Twice their RDY: what they FIN while a share is on its way is covered too.
  r.cap = d.consumers == 0 ? 0 : std::clamp<std::int64_t>(2 * d.capacity, 1, std::int64_t(max_steal_batch));
  _remote_wanting = false;
  for (const remote_share& o : _remote) _remote_wanting = _remote_wanting || o.cap > 0;
}

std::uint64_t channel::take_reserved(unsigned taker, std::vector<message>& out) {
  remote_share& r = _remote[taker];
  std::uint64_t oldest = no_head;
  for (message& m : r.reserved) {
    if (!message_tag::is_disk_ticket(m.tag())) oldest = std::min(oldest, m.tag());
    out.push_back(std::move(m));
  }
  if (!r.reserved.empty()) {
    r.reserved.clear();
    recount_reserved();
  }
  return oldest;
}

void channel::recount_reserved() {
  _reserved_count = 0;
  _reserved_min = no_head;
  for (const remote_share& r : _remote) {
    _reserved_count += r.reserved.size();
    for (const message& m : r.reserved)
      if (!message_tag::is_disk_ticket(m.tag())) _reserved_min = std::min(_reserved_min, m.tag());
  }
}

channel::demand channel::demand_now() const {
  // Every consumer with RDY counts for a turn, busy or not: a share is dealt ahead of what
  // they FIN, so counting only those with credit now gives a shard too few turns.
  demand d;
  bool hungry = false;
  for (consumer* c : _consumers) {
    std::int64_t rdy = c->credit() + std::max<std::int64_t>(0, c->counters.in_flight);
    if (rdy <= 0) continue;
    ++d.consumers;
    d.capacity += rdy;
    hungry = hungry || c->credit() > 0;
  }
  if (!hungry) d = {};
  return d;
}

}  // namespace nsqd::broker
