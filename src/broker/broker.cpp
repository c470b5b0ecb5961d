#include "broker/broker.hpp"

#include <time.h>

#include <algorithm>

#include "core/cross_shard.hpp"
#include "core/event.hpp"
#include "core/io.hpp"
#include "model/names.hpp"

namespace nsqd::broker {

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

channel::channel(topic& owner, std::string name)
    : _topic(owner),
      _name(std::move(name)),
      _ephemeral(is_ephemeral(_name)),
      _in_flight_pq(size_t(std::max<std::int64_t>(1, owner.shard().opts().mem_queue_size / 10))),
      _deferred_pq(size_t(std::max<std::int64_t>(1, owner.shard().opts().mem_queue_size / 10))),
      _remote_demand(owner.shard().shard_count(), false) {
  const config::options& opts = owner.shard().opts();
  if (!opts.e2e_processing_latency_percentiles.empty())
    _e2e.emplace(opts.e2e_processing_latency_window_time, opts.e2e_processing_latency_percentiles,
                 unix_now_ns());
}

channel::~channel() = default;

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
  for (auto& [id, d] : _deferred) storage::release_copy(_journal.get(), d.journal);
  _queue.clear();
  _declined.clear();
  _in_flight.clear();
  _in_flight_pq.clear();
  _deferred.clear();
  _deferred_pq.clear();
}

void channel::empty() {
  for (auto& [id, e] : _in_flight)
    for (consumer* c : _consumers)
      if (c->id() == e.owner) --c->counters.in_flight;
  clear_memory();
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

void channel::put(message m) {
  ++_message_count;
  broker_shard& shard = _topic.shard();
  if (shard.spill(_disk, _queue.size(), m)) {
    pump();  // a hungry consumer starts a disk read
    return;
  }
  _queue.push_back(std::move(m));
  auto limit = shard.opts().mem_queue_size;
  if (std::int64_t(_queue.size()) > limit && limit >= 0 && !_disk) {
    // No disk queue (#ephemeral, or no data directory): keep the message and say so.
    if (_overflow_count++ % 10000 == 0)
      shard.log().warn("CHANNEL(", _topic.name(), ":", _name, "): memory queue over --mem-queue-size (",
                       _queue.size(), " messages)");
  }
  pump();
  if (!_queue.empty() || !_declined.empty()) wake_remote_demand();
}

void channel::put_deferred(message m, std::int64_t due_ns, std::optional<storage::disk_position> on_disk,
                           std::optional<storage::deferred_journal::ref> journal) {
  message_id id = m.id;
  auto [it, fresh] = _deferred.try_emplace(id, deferred_entry{std::move(m), {}, on_disk, journal});
  if (!fresh) {  // the same message deferred twice: keep the first
    storage::release_copy(_journal.get(), journal);
    return;
  }
  _deferred_pq.push(&it->second, due_ns);
}

void channel::requeue_now(message m) {
  _queue.push_back(std::move(m));
  pump();
  if (!_queue.empty() || !_declined.empty()) wake_remote_demand();
}

void channel::deliver(consumer& c, message m) {
  ++m.attempts;
  std::int64_t now = unix_now_ns();
  message_id id = m.id;
  auto [it, fresh] = _in_flight.try_emplace(id, in_flight_entry{std::move(m), c.id(), now, {}});
  in_flight_entry& e = it->second;
  if (fresh) _in_flight_pq.push(&e, now + c.msg_timeout().count());
  ++c.counters.in_flight;
  ++c.counters.message_count;
  c.deliver(e.msg);
  if (!fresh) {
    // The id is already in flight (upstream sends it anyway and does not track it).
    --c.counters.in_flight;
  }
}

bool channel::deliver_one(consumer& c) {
  message m = std::move(_queue.front());
  _queue.pop_front();
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
  size_t n = _consumers.size();
  if (n == 0 || _paused) return;
  if (!_declined.empty()) offer_declined();
  size_t idle = 0;
  while (!_queue.empty() && idle < n) {
    consumer& c = *_consumers[_next_consumer++ % n];
    if (c.credit() <= 0) {
      ++idle;
      continue;
    }
    deliver_one(c);  // delivered or declined: either way the queue moved on
    idle = 0;
  }
  if (!_declined.empty()) offer_declined();
  if (!_queue.empty()) return;
  bool hungry = false;
  for (consumer* c : _consumers)
    if (c->credit() > 0) hungry = true;
  if (!hungry) return;
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
  if (!_queue.empty()) return 0;
  std::int64_t credit = 0;
  for (consumer* c : _consumers) credit += std::max<std::int64_t>(0, c->credit());
  return credit;
}

void channel::take_batch(std::vector<message> batch) {
  for (message& m : batch) _queue.push_back(std::move(m));
  pump();
}

void channel::steal_ended() {
  _stealing = false;
  // Work may have arrived locally, or credit grown, while the steal was under way.
  pump();
}

channel::result channel::finish(consumer& c, const message_id& id) {
  auto it = _in_flight.find(id);
  if (it == _in_flight.end()) return result::not_in_flight;
  if (it->second.owner != c.id()) return result::not_owner;
  if (_e2e) _e2e->record(it->second.msg.timestamp, unix_now_ns());
  _in_flight_pq.remove(&it->second);
  _in_flight.erase(it);
  --c.counters.in_flight;
  ++c.counters.finish_count;
  pump();
  return result::ok;
}

channel::result channel::requeue(consumer& c, const message_id& id, std::chrono::nanoseconds delay) {
  auto it = _in_flight.find(id);
  if (it == _in_flight.end()) return result::not_in_flight;
  if (it->second.owner != c.id()) return result::not_owner;
  _in_flight_pq.remove(&it->second);
  message m = std::move(it->second.msg);
  _in_flight.erase(it);
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
  auto it = _in_flight.find(id);
  if (it == _in_flight.end()) return result::not_in_flight;
  if (it->second.owner != c.id()) return result::not_owner;
  std::int64_t now = unix_now_ns();
  std::int64_t limit = it->second.delivered_at + _topic.shard().opts().max_msg_timeout.count();
  _in_flight_pq.update(&it->second, std::min(now + c.msg_timeout().count(), limit));
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
    _queue.push_back(std::move(m));
  }
  while (deferred_entry* d = _deferred_pq.pop_due(now_ns)) {
    dirty = true;
    message m = std::move(d->msg);
    storage::release_copy(_journal.get(), d->journal);
    _deferred.erase(m.id);
    _queue.push_back(std::move(m));
  }
  if (dirty) {
    pump();
    if (!_queue.empty() || !_declined.empty()) wake_remote_demand();
  }
  return dirty;
}

