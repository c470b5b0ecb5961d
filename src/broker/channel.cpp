// A channel part: subscribe, put, deliver, FIN/REQ/TOUCH, deferred and timeouts.
#include "broker/broker.hpp"

#include <time.h>

#include <algorithm>

#include "core/cross_shard.hpp"
#include "core/event.hpp"
#include "broker/message_tag.hpp"
#include "core/io.hpp"
#include "model/names.hpp"

namespace nsqd::broker {
namespace {
// Steals in a row that took nothing and started the next at once (channel::steal_ended).
constexpr unsigned max_steals_in_vain = 3;
}  // namespace

std::int64_t unix_now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

client_stats stats_of(const consumer& c) {
  client_stats cs;
  c.describe(cs);
  cs.in_flight_count = c.counters.in_flight;
  cs.message_count = c.counters.message_count;
  cs.finish_count = c.counters.finish_count;
  cs.requeue_count = c.counters.requeue_count;
  return cs;
}

// ---- channel ----------------------------------------------------------------------------------

channel::channel(topic& owner, std::string name, std::shared_ptr<channel_heads> heads)
    : _topic(owner),
      _name(std::move(name)),
      _ephemeral(is_ephemeral(_name)),
      _heads(heads ? std::move(heads) : std::make_shared<channel_heads>(owner.shard().shard_count())),
      // The queues grow as they fill (upstream reserves --mem-queue-size/10 slots of each up
      // front: 16 KB for every channel part, used or not, at the default).
      _in_flight_pq(),
      _deferred_pq(),
      _remote_demand(owner.shard().shard_count(), false),
      _remote(owner.shard().shard_count()),
      _releases(owner.shard().shard_count()) {
  const config::options& opts = owner.shard().opts();
  if (!opts.e2e_processing_latency_percentiles.empty())
    _e2e.emplace(opts.e2e_processing_latency_window_time, opts.e2e_processing_latency_percentiles,
                 unix_now_ns());
}

channel::~channel() { _topic.shard().forget_timed(*this); }

core::task<bool> channel::subscribe(consumer& c) {
  // Consumers are counted per nsqd (all shards) on shard 0, as upstream counts per channel.
  broker_shard& shard = _topic.shard();
  std::string topic_name = _topic.name();
  std::string name = _name;
  bool admitted = co_await shard.reserve_consumer(topic_name, name);
  topic* t = shard.find_topic(topic_name);
  channel* still = t ? t->find_channel(name) : nullptr;
  if (!admitted) co_return false;
  if (still != this) {  // deleted while we asked
    shard.release_consumer(topic_name, name, false);
    co_return false;
  }
  _consumers.push_back(&c);
  pump();
  co_return true;
}

void channel::unsubscribe(consumer& c) {
  auto it = std::find(_consumers.begin(), _consumers.end(), &c);
  if (it == _consumers.end()) return;
  _consumers.erase(it);
  _topic.shard().release_consumer(_topic.name(), _name, _ephemeral);
}

void channel::set_paused(bool paused) {
  _paused = paused;
  if (!paused) pump();
}

void channel::clear_memory() {
  _deferred.for_each([&](const message_id&, deferred_entry& d) { storage::release_copy(_journal.get(), d.journal); });
  _queue.clear();
  _from_disk.clear();
  for (remote_share& r : _remote) r.reserved.clear();
  recount_reserved();
  _declined.clear();
  _in_flight.clear();
  _in_flight_pq.clear();
  _deferred.clear();
  _deferred_pq.clear();
}

void channel::empty() {
  _in_flight.for_each([&](const message_id&, in_flight_entry& e) {
    for (consumer* c : _consumers)
      if (c->id() == e.owner) --c->counters.in_flight;
  });
  clear_memory();
  advertise();
  if (_disk) _topic.shard().empty_disk_later(_disk);
}

void channel::close() {
  std::vector<consumer*> leaving;
  leaving.swap(_consumers);
  for (consumer* c : leaving) c->channel_closed();
}

channel_stats channel::snapshot(bool include_clients) const {
  channel_stats out;
  counters c = stats();
  out.name = _name;
  out.depth = c.depth;
  out.backend_depth = c.backend_depth;
  out.in_flight = c.in_flight;
  out.deferred = c.deferred;
  out.message_count = c.message_count;
  out.requeue_count = c.requeue_count;
  out.timeout_count = c.timeout_count;
  out.overflow_count = c.overflow_count;
  out.client_count = c.clients;
  out.paused = _paused;
  if (include_clients)
    for (consumer* con : _consumers) out.clients.push_back(stats_of(*con));
  out.e2e = e2e_summary();
  return out;
}

latency_summary channel::e2e_summary() const {
  return _e2e ? _e2e->summary(unix_now_ns()) : latency_summary{};
}

void channel::ready(consumer&) { pump(); }

void channel::put(message m, bool to_disk) {
  ++_message_count;
  broker_shard& shard = _topic.shard();
  if (shard.spill(_disk, to_disk ? std::size_t(shard.memory_limit()) : _queue.size(), m)) {
    pump();  // a hungry consumer starts a disk read
    return;
  }
  enqueue(std::move(m));
  auto limit = shard.opts().mem_queue_size;
  if (std::int64_t(_queue.size()) > limit && limit >= 0 && !_disk) {
    // No disk queue (#ephemeral, or no data directory): keep the message and say so.
    if (_overflow_count++ % 10000 == 0)
      shard.log().warn("CHANNEL(", _topic.name(), ":", _name, "): memory queue over --mem-queue-size (",
                       _queue.size(), " messages)");
  }
  pump();
  if (has_queued() || _reserved_count > 0) wake_remote_demand();
}

void channel::put_deferred(message m, std::int64_t due_ns, std::optional<storage::disk_position> on_disk,
                           std::optional<storage::deferred_journal::ref> journal) {
  message_id id = m.id;
  auto [entry, fresh] = _deferred.try_emplace(id, deferred_entry{std::move(m), {}, on_disk, journal});
  if (!fresh) {  // the same message deferred twice: keep the first
    storage::release_copy(_journal.get(), journal);
    return;
  }
  _deferred_pq.push(entry, due_ns);
  _topic.shard().note_timed(*this);
}

void channel::requeue_now(message m) {
  if (!message_tag::is_disk_ticket(m.tag())) m.set_tag(0);  // behind the others: keyed anew
  enqueue(std::move(m));
  pump();
  if (has_queued() || _reserved_count > 0) wake_remote_demand();
}

void channel::deliver(consumer& c, message m) {
  ++m.attempts;
  std::int64_t now = unix_now_ns();
  message_id id = m.id;
  auto [entry, fresh] = _in_flight.try_emplace(id, in_flight_entry{std::move(m), c.id(), now, {}});
  in_flight_entry& e = *entry;
  if (fresh) {
    _in_flight_pq.push(&e, now + c.msg_timeout().count());
    _topic.shard().note_timed(*this);
  }
  ++c.counters.in_flight;
  ++c.counters.message_count;
  c.deliver(e.msg);
  if (!fresh) {
    // The id is already in flight (upstream sends it anyway and does not track it).
    --c.counters.in_flight;
    if (message_tag::is_disk_ticket(m.tag()) && m.tag() != e.msg.tag()) release_record(m);
  }
}

void channel::release_record(const message& m) {
  const std::uint64_t tag = m.tag();
  if (!message_tag::is_disk_ticket(tag)) return;
  broker_shard& shard = _topic.shard();
  const unsigned origin = message_tag::origin(tag);
  if (origin == shard.shard_id()) {
    if (_disk) {
      _disk->release(message_tag::ticket(tag));
      shard.sync_disk_later(_disk);
    }
    return;
  }
  if (origin >= _releases.size()) return;
  _releases[origin].push_back(message_tag::ticket(tag));
  shard.send_releases_later(*this);
}

bool channel::deliver_one(consumer& c, core::fifo<message>& from) {
  message m = std::move(from.front());
  from.pop_front();
  int rate = c.sample_rate();
  if (rate > 0 && int(_topic.shard().rng()() % 100) >= rate) {
    _declined.emplace_back(std::move(m), c.id());
    return false;
  }
  deliver(c, std::move(m));
  return true;
}

void channel::offer_declined() {
  while (!_declined.empty()) {
    auto& [m, decliner] = _declined.front();
    consumer* taker = nullptr;
    for (consumer* c : _consumers)
      if (c->id() != decliner && c->credit() > 0) {
        taker = c;
        break;
      }
    if (!taker) return;
    int rate = taker->sample_rate();
    if (rate > 0 && int(_topic.shard().rng()() % 100) >= rate) {
      decliner = taker->id();  // declined again, by another consumer
      _declined.push_back(std::move(_declined.front()));
      _declined.pop_front();
      return;  // try again on the next pump
    }
    message msg = std::move(m);
    _declined.pop_front();
    deliver(*taker, std::move(msg));
  }
}

void channel::pump() {
  deal();
  advertise();
  // Messages just set aside for other shards: they are told now, whatever made this pump
  // (a RDY, a FIN, a steal's end), or they never come for them while their consumer starves.
  if (_reserved_count > 0) wake_remote_demand();
  // Shards that asked while this part had nothing in memory wait for its disk backlog (a
  // publish spilled to disk with no consumer here hungry, say): read it, they are told when
  // it lands. start_disk_read goes only when someone waits.
  if (!has_queued() && _disk && _disk->depth() > 0) start_disk_read();
}

void channel::deal() {
  size_t n = _consumers.size();
  if (n == 0 || _paused) return;
  if (!_declined.empty()) offer_declined();
  size_t idle = 0;
  bool blocked = false;  // the keyed queue's oldest waits for older messages of another part
  bool waiting = false;  // ... or for older messages on their way here
  while (has_queued()) {
    const std::size_t turns_now = _remote_wanting && !_dealing_taken ? turns() : n;
    if (idle >= turns_now) break;
    // The rotation is a position, not a counter taken modulo the turns: their number changes
    // between calls (remote turns come and go), and a modulo of a new count would send the
    // rotation back to the first consumers again and again.
    if (_next_consumer >= turns_now) _next_consumer = 0;
    const std::size_t t = _next_consumer;
    if (t >= n) {  // a remote consumer's turn
      ++_next_consumer;
      if (deal_remote(t))
        idle = 0;
      else
        ++idle;
      continue;
    }
    consumer& c = *_consumers[t];
    if (c.credit() <= 0) {
      ++_next_consumer;
      ++idle;
      continue;
    }
    core::fifo<message>* from = nullptr;
    if (!_queue.empty() && !blocked && !waiting) {
      switch (front_waits_for()) {
        case front_wait::nothing: from = &_queue; break;
        case front_wait::older_elsewhere: blocked = true; break;
        case front_wait::older_on_the_way: waiting = true; break;  // the answer's take_batch pumps again
      }
    }
    if (!from && !_from_disk.empty()) from = &_from_disk;
    if (!from) break;  // c keeps its turn for the next message
    ++_next_consumer;
    deliver_one(c, *from);  // delivered or declined: either way the queue moved on
    idle = 0;
  }
  if (!_declined.empty()) offer_declined();
  if (!hungry()) return;
  if (blocked) {
    _topic.shard().start_fetch(*this);
    return;
  }
  if (!_queue.empty() || !_from_disk.empty()) return;
  if (_disk && _disk->depth() > 0)
    start_disk_read();  // this part's own backlog first
  else if (_topic.shard().shard_count() > 1)
    _topic.shard().start_steal(*this);
}

void channel::wake_remote_demand() {
  for (unsigned s = 0; s < _remote_demand.size(); ++s) {
    if (!_remote_demand[s]) continue;
    _remote_demand[s] = false;
    _topic.shard().notify_demand(*this, s);
  }
}

std::int64_t channel::wanted() const {
  if (!_queue.empty() || !_from_disk.empty()) return 0;
  std::int64_t credit = 0;
  for (consumer* c : _consumers) credit += std::max<std::int64_t>(0, c->credit());
  return credit;
}

void channel::take_batch(std::vector<message> batch) {
  merge(std::move(batch));
  // Messages just taken from another part are not dealt on to a third (channel_share.cpp).
  _dealing_taken = true;
  pump();
  _dealing_taken = false;
  // What this shard's consumers could not take (no credit, or a sampling consumer declined
  // it) is for the shards that asked while this part was empty.
  if (has_queued() || _reserved_count > 0) wake_remote_demand();
}

void channel::steal_ended(bool in_vain) {
  // Work may have arrived locally, or credit grown, while the steal was under way: pump. With
  // _stealing still set, deal()'s call for a steal only sets _steal_again.
  const bool told = _steal_again;  // by a shard with work, or by a change here (RDY, FIN, put)
  _steal_again = false;
  pump();
  const bool wants = _steal_again;
  _stealing = false;
  _steal_again = false;
  // A steal that took nothing is repeated a few times at once (under load, work turns up
  // between the asks: repeating keeps the consumers here fed in their fair share), then no
  // more: the shards asked remember the demand and tell this one when they have work.
  // Repeating without end kept a core busy for one idle consumer.
  _steals_in_vain = in_vain ? std::uint8_t(std::min(_steals_in_vain + 1, 255)) : 0;
  if (told || (wants && _steals_in_vain <= max_steals_in_vain)) _topic.shard().start_steal(*this);
}

channel::result channel::finish(consumer& c, const message_id& id) {
  in_flight_entry* e = _in_flight.find(id);
  if (!e) return result::not_in_flight;
  if (e->owner != c.id()) return result::not_owner;
  if (_e2e) _e2e->record(e->msg.timestamp, unix_now_ns());
  release_record(e->msg);
  _in_flight_pq.remove(e);
  _in_flight.erase(id);
  --c.counters.in_flight;
  ++c.counters.finish_count;
  pump();
  return result::ok;
}

channel::result channel::requeue(consumer& c, const message_id& id, std::chrono::nanoseconds delay) {
  in_flight_entry* e = _in_flight.find(id);
  if (!e) return result::not_in_flight;
  if (e->owner != c.id()) return result::not_owner;
  _in_flight_pq.remove(e);
  message m = std::move(e->msg);
  _in_flight.erase(id);
  --c.counters.in_flight;
  ++c.counters.requeue_count;
  ++_requeue_count;
  if (delay.count() <= 0)
    requeue_now(std::move(m));
  else {
    put_deferred(std::move(m), unix_now_ns() + delay.count());
    pump();
  }
  return result::ok;
}

channel::result channel::touch(consumer& c, const message_id& id) {
  in_flight_entry* e = _in_flight.find(id);
  if (!e) return result::not_in_flight;
  if (e->owner != c.id()) return result::not_owner;
  std::int64_t now = unix_now_ns();
  std::int64_t limit = e->delivered_at + _topic.shard().opts().max_msg_timeout.count();
  _in_flight_pq.update(e, std::min(now + c.msg_timeout().count(), limit));
  return result::ok;
}

bool channel::process_due(std::int64_t now_ns) {
  bool dirty = false;
  while (in_flight_entry* e = _in_flight_pq.pop_due(now_ns)) {
    dirty = true;
    message m = std::move(e->msg);
    std::uint64_t owner = e->owner;
    _in_flight.erase(m.id);
    ++_timeout_count;
    for (consumer* c : _consumers)
      if (c->id() == owner) --c->counters.in_flight;
    if (!message_tag::is_disk_ticket(m.tag())) m.set_tag(0);  // behind the others: keyed anew
    enqueue(std::move(m));
  }
  while (deferred_entry* d = _deferred_pq.pop_due(now_ns)) {
    dirty = true;
    message m = std::move(d->msg);
    storage::release_copy(_journal.get(), d->journal);
    _deferred.erase(m.id);
    if (!message_tag::is_disk_ticket(m.tag())) m.set_tag(0);
    enqueue(std::move(m));
  }
  if (dirty) {
    pump();
    if (has_queued() || _reserved_count > 0) wake_remote_demand();
  }
  return dirty;
}

channel::counters channel::stats() const {
  counters out;
  out.backend_depth = _disk ? _disk->depth() : 0;
  out.depth = std::int64_t(_queue.size() + _from_disk.size() + _declined.size() + _reserved_count) + out.backend_depth;
  out.in_flight = std::int64_t(_in_flight.size());
  out.deferred = std::int64_t(_deferred.size());
  out.message_count = _message_count;
  out.requeue_count = _requeue_count;
  out.timeout_count = _timeout_count;
  out.clients = std::int64_t(_consumers.size());
  out.overflow_count = _overflow_count;
  return out;
}

}  // namespace nsqd::broker
