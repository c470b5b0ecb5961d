// The broker's persistence (DESIGN.md, Persistence): disk queues of topic and channel parts,
// the publish commit, nsqd.dat, loading at start and flushing at stop.
#include <dirent.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <set>

#include "broker/broker.hpp"
#include "core/cross_shard.hpp"
#include "core/file.hpp"
#include "core/io.hpp"
#include "go/go_syntax.hpp"
#include "model/names.hpp"

namespace nsqd::broker {

namespace {
// Most bytes one disk read brings into memory.
constexpr std::size_t disk_read_bytes = 4 << 20;
// Failed commit batches remembered for callers still waiting on them.
constexpr std::size_t commit_failures_kept = 4096;

core::task<void> unlink_quietly(int dirfd, std::string name) {
  (void)co_await core::unlinkat(dirfd, name.c_str());
}

core::task<void> sync_quietly(std::shared_ptr<storage::disk_queue> q) {
  (void)co_await q->sync();  // the queue logs a failure and tries again at the next
}

// File prefix of a queue's part on a shard: upstream's "<queue>.diskqueue" on shard 0,
// "<queue>.diskqueue.s<N>" (which upstream never opens) on shard N.
constexpr std::string_view shard_marker = ".diskqueue.s";
std::string file_prefix(const std::string& queue, unsigned shard) {
  std::string p = queue + ".diskqueue";
  if (shard != 0) p += ".s" + std::to_string(shard);
  return p;
}

// A file of some queue other than shard 0's own: shard N's queue "<queue>.diskqueue.s<N>" or
// a deferred journal of any shard's part (disk_queue and deferred_journal own those names).
struct part_file {
  std::string prefix;
  std::string queue;
  unsigned shard = 0;
  bool journal = false;
};
std::optional<part_file> part_file_of(std::string_view file) {
  std::optional<std::string> prefix = storage::disk_queue::prefix_of_file(file);
  if (!prefix) return std::nullopt;
  part_file out;
  out.prefix = *prefix;
  std::optional<std::string> part = storage::deferred_journal::part_prefix_of(*prefix);
  out.journal = part.has_value();
  std::string_view stem = part ? *part : *prefix;
  constexpr std::string_view own = ".diskqueue";
  if (stem.ends_with(own)) {
    if (!out.journal) return std::nullopt;  // shard 0's own queue
    out.queue = std::string(stem.substr(0, stem.size() - own.size()));
    return out;
  }
  const size_t at = stem.rfind(shard_marker);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view number = stem.substr(at + shard_marker.size());
  unsigned shard = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), shard);
  if (ec != std::errc() || end != number.data() + number.size() || number.empty()) return std::nullopt;
  out.shard = shard;
  out.queue = std::string(stem.substr(0, at));
  return out;
}
}  // namespace

// ---- parts and their queues -------------------------------------------------------------------

std::string broker_shard::queue_prefix(const std::string& topic_name, const std::string* channel_name) const {
  return file_prefix(queue_name(topic_name, channel_name), shard_id());
}

std::vector<broker_shard::part_key> broker_shard::part_keys() const {
  std::vector<part_key> out;
  for (auto& [tn, t] : _topics) {
    out.push_back({tn, std::nullopt});
    for (auto& [cn, c] : t->_channels) out.push_back({tn, cn});
  }
  return out;
}

std::pair<topic*, channel*> broker_shard::find_part(const part_key& key) const {
  auto it = _topics.find(key.topic_name);
  if (it == _topics.end()) return {nullptr, nullptr};
  topic* t = it->second.get();
  return {t, key.channel_name ? t->find_channel(*key.channel_name) : nullptr};
}

std::shared_ptr<storage::disk_queue> broker_shard::part_disk(const part_key& key) const {
  auto [t, c] = find_part(key);
  if (key.channel_name) return c ? c->_disk : nullptr;
  return t ? t->_disk : nullptr;
}

std::shared_ptr<storage::deferred_journal> broker_shard::part_journal(const part_key& key) const {
  auto [t, c] = find_part(key);
  if (key.channel_name) return c ? c->_journal : nullptr;
  return t ? t->_journal : nullptr;
}

std::vector<std::shared_ptr<storage::disk_queue>> broker_shard::disks() const {
  std::vector<std::shared_ptr<storage::disk_queue>> out;
  for (const part_key& k : part_keys())
    if (auto q = part_disk(k)) out.push_back(std::move(q));
  return out;
}

