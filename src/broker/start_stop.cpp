// The broker's persistence at start and stop (DESIGN.md, Persistence): load nsqd.dat and the
// queues (with files other shards left after a crash), flush every message into shard 0's
// queues in upstream's layout.
#include "broker/broker.hpp"

#include <dirent.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "broker/part_files.hpp"
#include "core/cross_shard.hpp"
#include "core/file.hpp"
#include "core/io.hpp"
#include "go/go_syntax.hpp"
#include "model/names.hpp"

namespace nsqd::broker {
namespace {

core::task<void> unlink_quietly(int dirfd, std::string name) {
  (void)co_await core::unlinkat(dirfd, name.c_str());
}

}  // namespace

// ---- start ------------------------------------------------------------------------------------

namespace {

core::task<void> create_part_on(std::vector<broker_shard*>* peers, unsigned first, unsigned last,
                                std::string topic_name, std::optional<std::string> channel_name, bool paused) {
  std::shared_ptr<channel_heads> heads = (*peers)[0]->heads_for(topic_name, channel_name);  // on shard 0
  for (unsigned n = first; n < last; ++n) {
    broker_shard* peer = (*peers)[n];
    co_await core::on_shard(n, [peer, &topic_name, &channel_name, &heads] {
      return peer->create_part(topic_name, channel_name, heads);
    });
    if (paused) {
      bool found = co_await core::on_shard(n, [peer, &topic_name, &channel_name] {
        return peer->apply_admin(topic_name, channel_name, broker_shard::admin::pause);
      });
      (void)found;
    }
  }
}

// One topic of nsqd.dat and its channels on shards [first, last).
core::task<void> create_loaded_topic(std::vector<broker_shard*>* peers, unsigned first, unsigned last,
                                     const storage::topic_meta* tm) {
  co_await create_part_on(peers, first, last, tm->name, std::nullopt, tm->paused);
  for (const storage::channel_meta& cm : tm->channels)
    co_await create_part_on(peers, first, last, tm->name, cm.name, cm.paused);
}

// Topics and channels of nsqd.dat on shards [first, last), `disk_lanes` topics at a time.
core::task<void> create_loaded(std::vector<broker_shard*>* peers, unsigned first, unsigned last,
                               const std::vector<storage::topic_meta>* topics) {
  co_await core::in_lanes(topics->size(), disk_lanes, [peers, first, last, topics](std::size_t i) {
    return create_loaded_topic(peers, first, last, &(*topics)[i]);
  });
}

}  // namespace

core::task<void> broker_shard::load(std::string data_path) {
  std::string meta_path = data_path + "/" + std::string(storage::metadata_file_name);
  std::optional<std::vector<storage::topic_meta>> meta = co_await storage::load_metadata(_data_dir, meta_path, _log);
  std::vector<storage::topic_meta> topics;
  if (meta) topics = std::move(*meta);
  for (const storage::topic_meta& tm : topics) _log.info("TOPIC(", tm.name, "): loading from metadata");
  // Shard 0's parts first, with upstream's files and the deferred sidecars; then files other
  // shards left after a crash go into them; only then do other shards open their own files.
  co_await create_loaded(&_peers, 0, 1, &topics);
  std::vector<part_key> keys = part_keys();
  co_await core::in_lanes(keys.size(), disk_lanes, [this, &keys](std::size_t i) { return load_sidecar(keys[i]); });
  co_await take_in_leftovers(data_path);
  co_await create_loaded(&_peers, 1, shard_count(), &topics);
  _meta_dirty = false;  // what was loaded is what nsqd.dat says; the node persists it next
}

core::task<void> broker_shard::load_sidecar(part_key key) {
  std::shared_ptr<storage::disk_queue> q = part_disk(key);
  if (!q) co_return;
  std::string text;
  int rc = co_await core::read_file(_data_dir, storage::deferred_file_name(q->prefix()), text);
  if (rc < 0) co_return;  // none (or unreadable: the records are delivered at once, as upstream)
  for (const storage::deferred_record& r : storage::parse_deferred(text)) {
    if (r.due_ns < 0) {  // a record already delivered from memory: never again
      q->skip(r.at, r.id);
      continue;
    }
    std::optional<message> m = co_await q->read_at(r.at);
    if (!m || m->id != r.id) continue;
    q->skip(r.at, r.id);
    topic* t = find_topic(key.topic_name);
    if (!t) co_return;
    if (key.channel_name) {
      if (channel* c = t->find_channel(*key.channel_name)) c->put_deferred(std::move(*m), r.due_ns, r.at);
    } else if (!t->_channels.empty() && !t->_paused) {
      for (auto& [cn, ch] : t->_channels) topic::hand_over(*ch, *m, r.due_ns);
    } else {
      t->_backlog.push_back({std::move(*m), r.due_ns});
    }
  }
}

core::task<void> broker_shard::take_in_leftovers(std::string data_path) {
  // Queue files of shards other than 0, and deferred journals, remain only after a crash (a
  // clean stop merges them). A journal of a shard that runs now is taken in by its own part
  // when it opens (shard 0's parts already did).
  std::map<std::string, std::string> prefixes;  // prefix -> queue
  if (DIR* d = ::opendir(data_path.empty() ? "." : data_path.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::optional<part_file> f = part_file_of(e->d_name);
      if (f && (!f->journal || !_opts.durable_publish || f->shard >= shard_count())) prefixes[f->prefix] = f->queue;
    }
    ::closedir(d);
  }
  for (const auto& [prefix, queue] : prefixes) {
    size_t colon = queue.find(':');
    part_key key{queue.substr(0, colon), std::nullopt};
    if (colon != std::string::npos) key.channel_name = queue.substr(colon + 1);
    std::shared_ptr<storage::disk_queue> dst = part_disk(key);
    if (!dst) {
      _log.warn("DISKQUEUE(", prefix, "): no such topic or channel; leaving its files");
      continue;
    }
    storage::disk_queue src(_data_dir, prefix, disk_limits(), _log);
    (void)co_await src.open();
    _log.info("DISKQUEUE(", dst->prefix(), "): taking in ", src.depth(), " messages of ", prefix);
    co_await storage::merge_queue(src, *dst, _log);
  }
}

// ---- stop -------------------------------------------------------------------------------------

std::vector<broker_shard::part_contents> broker_shard::take_contents() {
  std::vector<part_contents> out;
  for (auto& [tn, t] : _topics) {
    if (!t->ephemeral() && !t->_backlog.empty()) {
      part_contents p{tn, "", {}, {}, {}};
      for (topic::waiting& w : t->_backlog) {
        if (w.due > 0)
          p.deferred.emplace_back(std::move(w.msg), w.due);
        else
          p.plain.push_back(std::move(w.msg));
      }
      t->_backlog.clear();
      out.push_back(std::move(p));
    }
    for (auto& [cn, c] : t->_channels) {
      if (c->ephemeral()) continue;
      part_contents p{tn, cn, {}, {}, {}};
      for (message& m : c->_queue) p.plain.push_back(std::move(m));
      for (message& m : c->_from_disk) p.plain.push_back(std::move(m));
      for (channel::remote_share& r : c->_remote)
        for (message& m : r.reserved) p.plain.push_back(std::move(m));
      for (auto& [m, decliner] : c->_declined) p.plain.push_back(std::move(m));
      c->_in_flight.for_each([&](const message_id&, channel::in_flight_entry& e) {
        p.plain.push_back(std::move(e.msg));  // attempts kept
      });
      c->_deferred.for_each([&](const message_id& id, channel::deferred_entry& d) {
        if (d.on_disk)
          p.kept.push_back({*d.on_disk, id, d.pq_slot.priority});
        else
          p.deferred.emplace_back(std::move(d.msg), d.pq_slot.priority);
      });
      c->clear_memory();
      if (!p.plain.empty() || !p.deferred.empty() || !p.kept.empty()) out.push_back(std::move(p));
    }
  }
  return out;
}

core::task<void> broker_shard::close_disk(std::shared_ptr<storage::disk_queue> q, std::vector<std::string>* with_data) {
  if (shard_id() != 0 && q->depth() == 0) {  // nothing to hand over: leave no files
    (void)co_await q->remove();
    co_return;
  }
  int rc = co_await q->close();
  if (rc < 0) _log.error("DISKQUEUE(", q->prefix(), "): failed to close - ", go::errno_text(rc));
  if (q->depth() > 0) with_data->push_back(q->prefix());
}

core::task<std::vector<std::string>> broker_shard::close_disks() {
  std::vector<std::string> with_data;
  std::vector<std::shared_ptr<storage::disk_queue>> queues = disks();
  co_await core::in_lanes(queues.size(), disk_lanes,
                          [this, &queues, &with_data](std::size_t i) { return close_disk(queues[i], &with_data); });
  co_return with_data;
}

core::task<void> broker_shard::flush_part(part_key key, held_contents* held, const std::set<std::string>* others,
                                          std::int64_t now) {
  std::shared_ptr<storage::disk_queue> q = part_disk(key);  // none for #ephemeral parts
  auto found = held->find({key.topic_name, key.channel_name.value_or("")});
  if (!q) {
    if (found != held->end()) _log.error("TOPIC(", key.topic_name, "): no disk queue; messages in memory are lost");
    co_return;
  }
  std::vector<storage::deferred_record> sidecar;
  std::set<storage::disk_position> kept;
  if (found != held->end()) {
    for (part_contents& p : found->second) {
      for (message& m : p.plain) (void)q->put(m);
      for (auto& [m, due] : p.deferred) {
        std::optional<storage::disk_position> at = q->put(m);
        if (at && due > now) sidecar.push_back({*at, m.id, due});
      }
      for (storage::deferred_record& r : p.kept) {
        sidecar.push_back(r);
        kept.insert(r.at);
      }
    }
  }
  // Records delivered from memory whose copies remain on disk: never deliver them again.
  for (const auto& [at, id] : q->skipped())
    if (!kept.count(at)) sidecar.push_back({at, id, -1});
  int rc = co_await q->flush();
  if (rc < 0) _log.error("DISKQUEUE(", q->prefix(), "): failed to write at exit - ", go::errno_text(rc));
  const std::string queue = queue_name(key.topic_name, key.channel_name ? &*key.channel_name : nullptr);
  for (unsigned n = 1; n < shard_count(); ++n) {
    std::string prefix = file_prefix(queue, n);
    if (!others->count(prefix)) continue;
    storage::disk_queue src(_data_dir, prefix, disk_limits(), _log);
    (void)co_await src.open();
    co_await storage::merge_queue(src, *q, _log);
  }
  rc = co_await q->close();
  if (rc < 0) _log.error("DISKQUEUE(", q->prefix(), "): failed to close - ", go::errno_text(rc));
  std::string side = storage::deferred_file_name(q->prefix());
  if (sidecar.empty()) {
    co_await core::shielded(unlink_quietly(_data_dir, side));
  } else {
    rc = co_await core::write_file_atomically(_data_dir, side, storage::render_deferred(sidecar), 0600);
    if (rc < 0) _log.error("failed to write ", side, " - ", go::errno_text(rc));
  }
}

core::task<void> broker_shard::flush_all() {
  if (!persistent()) co_return;
  // Everything in memory, on every shard, keyed by part.
  held_contents held;
  for (unsigned n = 0; n < shard_count(); ++n) {
    broker_shard* peer = _peers[n];
    std::vector<part_contents> part = co_await core::on_shard(n, [peer] { return peer->take_contents(); });
    for (part_contents& p : part) held[{p.topic_name, p.channel_name}].push_back(std::move(p));
  }
  // Other shards' queue files, closed, to be taken into shard 0's.
  std::set<std::string> others;
  for (unsigned n = 1; n < shard_count(); ++n) {
    broker_shard* peer = _peers[n];
    std::vector<std::string> left = co_await core::on_shard(n, [peer] { return peer->close_disks(); });
    others.insert(left.begin(), left.end());
  }
  const std::int64_t now = unix_now_ns();
  std::vector<part_key> keys = part_keys();
  co_await core::in_lanes(keys.size(), disk_lanes, [this, &keys, &held, &others, now](std::size_t i) {
    return flush_part(keys[i], &held, &others, now);
  });
  // The deferred messages are in shard 0's queues now: their journals go.
  for (unsigned n = 0; n < shard_count(); ++n) {
    broker_shard* peer = _peers[n];
    co_await core::on_shard(n, [peer] { return peer->remove_journals(); });
  }
  (void)co_await persist_metadata_now();
}

core::task<void> broker_shard::remove_journals() {
  for (const part_key& key : part_keys())
    if (std::shared_ptr<storage::deferred_journal> j = part_journal(key)) co_await j->remove();
}

}  // namespace nsqd::broker