channel::counters channel::stats() const {
  counters out;
  out.backend_depth = _disk ? _disk->depth() : 0;
  out.depth = std::int64_t(_queue.size() + _declined.size()) + out.backend_depth;
  out.in_flight = std::int64_t(_in_flight.size());
  out.deferred = std::int64_t(_deferred.size());
  out.message_count = _message_count;
  out.requeue_count = _requeue_count;
  out.timeout_count = _timeout_count;
  out.clients = std::int64_t(_consumers.size());
  out.overflow_count = _overflow_count;
  return out;
}

// ---- topic ------------------------------------------------------------------------------------

topic::topic(broker_shard& shard, std::string name)
    : _shard(shard),
      _name(std::move(name)),
      _ephemeral(is_ephemeral(_name)),
      _ids(std::uint32_t(shard.opts().node_id), shard.shard_id(), shard.shard_count()) {}

topic::~topic() = default;

message topic::make_message(message_body body) {
  std::int64_t now = unix_now_ns();
  message m;
  m.id = _ids.next(now);
  m.timestamp = now;
  m.attempts = 0;
  m.body = std::move(body);
  return m;
}

void topic::publish(message_body body) {
  ++_message_count;
  _message_bytes += body.size();
  fan_out(make_message(std::move(body)));
}

void topic::publish_deferred(message_body body, std::chrono::nanoseconds delay) {
  ++_message_count;
  _message_bytes += body.size();
  message m = make_message(std::move(body));
  std::int64_t due = unix_now_ns() + delay.count();
  if (_channels.empty() || _paused) {
    std::optional<storage::deferred_journal::ref> copy = _shard.keep_in_journal(_journal.get(), m);
    _backlog.push_back({std::move(m), due, copy});  // keeps its due time while it waits
    return;
  }
  for (auto& [name, ch] : _channels) hand_over(*ch, m, due);
}

void topic::hand_over(channel& ch, message m, std::int64_t due) {
  if (due > unix_now_ns()) {
    ++ch._message_count;
    std::optional<storage::deferred_journal::ref> copy = ch._topic._shard.keep_in_journal(ch._journal.get(), m);
    ch.put_deferred(std::move(m), due, std::nullopt, copy);
  } else {
    ch.put(std::move(m));
  }
}