storage::disk_queue_limits broker_shard::disk_limits() const {
  storage::disk_queue_limits l;
  l.max_bytes_per_file = _opts.max_bytes_per_file;
  l.max_msg_size = _opts.max_msg_size;
  l.sync_every = _opts.sync_every;
  l.sync_each_flush = _opts.durable_publish;
  return l;
}

std::int64_t broker_shard::memory_limit() const noexcept {
  return _opts.durable_publish ? 0 : _opts.mem_queue_size;
}

bool channel::disk_ready() const noexcept { return _disk || _ephemeral || !_topic.shard().persistent(); }
bool topic::disk_ready() const noexcept { return _disk || _ephemeral || !_shard.persistent(); }

core::task<void> broker_shard::create_part(std::string topic_name, std::optional<std::string> channel_name) {
  if (channel_name)
    ensure_channel(topic_name, *channel_name);
  else
    ensure_topic(topic_name);
  co_await open_disks();
}

core::task<void> broker_shard::open_part_disk(broker_shard* b, std::string topic_name,
                                              std::optional<std::string> channel_name) {
  const std::string prefix = b->queue_prefix(topic_name, channel_name ? &*channel_name : nullptr);
  auto q = std::make_shared<storage::disk_queue>(b->_data_dir, prefix, b->disk_limits(), b->_log);
  int rc = co_await q->open();
  (void)rc;  // the queue logged it and starts empty
  std::shared_ptr<storage::deferred_journal> journal;
  if (b->_opts.durable_publish) {
    journal = std::make_shared<storage::deferred_journal>(b->_data_dir, prefix, b->disk_limits(), b->_log,
                                                 [b](core::task<void> work) {
                                                   if (!b->_group) return false;
                                                   b->_group->spawn(std::move(work));
                                                   return true;
                                                 });
    co_await journal->open(*q);
  }
  topic* t = b->find_topic(topic_name);
  if (!t) co_return;
  if (channel_name) {
    channel* c = t->find_channel(*channel_name);
    if (!c || c->_disk) co_return;
    c->_disk = std::move(q);
    c->_journal = std::move(journal);
    c->pump();
  } else {
    if (t->_disk) co_return;
    t->_disk = std::move(q);
    t->_journal = std::move(journal);
    t->release_backlog();
  }
}

core::task<void> broker_shard::open_disks() {
  if (!persistent()) co_return;
  for (part_key& k : part_keys())
    if (!part_disk(k) && !is_ephemeral(k.channel_name ? *k.channel_name : k.topic_name))
      co_await open_part_disk(this, std::move(k.topic_name), std::move(k.channel_name));
}

core::task<void> broker_shard::forget_disk(broker_shard* b, std::shared_ptr<storage::disk_queue> q, bool remove) {
  int rc = 0;
  if (remove)
    rc = co_await q->remove();
  else
    rc = co_await q->empty();
  if (rc < 0) b->_log.error("DISKQUEUE(", q->prefix(), "): failed to delete files - ", go::errno_text(rc));
  co_await core::shielded(unlink_quietly(b->_data_dir, storage::deferred_file_name(q->prefix())));
}

void broker_shard::empty_disk_later(std::shared_ptr<storage::disk_queue> q) {
  if (_group) _group->spawn(forget_disk(this, std::move(q), false));
}

core::task<void> broker_shard::remove_disk(std::shared_ptr<storage::disk_queue> q) {
  co_await forget_disk(this, std::move(q), true);
}

void broker_shard::sync_disk_later(const std::shared_ptr<storage::disk_queue>& q) {
  if (_group && q->claim_sync()) _group->spawn(sync_quietly(q));
}

void channel::start_disk_read() {
  broker_shard& shard = _topic.shard();
  if (_disk_reading || !_disk || !shard._group) return;
  _disk_reading = true;
  // Enough for local consumers' credit; a full steal batch when other shards are waiting.
  const bool remote = std::find(_remote_demand.begin(), _remote_demand.end(), true) != _remote_demand.end();
  std::size_t want = remote ? max_steal_batch : std::size_t(std::clamp<std::int64_t>(wanted(), 64, 1024));
  shard._group->spawn(broker_shard::read_disk_batch(&shard, _topic.name(), _name, _disk, want));
}

void channel::take_from_disk(std::vector<message> batch) {
  take_batch(std::move(batch));
  if (!_queue.empty()) wake_remote_demand();  // shards that asked while it was on disk
}

