// A shard's broker: its topic and channel parts, global creation and admin through shard
// 0, stats and producers, consumer counts, run().
#include "broker/broker.hpp"

#include <time.h>

#include <algorithm>

#include "core/cross_shard.hpp"
#include "core/event.hpp"
#include "core/io.hpp"
#include "model/names.hpp"

namespace nsqd::broker {

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

channel& broker_shard::ensure_channel(const std::string& topic_name, const std::string& name,
                                      std::shared_ptr<channel_heads> heads) {
  return ensure_topic(topic_name).ensure_channel(name, std::move(heads));
}

std::shared_ptr<channel_heads> broker_shard::heads_for(const std::string& topic_name,
                                                       const std::optional<std::string>& name) {
  if (!name) return nullptr;
  if (topic* t = find_topic(topic_name))
    if (channel* c = t->find_channel(*name)) return c->heads();
  return std::make_shared<channel_heads>(shard_count());
}

// On shard 0: creates the topic (and the channel, if named) on every shard. A new topic first
// asks the topology observer for the channels to create with it (nsqlookupd's), and is made
// with them before any caller publishes to it; another creation of the same topic meanwhile
// waits for this one.
core::task<void> broker_shard::create_everywhere(std::vector<broker_shard*>* peers, const std::string* topic_name,
                                                 const std::string* channel_name) {
  broker_shard* zero = (*peers)[0];
  std::vector<std::string> with_topic;
  std::shared_ptr<core::event> made;  // set when this creation of a new topic is done
  if (zero->_observer && !zero->find_topic(*topic_name)) {
    auto [it, first] = zero->_topics_being_made.try_emplace(*topic_name);
    if (!first) {
      std::shared_ptr<core::event> other = it->second;
      co_await other->wait();
    } else {
      made = it->second = std::make_shared<core::event>();
      with_topic = co_await zero->_observer->channels_for_new_topic(*topic_name);
    }
  }
  // Waiters go on however this ends (an exception included).
  struct announce_made {
    broker_shard* zero;
    const std::string* name;
    std::shared_ptr<core::event> made;
    ~announce_made() {
      if (!made) return;
      made->set();
      zero->_topics_being_made.erase(*name);
    }
  } announce{zero, topic_name, made};

  topic* known = zero->find_topic(*topic_name);
  const bool topic_fresh = !known;
  std::vector<std::string> fresh_channels;
  std::vector<std::optional<std::string>> parts;  // the topic alone, or each channel to make
  if (!channel_name && with_topic.empty()) parts.emplace_back();
  if (channel_name) parts.emplace_back(*channel_name);
  for (const std::string& name : with_topic)
    if (is_valid_channel_name(name) && !is_ephemeral(name) && !(channel_name && name == *channel_name))
      parts.emplace_back(name);
  for (const std::optional<std::string>& cn : parts) {
    if (cn && (!known || !known->find_channel(*cn))) fresh_channels.push_back(*cn);
    std::shared_ptr<channel_heads> heads = zero->heads_for(*topic_name, cn);  // one for every part
    for (unsigned n = 0; n < peers->size(); ++n) {
      broker_shard* peer = (*peers)[n];
      co_await core::on_shard(n, [peer, topic_name, &cn, &heads] { return peer->create_part(*topic_name, cn, heads); });
    }
  }
  if (zero->_observer) {
    using kind = topology_change::kind;
    if (topic_fresh) zero->_observer->changed({kind::added, *topic_name, std::nullopt});
    for (const std::string& cn : fresh_channels) zero->_observer->changed({kind::added, *topic_name, cn});
  }
  const bool fresh = topic_fresh || !fresh_channels.empty();
  if (fresh && !is_ephemeral(*topic_name) && !(channel_name && is_ephemeral(*channel_name)))
    zero->persist_metadata();
}

// A part whose disk queue is still opening is not ready: a publish must not be answered from
// memory alone where the options promise disk.
core::task<topic*> broker_shard::get_topic(std::string name) {
  if (topic* t = find_topic(name); t && t->disk_ready()) co_return t;
  std::vector<broker_shard*>* peers = &_peers;
  const std::string* n = &name;
  co_await core::on_shard(0, [peers, n] { return broker_shard::create_everywhere(peers, n, nullptr); });
  co_return &ensure_topic(name);
}

core::task<channel*> broker_shard::get_channel(std::string topic_name, std::string name) {
  if (topic* t = find_topic(topic_name))
    if (channel* c = t->find_channel(name); c && c->disk_ready()) co_return c;
  std::vector<broker_shard*>* peers = &_peers;
  const std::string* t = &topic_name;
  const std::string* c = &name;
  co_await core::on_shard(0, [peers, t, c] { return broker_shard::create_everywhere(peers, t, c); });
  co_return &ensure_channel(topic_name, name);
}

void broker_shard::note_timed(channel& c) {
  if (c._timed_slot != no_slot) return;
  c._timed_slot = _timed.size();
  _timed.push_back(&c);
}

void broker_shard::forget_timed(channel& c) {
  if (c._timed_slot == no_slot) return;
  channel* last = _timed.back();
  _timed[c._timed_slot] = last;
  last->_timed_slot = c._timed_slot;
  _timed.pop_back();
  c._timed_slot = no_slot;
}

std::vector<message> broker_shard::give_batch(const std::string& topic_name, const std::string& name,
                                              unsigned starving_shard, size_t want, channel::demand d) {
  topic* t = find_topic(topic_name);
  channel* c = t ? t->find_channel(name) : nullptr;
  if (!c) return {};
  return c->give_batch(starving_shard, want, d);
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
  broker_shard* zero = (*peers)[0];
  // What a removal takes away, as shard 0 knows it before (every shard holds every part).
  std::vector<std::string> removed_channels;
  bool topic_removed = false;
  if (op == broker_shard::admin::remove) {
    if (topic* t = zero->find_topic(*topic_name)) {
      if (!channel_name) {
        topic_removed = true;
        for (const auto& [name, c] : t->channels()) removed_channels.push_back(name);
      } else if (t->find_channel(*channel_name)) {
        removed_channels.push_back(*channel_name);
      }
    }
  }
  for (unsigned n = 0; n < peers->size(); ++n) {
    broker_shard* peer = (*peers)[n];
    bool here = co_await core::on_shard(
        n, [peer, topic_name, &channel, op] { return peer->apply_admin(*topic_name, channel, op); });
    found |= here;
  }
  // An #ephemeral topic goes with its last channel.
  if (channel_name && !removed_channels.empty() && !zero->find_topic(*topic_name)) topic_removed = true;
  if (topology_observer* o = zero->observer()) {
    // Channels first, then the topic: nsqlookupd drops a topic's channels with it, but warns.
    using kind = topology_change::kind;
    for (const std::string& cn : removed_channels) o->changed({kind::removed, *topic_name, cn});
    if (topic_removed) o->changed({kind::removed, *topic_name, std::nullopt});
  }
  bool ephemeral = is_ephemeral(*topic_name) || (channel_name && is_ephemeral(*channel_name));
  if (found && op != broker_shard::admin::empty && !ephemeral) zero->persist_metadata();
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
  auto add = [&](const std::string& name, topic& t) {
    topic_stats ts;
    ts.name = name;
    topic::counters tc = t.stats();
    ts.depth = tc.depth;
    ts.backend_depth = tc.backend_depth;
    ts.message_count = tc.message_count;
    ts.message_bytes = tc.message_bytes;
    ts.paused = t.paused();
    for (auto& [cname, c] : t._channels) {
      ts.e2e.add(c->e2e_summary());  // the topic's latency merges all its channels (SPEC D.10)
      if (!channel_filter.empty() && cname != channel_filter) continue;
      ts.channels.push_back(c->snapshot(include_clients));
    }
    if (!channel_filter.empty() && ts.channels.empty()) return;
    out.push_back(std::move(ts));
  };
  if (!topic_filter.empty()) {  // one topic costs one lookup, however many there are
    if (topic* t = find_topic(topic_filter)) add(topic_filter, *t);
    return out;
  }
  for (auto& [name, t] : _topics) add(name, *t);
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
  return c && c->_in_flight.contains(id);
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