void topic::fan_out(message m) {
  if (_channels.empty() || _paused) {
    if (_shard.spill(_disk, _backlog.size(), m)) return;
    _backlog.push_back({std::move(m), 0});
    return;
  }
  size_t left = _channels.size();
  for (auto& [name, ch] : _channels) {
    if (--left == 0)
      ch->put(std::move(m));  // the last channel takes the original
    else
      ch->put(m);
  }
}

channel* topic::find_channel(std::string_view name) {
  auto it = _channels.find(std::string(name));
  return it == _channels.end() ? nullptr : it->second.get();
}

channel& topic::ensure_channel(const std::string& name) {
  auto it = _channels.find(name);
  if (it != _channels.end()) return *it->second;
  channel& ch = *_channels.emplace(name, std::make_unique<channel>(*this, name)).first->second;
  // Messages that waited for a channel all go to the first one (upstream #1520).
  release_backlog();
  return ch;
}

void topic::release_backlog() {
  if (_paused || _channels.empty()) return;
  std::deque<waiting> held;
  held.swap(_backlog);
  for (waiting& w : held) {
    for (auto& [name, ch] : _channels) hand_over(*ch, w.msg, w.due);
    storage::release_copy(_journal.get(), w.journal);
  }
  if (_disk && _disk->depth() > 0) start_disk_drain();
}

void topic::clear_backlog() {
  for (waiting& w : _backlog)
    storage::release_copy(_journal.get(), w.journal);
  _backlog.clear();
}

void topic::set_paused(bool paused) {
  _paused = paused;
  release_backlog();
}

void topic::drop_channel(const std::string& name) {
  auto it = _channels.find(name);
  if (it == _channels.end()) return;
  it->second->close();
  _channels.erase(it);
}

topic::counters topic::stats() const {
  std::int64_t on_disk = _disk ? _disk->depth() : 0;
  return {std::int64_t(_backlog.size()) + on_disk, on_disk, _message_count, _message_bytes};
}

// ---- broker_shard -----------------------------------------------------------------------------

broker_shard::broker_shard(core::reactor& shard, const config::options& opts, const core::logger& log,
                           std::vector<broker_shard*>& peers, int data_dir, storage::node_health* health)
    : _reactor(shard), _opts(opts), _log(log), _peers(peers),
      _rng(std::random_device{}() ^ (std::uint64_t(shard.shard_id()) << 32)),
      _data_dir(data_dir), _health(health) {
  _peers[shard.shard_id()] = this;
}

broker_shard::~broker_shard() { _peers[shard_id()] = nullptr; }

unsigned broker_shard::shard_count() const noexcept { return unsigned(_peers.size()); }

topic* broker_shard::find_topic(std::string_view name) {
  auto it = _topics.find(std::string(name));
  return it == _topics.end() ? nullptr : it->second.get();
}

topic& broker_shard::ensure_topic(const std::string& name) {
  auto it = _topics.find(name);
  if (it != _topics.end()) return *it->second;
  return *_topics.emplace(name, std::make_unique<topic>(*this, name)).first->second;
}

channel& broker_shard::ensure_channel(const std::string& topic_name, const std::string& name) {
  return ensure_topic(topic_name).ensure_channel(name);
}

namespace {

// On shard 0: creates the topic (and the channel, if named) on every shard.
core::task<void> create_everywhere(std::vector<broker_shard*>* peers, const std::string* topic_name,
                                   const std::string* channel_name) {
  broker_shard* zero = (*peers)[0];
  topic* known = zero->find_topic(*topic_name);
  bool fresh = !known || (channel_name && !known->find_channel(*channel_name));
  for (unsigned n = 0; n < peers->size(); ++n) {
    broker_shard* peer = (*peers)[n];
    co_await core::on_shard(n, [peer, topic_name, channel_name] {
      std::optional<std::string> cn;
      if (channel_name) cn = *channel_name;
      return peer->create_part(*topic_name, std::move(cn));
    });
  }
  if (fresh && !is_ephemeral(*topic_name) && !(channel_name && is_ephemeral(*channel_name)))
    zero->persist_metadata();
}

}  // namespace

// A part whose disk queue is still opening is not ready: a publish must not be answered from
// memory alone where the options promise disk.
core::task<topic*> broker_shard::get_topic(std::string name) {
  if (topic* t = find_topic(name); t && t->disk_ready()) co_return t;
  std::vector<broker_shard*>* peers = &_peers;
  const std::string* n = &name;
  co_await core::on_shard(0, [peers, n] { return create_everywhere(peers, n, nullptr); });
  co_return &ensure_topic(name);
}