core::task<void> broker_shard::read_disk_batch(broker_shard* b, std::string topic_name, std::string name,
                                               std::shared_ptr<storage::disk_queue> q, std::size_t max_records) {
  if (q->pending() > 0) (void)co_await b->commit();  // records put but not yet written
  std::vector<message> batch = co_await q->read(max_records, disk_read_bytes);
  b->sync_disk_later(q);
  topic* t = b->find_topic(topic_name);
  channel* c = t ? t->find_channel(name) : nullptr;
  if (!c || c->_disk != q) co_return;  // deleted meanwhile: its messages went with it
  c->_disk_reading = false;
  if (!batch.empty()) c->take_from_disk(std::move(batch));
}

void topic::start_disk_drain() {
  if (_draining || !_disk || !_shard._group) return;
  _draining = true;
  _shard._group->spawn(broker_shard::drain_topic_disk(&_shard, _name, _disk));
}

core::task<void> broker_shard::drain_topic_disk(broker_shard* b, std::string topic_name,
                                                std::shared_ptr<storage::disk_queue> q) {
  for (bool more = true;;) {
    topic* t = b->find_topic(topic_name);
    if (!t || t->_disk != q) co_return;  // deleted meanwhile: its messages went with it
    if (!more || t->_paused || t->_channels.empty() || q->depth() == 0) {
      t->_draining = false;
      co_return;
    }
    if (q->pending() > 0) (void)co_await b->commit();
    std::vector<message> batch = co_await q->read(256, disk_read_bytes);
    b->sync_disk_later(q);
    t = b->find_topic(topic_name);
    if (!t || t->_disk != q) co_return;
    more = !batch.empty();
    for (message& m : batch) t->fan_out(std::move(m));
    (void)co_await b->commit_unflushed();
  }
}

// ---- commit -----------------------------------------------------------------------------------

void broker_shard::note_unflushed(const std::shared_ptr<storage::disk_queue>& q) {
  if (std::find(_unflushed.begin(), _unflushed.end(), q) == _unflushed.end()) _unflushed.push_back(q);
}

bool broker_shard::spill(const std::shared_ptr<storage::disk_queue>& q, std::size_t in_memory, const message& m) {
  if (!q || std::int64_t(in_memory) < memory_limit() || !q->put(m)) return false;
  note_unflushed(q);
  return true;
}

std::optional<storage::deferred_journal::ref> broker_shard::keep_in_journal(storage::deferred_journal* j, const message& m) {
  if (!j) return std::nullopt;
  auto kept = j->keep(m);
  if (!kept) return std::nullopt;
  note_unflushed(kept->second);
  return kept->first;
}

core::task<int> broker_shard::commit_unflushed() {
  if (!has_unflushed()) co_return 0;
  int rc = co_await commit();
  co_return rc;
}

core::task<int> broker_shard::commit() {
  const std::uint64_t mine = _commit_open;  // the batch this caller's records are in
  for (;;) {
    if (_commit_done > mine) {
      for (auto& [batch, rc] : _commit_failures)
        if (batch == mine) co_return rc;
      co_return 0;
    }
    if (!_committing) break;
    int rc = co_await _commit_finished.wait();
    if (rc < 0) co_return rc;  // cancelled while waiting: no answer is sent anyway
  }
  _committing = true;
  _commit_finished.reset();
  const std::uint64_t batch = _commit_open++;
  std::vector<std::shared_ptr<storage::disk_queue>> queues;
  queues.swap(_unflushed);
  int err = 0;
  for (auto& q : queues) {
    int rc = co_await q->flush();
    if (rc < 0 && err == 0) err = rc;
    sync_disk_later(q);
  }
  _commit_done = batch + 1;
  if (err < 0) {
    _commit_failures.emplace_back(batch, err);
    if (_commit_failures.size() > commit_failures_kept) _commit_failures.pop_front();
    if (_health) _health->set_error("failed to write to disk queue - " + go::errno_text(err));
    _log.error("failed to write messages to disk - ", go::errno_text(err));
  } else if (_health && !queues.empty()) {
    _health->set_ok();
  }
  _committing = false;
  _commit_finished.set();
  co_return err;
}

core::task<void> broker_shard::sync_loop() {
  const auto period = std::max<std::chrono::nanoseconds>(_opts.sync_timeout, std::chrono::milliseconds(1));
  for (;;) {
    int r = co_await core::sleep_for(period);
    if (r < 0) co_return;
    (void)co_await commit_unflushed();
    for (auto& q : disks())
      if (q->dirty()) (void)co_await q->sync();
  }
}

// ---- nsqd.dat ---------------------------------------------------------------------------------

