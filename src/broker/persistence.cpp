// The broker's persistence while it runs (DESIGN.md, Persistence): disk queues of topic and
// channel parts (spill past --mem-queue-size, reads on demand, syncs), the publish commit
// (group commit) and nsqd.dat.
#include "broker/broker.hpp"

#include <dirent.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "broker/message_tag.hpp"
#include "broker/part_files.hpp"
#include "core/cross_shard.hpp"
#include "core/file.hpp"
#include "core/io.hpp"
#include "core/syscheck.hpp"
#include "go/go_syntax.hpp"
#include "model/names.hpp"

namespace nsqd::broker {
namespace {

// Most bytes one disk read brings into memory.
constexpr std::size_t disk_read_bytes = 4 << 20;
// At least this much time between nsqd.dat writes while topics and channels keep changing
// (broker_shard::metadata_writer).
constexpr std::chrono::milliseconds metadata_write_gap{50};
// After a write failed (disk full, out of descriptors): the pause before it is tried again.
constexpr std::chrono::seconds retry_pause{1};

// Failed commit batches remembered for callers still waiting on them.
constexpr std::size_t commit_failures_kept = 4096;

core::task<void> unlink_quietly(int dirfd, std::string name) {
  (void)co_await core::unlinkat(dirfd, name.c_str());
}

core::task<void> sync_quietly(std::shared_ptr<storage::disk_queue> q) {
  (void)co_await q->sync();  // the queue logs a failure and tries again at the next
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
  auto take = [&](const std::shared_ptr<storage::disk_queue>& q) {
    if (q) out.push_back(q);
  };
  for (auto& [tn, t] : _topics) {
    take(t->_disk);
    for (auto& [cn, c] : t->_channels) take(c->_disk);
  }
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

core::task<void> broker_shard::create_part(std::string topic_name, std::optional<std::string> channel_name,
                                           std::shared_ptr<channel_heads> heads) {
  if (channel_name)
    ensure_channel(topic_name, *channel_name, std::move(heads));
  else
    ensure_topic(topic_name);
  // This part's queues only (and its topic's, made with a first channel): the cost of a
  // create must not grow with the number of parts there are.
  if (!persistent()) co_return;
  if (!is_ephemeral(topic_name) && !part_disk({topic_name, std::nullopt}))
    co_await open_part_disk(this, topic_name, std::nullopt);
  if (channel_name && !is_ephemeral(*channel_name) && !part_disk({topic_name, channel_name}))
    co_await open_part_disk(this, std::move(topic_name), std::move(channel_name));
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
    b->note_if_unsynced(q);
    c->_disk = std::move(q);
    c->_journal = std::move(journal);
    c->pump();
    t->release_backlog();  // waited for this channel's queue
  } else {
    if (t->_disk) co_return;
    b->note_if_unsynced(q);
    t->_disk = std::move(q);
    t->_journal = std::move(journal);
    t->release_backlog();
  }
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

void broker_shard::note_if_unsynced(const std::shared_ptr<storage::disk_queue>& q) {
  // Dirty: e.g. a crash's tail recovered, its meta is due. A new queue of shard 0 (whose files
  // are upstream's layout) gets its meta file at the next tick, in the background: written at
  // stop, 20,000 new files for 10,000 new topics took 1 to 3 s.
  if (q->dirty() || (shard_id() == 0 && !q->meta_saved())) _unsynced.insert(q);
}

void broker_shard::sync_disk_later(const std::shared_ptr<storage::disk_queue>& q) {
  if (_group && q->claim_sync()) _group->spawn(sync_quietly(q));
  _idle_files.note(q);
  _unsynced.insert(q);
}

void channel::start_disk_read() {
  broker_shard& shard = _topic.shard();
  if (_disk_reading || !_disk || !shard._group) return;
  // Enough for local consumers' credit; a full steal batch when other shards are waiting.
  const bool remote = std::find(_remote_demand.begin(), _remote_demand.end(), true) != _remote_demand.end();
  if (!remote && (_paused || wanted() <= 0)) return;  // nobody waits for it
  _disk_reading = true;
  std::size_t want = remote ? max_steal_batch : std::size_t(std::clamp<std::int64_t>(wanted(), 64, 1024));
  shard._group->spawn(broker_shard::read_disk_batch(&shard, _topic.name(), _name, _disk, want));
}

void channel::take_from_disk(std::vector<message> batch, const std::vector<std::uint64_t>& tickets) {
  const unsigned here = _topic.shard().shard_id();
  for (std::size_t i = 0; i < batch.size() && i < tickets.size(); ++i)
    batch[i].set_tag(message_tag::disk_ticket(here, tickets[i]));
  take_batch(std::move(batch));
  if (has_queued() || _reserved_count > 0) wake_remote_demand();  // shards that asked while it was on disk
}

core::task<void> broker_shard::read_disk_batch(broker_shard* b, std::string topic_name, std::string name,
                                               std::shared_ptr<storage::disk_queue> q, std::size_t max_records) {
  if (q->pending() > 0) (void)co_await b->commit();  // records put but not yet written
  // Held in the queue until FIN: a crash before then reads them again.
  std::vector<std::uint64_t> tickets;
  std::vector<message> batch = co_await q->read(max_records, disk_read_bytes, &tickets);
  b->sync_disk_later(q);
  while (batch.empty() && q->read_error() < 0) {  // e.g. out of descriptors: nothing else would wake it
    int slept = co_await core::sleep_for(retry_pause);
    if (slept < 0) co_return;
    topic* t = b->find_topic(topic_name);
    channel* c = t ? t->find_channel(name) : nullptr;
    if (!c || c->_disk != q) co_return;
    batch = co_await q->read(max_records, disk_read_bytes, &tickets);
    b->sync_disk_later(q);
  }
  topic* t = b->find_topic(topic_name);
  channel* c = t ? t->find_channel(name) : nullptr;
  if (!c || c->_disk != q) co_return;  // deleted meanwhile: its messages went with it
  c->_disk_reading = false;
  if (!batch.empty()) c->take_from_disk(std::move(batch), tickets);
}

namespace {

// On the shard that read them: releases the disk records of messages finished elsewhere.
core::task<void> send_releases(broker_shard* self, std::string topic_name, std::string name) {
  for (unsigned o = 0; o < self->shard_count(); ++o) {
    topic* t = self->find_topic(topic_name);
    channel* c = t ? t->find_channel(name) : nullptr;
    if (!c) co_return;
    std::vector<std::uint64_t> tickets = c->take_releases(o);
    if (tickets.empty()) continue;
    broker_shard* peer = self->peer(o);
    const std::string* tn = &topic_name;
    const std::string* cn = &name;
    co_await core::on_shard(o, [peer, tn, cn, &tickets] {
      std::shared_ptr<storage::disk_queue> q = peer->part_disk({*tn, *cn});
      if (q)
        for (std::uint64_t ticket : tickets) q->release(ticket);
      if (q) peer->sync_disk_later(q);
    });
  }
  topic* t = self->find_topic(topic_name);
  if (channel* c = t ? t->find_channel(name) : nullptr) c->releases_sent();
}

}  // namespace

void broker_shard::send_releases_later(channel& c) {
  if (c._releases_sending || !_group) return;
  c._releases_sending = true;
  _group->spawn(send_releases(this, c.owner().name(), c.name()));
}

std::vector<std::uint64_t> channel::take_releases(unsigned origin) {
  std::vector<std::uint64_t> out;
  out.swap(_releases[origin]);
  return out;
}

void channel::releases_sent() {
  _releases_sending = false;
  for (auto& r : _releases)
    if (!r.empty()) return _topic.shard().send_releases_later(*this);  // more came meanwhile
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
    if (!more || t->_paused || t->_channels.empty() || q->depth() == 0 || !t->channels_disk_ready()) {
      t->_draining = false;
      co_return;
    }
    if (q->pending() > 0) (void)co_await b->commit();
    // Held in the topic's queue until the channels' queues have them on disk: a crash in
    // between reads them again instead of losing them.
    std::vector<std::uint64_t> tickets;
    std::vector<message> batch = co_await q->read(256, disk_read_bytes, &tickets);
    b->sync_disk_later(q);
    if (batch.empty() && q->read_error() < 0) {  // e.g. out of descriptors: tried again
      int slept = co_await core::sleep_for(retry_pause);
      if (slept < 0) co_return;
      continue;
    }
    t = b->find_topic(topic_name);
    if (!t || t->_disk != q) co_return;
    more = !batch.empty();
    for (message& m : batch) t->fan_out(std::move(m), /*to_disk=*/true);
    int rc = co_await b->commit_unflushed();
    if (rc < 0) {
      // A channel's queue could not take them (disk full, out of descriptors): they are
      // read again (channels that did take them get them twice, better than never) after a
      // pause, and meanwhile stay held, so a crash reads them again too.
      q->reread_held();
      int slept = co_await core::sleep_for(retry_pause);
      if (slept < 0) co_return;
      continue;
    }
    for (std::uint64_t ticket : tickets) q->release(ticket);
    b->sync_disk_later(q);
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
    const std::string why = go::errno_text(err) + core::descriptor_limit_note(err);
    if (_health) _health->set_error("failed to write to disk queue - " + why);
    _log.error("failed to write messages to disk - ", why);
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
    // Only the queues flushed, read or released since the last tick (sync_disk_later): with
    // 10,000 idle topics, walking every queue each tick cost 12 ms of CPU a second.
    std::vector<std::shared_ptr<storage::disk_queue>> due(_unsynced.begin(), _unsynced.end());
    _unsynced.clear();
    for (auto& q : due) {
      (void)co_await q->sync();  // (returns at once when nothing is due)
      if (q->dirty()) _unsynced.insert(q);  // the sync failed, or it changed meanwhile: next tick
      _idle_files.note(q);
    }
    // Idle queues hold no descriptors: with thousands of topics holding data, a descriptor
    // or two each would run into the limit (issue 28).
    for (auto& q : _idle_files.take_idle()) co_await q->close_files();
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
  // The first change is written at once; changes made while a write runs share the next one,
  // started no sooner than `metadata_write_gap`, or ten times the last write's duration, after
  // the last. Each write renders every topic, so without the gap a burst of creates (thousands
  // over one connection) paid one whole-file write per create, and the cost of a create grew
  // with the number of topics; with it, writing nsqd.dat takes at most a tenth of shard 0.
  while (_meta_dirty) {
    _meta_dirty = false;
    const auto began = core::clock::now();
    int rc = co_await persist_metadata_now();
    if (rc < 0) _meta_dirty = true;  // tried again after retry_pause
    if (!_meta_dirty) break;
    const auto took = core::clock::now() - began;
    const auto gap = rc < 0 ? core::clock::duration(retry_pause)
                            : std::max<core::clock::duration>(metadata_write_gap, 10 * took);
    const auto wait = began + gap - core::clock::now();
    if (wait <= core::clock::duration::zero()) continue;
    int slept = co_await core::sleep_for(wait);
    if (slept < 0) break;  // stopping: flush_all writes it
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
  if (rc < 0) _log.error("failed to persist metadata - ", go::errno_text(rc), core::descriptor_limit_note(rc));
  co_return rc;
}

}  // namespace nsqd::broker