core::task<channel*> broker_shard::get_channel(std::string topic_name, std::string name) {
  if (topic* t = find_topic(topic_name))
    if (channel* c = t->find_channel(name); c && c->disk_ready()) co_return c;
  std::vector<broker_shard*>* peers = &_peers;
  const std::string* t = &topic_name;
  const std::string* c = &name;
  co_await core::on_shard(0, [peers, t, c] { return create_everywhere(peers, t, c); });
  co_return &ensure_channel(topic_name, name);
}

std::vector<channel*> broker_shard::all_channels() {
  std::vector<channel*> out;
  for (auto& [tn, t] : _topics)
    for (auto& [cn, c] : t->_channels) out.push_back(c.get());
  return out;
}

std::vector<message> broker_shard::give_batch(const std::string& topic_name, const std::string& name,
                                              unsigned starving_shard, size_t want) {
  std::vector<message> out;
  topic* t = find_topic(topic_name);
  channel* c = t ? t->find_channel(name) : nullptr;
  if (!c) return out;
  // Messages a local sampling consumer declined go first (they are for other consumers),
  // then the queue's backlog.
  size_t n = std::min({want, c->_declined.size() + c->_queue.size(), max_steal_batch});
  if (n == 0) {
    c->_remote_demand[starving_shard] = true;
    if (c->_disk && c->_disk->depth() > 0) c->start_disk_read();  // woken when it lands
    return out;
  }
  out.reserve(n);
  for (; out.size() < n && !c->_declined.empty(); c->_declined.pop_front())
    out.push_back(std::move(c->_declined.front().first));
  for (; out.size() < n; c->_queue.pop_front()) out.push_back(std::move(c->_queue.front()));
  return out;
}

core::task<bool> broker_shard::apply_admin(std::string topic_name, std::optional<std::string> channel_name,
                                           admin op) {
  topic* t = find_topic(topic_name);
  if (!t) co_return false;
  if (op == admin::remove && shard_id() == 0) {  // deleted channels keep no consumer count
    for (auto it = _consumer_counts.begin(); it != _consumer_counts.end();) {
      bool match = channel_name ? it->first == topic_name + ":" + *channel_name
                                : it->first.rfind(topic_name + ":", 0) == 0;
      it = match ? _consumer_counts.erase(it) : std::next(it);
    }
  }
  // Files of removed parts go once the parts are gone (a reader may still hold a queue).
  std::vector<std::shared_ptr<storage::disk_queue>> removed;
  std::vector<std::shared_ptr<storage::deferred_journal>> removed_journals;
  if (channel_name) {
    channel* c = t->find_channel(*channel_name);
    if (!c) co_return false;
    switch (op) {
      case admin::pause: c->set_paused(true); break;
      case admin::unpause: c->set_paused(false); break;
      case admin::empty: c->empty(); break;
      case admin::remove:
        if (c->_disk) removed.push_back(c->_disk);
        if (c->_journal) removed_journals.push_back(c->_journal);
        t->drop_channel(*channel_name);
        // An #ephemeral topic goes away with its last channel.
        if (t->ephemeral() && t->_channels.empty()) _topics.erase(topic_name);
        break;
    }
  } else {
    switch (op) {
      case admin::pause: t->set_paused(true); break;
      case admin::unpause: t->set_paused(false); break;
      case admin::empty:
        t->clear_backlog();
        if (t->_disk) empty_disk_later(t->_disk);
        break;
      case admin::remove: {
        std::vector<std::string> names;
        for (auto& [name, c] : t->_channels) {
          names.push_back(name);
          if (c->_disk) removed.push_back(c->_disk);
          if (c->_journal) removed_journals.push_back(c->_journal);
        }
        if (t->_disk) removed.push_back(t->_disk);
        if (t->_journal) removed_journals.push_back(t->_journal);
        for (auto& name : names) t->drop_channel(name);
        _topics.erase(topic_name);
        break;
      }
    }
  }
  for (auto& q : removed) co_await remove_disk(q);
  for (auto& j : removed_journals) co_await j->remove();
  co_return true;
}