void broker_shard::persist_metadata() {
  if (!persistent()) return;
  _meta_dirty = true;
  if (_meta_writing || !_group) return;
  _meta_writing = true;
  _group->spawn(metadata_writer());
}

core::task<void> broker_shard::metadata_writer() {
  while (_meta_dirty) {
    _meta_dirty = false;
    int rc = co_await persist_metadata_now();
    (void)rc;
  }
  _meta_writing = false;
}

core::task<int> broker_shard::persist_metadata_now() {
  if (!persistent()) co_return 0;
  std::vector<storage::topic_meta> topics;
  for (auto& [tn, t] : _topics) {
    if (t->ephemeral()) continue;
    storage::topic_meta tm{tn, t->paused(), {}};
    for (auto& [cn, c] : t->_channels)
      if (!c->ephemeral()) tm.channels.push_back({cn, c->paused()});
    std::sort(tm.channels.begin(), tm.channels.end(), [](auto& a, auto& b) { return a.name < b.name; });
    topics.push_back(std::move(tm));
  }
  std::sort(topics.begin(), topics.end(), [](auto& a, auto& b) { return a.name < b.name; });
  int rc = co_await storage::save_metadata(_data_dir, topics);
  if (rc < 0) _log.error("failed to persist metadata - ", go::errno_text(rc));
  co_return rc;
}

// ---- start ------------------------------------------------------------------------------------

namespace {

core::task<void> create_part_on(std::vector<broker_shard*>* peers, unsigned first, unsigned last,
                                std::string topic_name, std::optional<std::string> channel_name, bool paused) {
  for (unsigned n = first; n < last; ++n) {
    broker_shard* peer = (*peers)[n];
    co_await core::on_shard(n, [peer, &topic_name, &channel_name] {
      return peer->create_part(topic_name, channel_name);
    });
    if (paused) {
      bool found = co_await core::on_shard(n, [peer, &topic_name, &channel_name] {
        return peer->apply_admin(topic_name, channel_name, broker_shard::admin::pause);
      });
      (void)found;
    }
  }
}

// Topics and channels of nsqd.dat on shards [first, last).
core::task<void> create_loaded(std::vector<broker_shard*>* peers, unsigned first, unsigned last,
                               const std::vector<storage::topic_meta>* topics) {
  for (const storage::topic_meta& tm : *topics) {
    co_await create_part_on(peers, first, last, tm.name, std::nullopt, tm.paused);
    for (const storage::channel_meta& cm : tm.channels) co_await create_part_on(peers, first, last, tm.name, cm.name, cm.paused);
  }
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
  for (part_key& k : part_keys()) co_await load_sidecar(std::move(k));
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
      for (auto& [m, decliner] : c->_declined) p.plain.push_back(std::move(m));
      for (auto& [id, e] : c->_in_flight) p.plain.push_back(std::move(e.msg));  // attempts kept
      for (auto& [id, d] : c->_deferred) {
        if (d.on_disk)
          p.kept.push_back({*d.on_disk, id, d.pq_slot.priority});
        else
          p.deferred.emplace_back(std::move(d.msg), d.pq_slot.priority);
      }
      c->clear_memory();
      if (!p.plain.empty() || !p.deferred.empty() || !p.kept.empty()) out.push_back(std::move(p));
    }
  }
  return out;
}

core::task<std::vector<std::string>> broker_shard::close_disks() {
  std::vector<std::string> with_data;
  for (auto& q : disks()) {
    if (shard_id() != 0 && q->depth() == 0) {  // nothing to hand over: leave no files
      (void)co_await q->remove();
      continue;
    }
    int rc = co_await q->close();
    if (rc < 0) _log.error("DISKQUEUE(", q->prefix(), "): failed to close - ", go::errno_text(rc));
    if (q->depth() > 0) with_data.push_back(q->prefix());
  }
  co_return with_data;
}

core::task<void> broker_shard::flush_all() {
  if (!persistent()) co_return;
  // Everything in memory, on every shard, keyed by part.
  std::map<std::pair<std::string, std::string>, std::vector<part_contents>> held;
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
  for (const part_key& key : part_keys()) {
    std::shared_ptr<storage::disk_queue> q = part_disk(key);  // none for #ephemeral parts
    auto found = held.find({key.topic_name, key.channel_name.value_or("")});
    if (!q) {
      if (found != held.end()) _log.error("TOPIC(", key.topic_name, "): no disk queue; messages in memory are lost");
      continue;
    }
    std::vector<storage::deferred_record> sidecar;
    std::set<storage::disk_position> kept;
    if (found != held.end()) {
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
      if (!others.count(prefix)) continue;
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