namespace {

// On shard 0: applies an admin operation on every shard; true if any shard had the target.
core::task<bool> admin_everywhere(std::vector<broker_shard*>* peers, const std::string* topic_name,
                                  const std::string* channel_name, broker_shard::admin op) {
  bool found = false;
  std::optional<std::string> channel;
  if (channel_name) channel = *channel_name;
  for (unsigned n = 0; n < peers->size(); ++n) {
    broker_shard* peer = (*peers)[n];
    bool here = co_await core::on_shard(
        n, [peer, topic_name, &channel, op] { return peer->apply_admin(*topic_name, channel, op); });
    found |= here;
  }
  bool ephemeral = is_ephemeral(*topic_name) || (channel_name && is_ephemeral(*channel_name));
  if (found && op != broker_shard::admin::empty && !ephemeral) (*peers)[0]->persist_metadata();
  co_return found;
}

}  // namespace

core::task<bool> broker_shard::topic_admin(std::string topic_name, admin op) {
  std::vector<broker_shard*>* peers = &_peers;
  const std::string* t = &topic_name;
  bool found = co_await core::on_shard(0, [peers, t, op] { return admin_everywhere(peers, t, nullptr, op); });
  co_return found;
}

core::task<bool> broker_shard::channel_admin(std::string topic_name, std::string name, admin op) {
  std::vector<broker_shard*>* peers = &_peers;
  const std::string* t = &topic_name;
  const std::string* c = &name;
  bool found = co_await core::on_shard(0, [peers, t, c, op] { return admin_everywhere(peers, t, c, op); });
  co_return found;
}

std::vector<topic_stats> broker_shard::snapshot(const std::string& topic_filter,
                                                const std::string& channel_filter,
                                                bool include_clients) {
  std::vector<topic_stats> out;
  for (auto& [name, t] : _topics) {
    if (!topic_filter.empty() && name != topic_filter) continue;
    topic_stats ts;
    ts.name = name;
    topic::counters tc = t->stats();
    ts.depth = tc.depth;
    ts.backend_depth = tc.backend_depth;
    ts.message_count = tc.message_count;
    ts.message_bytes = tc.message_bytes;
    ts.paused = t->paused();
    for (auto& [cname, c] : t->_channels) {
      ts.e2e.add(c->e2e_summary());  // the topic's latency merges all its channels (SPEC D.10)
      if (!channel_filter.empty() && cname != channel_filter) continue;
      ts.channels.push_back(c->snapshot(include_clients));
    }
    if (!channel_filter.empty() && ts.channels.empty()) continue;
    out.push_back(std::move(ts));
  }
  return out;
}

core::task<std::vector<topic_stats>> broker_shard::gather_stats(std::string topic_filter,
                                                                std::string channel_filter,
                                                                bool include_clients) {
  std::vector<topic_stats> total;
  for (unsigned n = 0; n < shard_count(); ++n) {
    broker_shard* peer = _peers[n];
    const std::string* tf = &topic_filter;
    const std::string* cf = &channel_filter;
    std::vector<topic_stats> part = co_await core::on_shard(
        n, [peer, tf, cf, include_clients] { return peer->snapshot(*tf, *cf, include_clients); });
    merge_stats(total, std::move(part));
  }
  co_return total;
}

void broker_shard::remove_producer(const consumer& c) {
  auto it = std::find(_producers.begin(), _producers.end(), &c);
  if (it != _producers.end()) _producers.erase(it);
}

std::vector<client_stats> broker_shard::producer_snapshot() const {
  std::vector<client_stats> out;
  for (const consumer* c : _producers) out.push_back(stats_of(*c));
  return out;
}

core::task<std::vector<client_stats>> broker_shard::gather_producers() {
  std::vector<client_stats> all;
  for (unsigned n = 0; n < shard_count(); ++n) {
    broker_shard* peer = _peers[n];
    std::vector<client_stats> part = co_await core::on_shard(n, [peer] { return peer->producer_snapshot(); });
    for (auto& c : part) all.push_back(std::move(c));
  }
  co_return all;
}

bool broker_shard::in_flight_here(const std::string& topic_name, const std::string& name,
                                  const message_id& id) {
  topic* t = find_topic(topic_name);
  channel* c = t ? t->find_channel(name) : nullptr;
  return c && c->_in_flight.count(id) != 0;
}

core::task<bool> broker_shard::in_flight_elsewhere(std::string topic_name, std::string name,
                                                   message_id id) {
  for (unsigned n = 0; n < shard_count(); ++n) {
    if (n == shard_id()) continue;
    broker_shard* peer = _peers[n];
    bool found = co_await core::on_shard(n, [peer, &topic_name, &name, &id] {
      return peer->in_flight_here(topic_name, name, id);
    });
    if (found) co_return true;
  }
  co_return false;
}

namespace {

std::string consumer_key(const std::string& topic_name, const std::string& name) {
  return queue_name(topic_name, &name);
}

// On shard 0: one consumer fewer; an #ephemeral channel left without any goes away everywhere.
core::task<void> release_on_shard0(std::vector<broker_shard*>* peers, std::string topic_name,
                                   std::string name, bool ephemeral) {
  broker_shard* zero = (*peers)[0];
  std::int64_t left = co_await core::on_shard(0, [zero, &topic_name, &name] {
    return zero->count_consumer(consumer_key(topic_name, name), -1, 0);
  });
  if (ephemeral && left == 0)
    co_await core::on_shard(0, [peers, &topic_name, &name] {
      return admin_everywhere(peers, &topic_name, &name, broker_shard::admin::remove);
    });
}

}  // namespace

std::int64_t broker_shard::count_consumer(const std::string& key, int delta, int max) {
  std::int64_t& n = _consumer_counts[key];
  if (delta > 0 && max > 0 && n >= max) return -1;
  n += delta;
  std::int64_t left = n;
  if (n <= 0) _consumer_counts.erase(key);
  return left;
}

core::task<bool> broker_shard::reserve_consumer(const std::string& topic_name, const std::string& name) {
  broker_shard* zero = _peers[0];
  std::string key = consumer_key(topic_name, name);
  int max = _opts.max_channel_consumers;
  std::int64_t n = co_await core::on_shard(0, [zero, &key, max] { return zero->count_consumer(key, 1, max); });
  co_return n >= 0;
}

void broker_shard::release_consumer(const std::string& topic_name, const std::string& name,
                                    bool ephemeral) {
  if (!_group) {  // shutting down: nothing left to tidy
    if (shard_id() == 0) count_consumer(consumer_key(topic_name, name), -1, 0);
    return;
  }
  _group->spawn(release_on_shard0(&_peers, topic_name, name, ephemeral));
}

namespace {

// On the starving shard: asks every other shard for work for one channel.
core::task<void> steal(broker_shard* self, std::string topic_name, std::string name) {
  for (bool got = true; got;) {
    got = false;
    for (unsigned o = 0; o < self->shard_count(); ++o) {
      if (o == self->shard_id()) continue;
      topic* t = self->find_topic(topic_name);
      channel* c = t ? t->find_channel(name) : nullptr;
      if (!c) co_return;
      std::int64_t want = c->wanted();
      if (want <= 0) break;
      broker_shard* peer = self->peer(o);
      unsigned me = self->shard_id();
      const std::string* tn = &topic_name;
      const std::string* cn = &name;
      std::vector<message> batch = co_await core::on_shard(
          o, [peer, tn, cn, me, want] { return peer->give_batch(*tn, *cn, me, size_t(want)); });
      t = self->find_topic(topic_name);
      c = t ? t->find_channel(name) : nullptr;
      if (!c) co_return;
      if (!batch.empty()) {
        got = true;
        c->take_batch(std::move(batch));
      }
      if (c->wanted() <= 0) break;
    }
  }
  topic* t = self->find_topic(topic_name);
  if (channel* c = t ? t->find_channel(name) : nullptr) c->steal_ended();
}

core::task<void> tell_starving(broker_shard* peer, unsigned shard, std::string topic_name,
                               std::string name) {
  const std::string* tn = &topic_name;
  const std::string* cn = &name;
  co_await core::on_shard(shard, [peer, tn, cn] {
    topic* t = peer->find_topic(*tn);
    channel* c = t ? t->find_channel(*cn) : nullptr;
    if (c) peer->start_steal(*c);
  });
}

}  // namespace

void broker_shard::start_steal(channel& c) {
  if (c._stealing || !_group) return;
  c._stealing = true;
  _group->spawn(steal(this, c.owner().name(), c.name()));
}

void broker_shard::notify_demand(channel& c, unsigned starving_shard) {
  if (!_group) return;
  _group->spawn(tell_starving(_peers[starving_shard], starving_shard, c.owner().name(), c.name()));
}

core::task<void> broker_shard::run() {
  core::task_group group{co_await core::this_context()};
  _group = &group;
  if (persistent()) group.spawn(sync_loop());
  if (_meta_dirty) persist_metadata();  // asked for before run()
  core::event never;
  co_await never.wait();  // until the server stops
  _group = nullptr;
  group.cancel();
  co_await group.join();
}

}  // namespace nsqd::broker
