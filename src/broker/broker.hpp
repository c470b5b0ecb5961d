#pragma once
// The broker: topics and channels, split by shard (DESIGN.md, The broker).
//
// Every shard holds a part of every topic and of each of its channels: a `broker_shard`
// per shard (core::sharded<broker_shard>) owns that shard's `topic` and `channel` parts, and
// nothing else touches them. NSQ promises at-least-once delivery and no ordering, so:
//   - PUB on shard s stores into shard s's topic part and fans out (the body is shared by
//     reference) into shard s's channel parts: publishing never leaves its shard.
//   - A consumer on shard c is fed from shard c's channel part. When that part is empty and a
//     consumer there has credit, shard c asks the other parts for their backlog (they forward
//     a batch when they have one, and remember c's demand when they do not), so a consumer
//     on any shard is fed from any shard.
//   - A delivered message lives in the in-flight table of the consumer's shard until FIN,
//     REQ or timeout, so FIN/REQ/TOUCH never cross shards.
//   - Existence of topics and channels is a global fact decided by shard 0, which tells every
//     shard to create its part (creation is idempotent on each shard).
//
// Names are validated by the caller (model/names.hpp). All methods run on the part's shard.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/consumer.hpp"
#include "broker/ordering.hpp"
#include "broker/id_table.hpp"
#include "broker/pqueue.hpp"
#include "broker/quantile.hpp"
#include "broker/stats.hpp"
#include "broker/topology.hpp"
#include "config/options.hpp"
#include "core/event.hpp"
#include "core/fifo.hpp"
#include "core/log.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"
#include "core/task_group.hpp"
#include "model/message.hpp"
#include "model/message_id.hpp"
#include "storage/deferred_journal.hpp"
#include "storage/disk_queue.hpp"
#include "storage/health.hpp"
#include "storage/idle_files.hpp"
#include "storage/metadata.hpp"

namespace nsqd::broker {

class broker_shard;
class topic;

// Now as message timestamps and deadlines use it: nanoseconds since the Unix epoch.
std::int64_t unix_now_ns() noexcept;

// A client as /stats shows it: its own description plus the counters the channel keeps.
client_stats stats_of(const consumer& c);

// Not in a list (channel::_timed_slot).
inline constexpr std::size_t no_slot = std::size_t(-1);

// ---- channel ----------------------------------------------------------------------------------

// One shard's part of a channel.
class channel {
 public:
  // `heads`: shared by the channel's parts on every shard (ordering.hpp); null makes one.
  channel(topic& owner, std::string name, std::shared_ptr<channel_heads> heads = nullptr);
  const std::shared_ptr<channel_heads>& heads() const noexcept { return _heads; }
  ~channel();

  const std::string& name() const noexcept { return _name; }
  topic& owner() const noexcept { return _topic; }
  bool ephemeral() const noexcept { return _ephemeral; }

  // SUB. False when --max-channel-consumers is reached (E_SUB_FAILED). Starts delivering to
  // `c` as soon as it has credit.
  core::task<bool> subscribe(consumer& c);
  // The consumer is leaving (disconnect). Its in-flight messages stay in flight until they
  // time out, as upstream. May remove an #ephemeral channel (and topic) left without clients.
  void unsubscribe(consumer& c);
  // The consumer's credit may have grown (RDY raised, FIN/REQ/timeout lowered in_flight):
  // deliver what it can take now.
  void ready(consumer& c);

  enum class result { ok, not_in_flight, not_owner };
  // FIN: done with the message. Records the e2e latency sample.
  result finish(consumer& c, const message_id& id);
  // REQ: back to the queue now (delay 0) or after `delay` (already clamped by the caller).
  result requeue(consumer& c, const message_id& id, std::chrono::nanoseconds delay);
  // TOUCH: deadline = now + c.msg_timeout(), at most delivery + --max-msg-timeout.
  result touch(consumer& c, const message_id& id);

  // Queue scan: requeues timed-out in-flight messages and queues due deferred ones. Returns
  // whether anything was due ("dirty").
  bool process_due(std::int64_t now_ns);
  // Whether it holds in-flight or deferred messages (the queue scan has work here).
  bool holds_timed() const noexcept { return !_in_flight.empty() || !_deferred.empty(); }

  bool paused() const noexcept { return _paused; }
  // This part's share of the channel's stats, with its clients.
  channel_stats snapshot(bool include_clients) const;
  // This part's e2e latency window as of now (no percentiles when none are configured).
  latency_summary e2e_summary() const;

  // Stats of this part.
  struct counters {
    std::int64_t depth = 0;          // queued: memory and disk
    std::int64_t backend_depth = 0;  // the part of depth on disk
    std::int64_t in_flight = 0;
    std::int64_t deferred = 0;
    std::uint64_t message_count = 0; // puts (not requeues)
    std::uint64_t requeue_count = 0;
    std::uint64_t timeout_count = 0;
    std::int64_t clients = 0;
    std::uint64_t overflow_count = 0;  // puts beyond --mem-queue-size kept in memory (no disk)
  };
  counters stats() const;

  // Called by the topic's fan-out: to memory while it has room (--mem-queue-size), else to
  // the disk queue (its OK waits for broker_shard::commit); always to the disk queue, when
  // there is one, with `to_disk` (the topic moves its own disk backlog).
  void put(message m, bool to_disk = false);
  // `on_disk`: where the message's record already is in this part's disk queue (loaded from
  // the deferred sidecar; the queue skips that record). `journal`: its durable copy
  // (--durable-publish), released when the message leaves the deferred set.
  void put_deferred(message m, std::int64_t due_ns, std::optional<storage::disk_position> on_disk = {},
                    std::optional<storage::deferred_journal::ref> journal = {});
  // Whether its disk queue is open (or it needs none).
  bool disk_ready() const noexcept;

  // Cross-shard feeding (broker_shard's steal): how many messages local consumers could take
  // now that the local queue is empty (0 while it is not); a batch taken from another
  // shard's part; the steal is over (`in_vain`: it took nothing from any shard).
  std::int64_t wanted() const;
  void take_batch(std::vector<message> batch);
  void steal_ended(bool in_vain);
  // Publish order across parts (ordering.hpp): what to fetch before the queue's oldest
  // message may go (nullopt: nothing), the fetch is over; on the giving side, the queued
  // messages that go before (key, shard), up to `want`.
  struct fetch_plan {
    unsigned from;
    std::uint64_t before_key;
    std::uint64_t their_head;
    std::size_t want;
  };
  std::optional<fetch_plan> plan_fetch();
  void fetch_ended();
  std::vector<message> give_older(std::uint64_t before_key, unsigned before_shard, std::size_t want);
  // Around each request for messages from another part (their head stays low meanwhile).
  void transfer_begun();
  void transfer_done();
  // On the giving side of a steal: what was dealt to shard `taker`, and up to `want` more for
  // its `consumers` hungry consumers; with nothing here, records the demand (they share in
  // what comes next, channel_share.cpp).
  // What the hungry consumers of this part could take: how many they are and their RDY in all
  // (a share is dealt up to that: by the time it arrives they have FINed more).
  struct demand {
    unsigned consumers = 0;
    std::int64_t capacity = 0;
  };
  demand demand_now() const;
  std::vector<message> give_batch(unsigned taker, std::size_t want, demand d);
  // Batched releases of disk records read on shard `origin` (broker_shard::send_releases_later).
  std::vector<std::uint64_t> take_releases(unsigned origin);
  void releases_sent();

 private:
  friend class broker_shard;
  friend class topic;
  struct in_flight_entry {
    message msg;
    std::uint64_t owner = 0;
    std::int64_t delivered_at = 0;
    pqueue_slot pq_slot;
  };
  struct deferred_entry {
    message msg;
    pqueue_slot pq_slot;
    std::optional<storage::disk_position> on_disk;
    std::optional<storage::deferred_journal::ref> journal;
  };

  void pump();   // deal(), then advertise()
  void deal();
  void set_paused(bool paused);
  // ---- order (channel_order.cpp) ----
  // Into the keyed queue (sorted; a message without a key gets one now) or, for a message
  // read from disk, the disk-order queue.
  void enqueue(message m);
  // Merges messages from another part (sorted by key among themselves or not).
  void merge(std::vector<message> batch);
  // What the keyed queue's oldest message waits for before it may be delivered: nothing,
  // older messages in another part (fetch them), or older messages on their way here.
  enum class front_wait { nothing, older_elsewhere, older_on_the_way };
  front_wait front_waits_for();
  void refresh_heads();
  void advertise();
  bool hungry() const;
  void empty();   // drops queued, in-flight and deferred messages (/channel/empty)
  void close();   // the channel is being deleted: tells its consumers
  // Delivers the front of _queue to c; false (the message moved to _declined) if c's
  // sample rate declined it.
  bool deliver_one(consumer& c, core::fifo<message>& from);
  bool has_queued() const noexcept { return !_queue.empty() || !_from_disk.empty() || !_declined.empty(); }
  // ---- fair shares across shards (channel_share.cpp) ----
  // The rotation's length: local consumers, then one turn per hungry remote consumer.
  std::size_t turns() const;
  // Turn `t` >= the local consumers' count: deals the next message to that remote shard.
  // False when that shard wants nothing now.
  bool deal_remote(std::size_t t);
  // Moves what was dealt to `taker` into `out`; returns the oldest key moved.
  std::uint64_t take_reserved(unsigned taker, std::vector<message>& out);
  void recount_reserved();
  void record_demand(unsigned taker, demand d);
  void deliver(consumer& c, message m);
  void offer_declined();
  void requeue_now(message m);
  void wake_remote_demand();
  // Drops queued, declined, in-flight and deferred messages held in memory.
  void clear_memory();
  // Reads a batch from the disk queue into memory when local or remote consumers want work.
  void start_disk_read();
  // A batch read from this part's disk queue, each held there under its ticket.
  void take_from_disk(std::vector<message> batch, const std::vector<std::uint64_t>& tickets);
  // The message is done with (FIN): its disk record, if it was read from one, is released
  // on the shard that read it (batched for other shards).
  void release_record(const message& m);

  topic& _topic;
  std::string _name;
  bool _ephemeral;
  core::fifo<message> _queue;      // keyed, oldest first (ordering.hpp)
  core::fifo<message> _from_disk;  // read back from disk: disk order, not keyed
  std::shared_ptr<channel_heads> _heads;
  std::uint64_t _others_min = no_head;  // the other parts' oldest head when last looked
  unsigned _others_min_shard = 0;
  std::uint64_t _refreshed_at = 0;      // when last looked (a fresh clock read before)
  bool _fetching = false;               // a fetch_older task runs
  int _transfers = 0;                   // requests for messages (steal, fetch) not yet answered
  std::size_t _timed_slot = no_slot;    // its place in broker_shard::timed_channels()
  // Messages a sampling consumer declined, offered only to the channel's other consumers
  // (quirk 5, fixed): the message and the id of the consumer that declined it last.
  core::fifo<std::pair<message, std::uint64_t>> _declined;
  std::vector<consumer*> _consumers;
  size_t _next_consumer = 0;
  id_table<in_flight_entry> _in_flight;
  pqueue<in_flight_entry*> _in_flight_pq;
  id_table<deferred_entry> _deferred;
  pqueue<deferred_entry*> _deferred_pq;
  std::vector<bool> _remote_demand;  // by shard: a consumer there is starving
  // Fair shares across shards (channel_share.cpp): by shard, what its starving consumers
  // asked for and the messages dealt to them, waiting for that shard to take them.
  struct remote_share {
    std::int64_t cap = 0;  // set aside at most this many (0: they want nothing)
    unsigned consumers = 0;
    core::fifo<message> reserved;
  };
  std::vector<remote_share> _remote;
  bool _remote_wanting = false;          // some shard's cap > 0
  bool _dealing_taken = false;           // pump() runs for messages taken from another part
  std::size_t _reserved_count = 0;
  std::uint64_t _reserved_min = no_head;  // the oldest key reserved (part of this part's head)
  bool _stealing = false;            // a steal from other shards is under way
  bool _steal_again = false;         // a shard told this one of work while it was under way
  std::uint8_t _steals_in_vain = 0;  // steals in a row that took nothing (steal_ended)
  bool _paused = false;
  std::shared_ptr<storage::disk_queue> _disk;  // null: memory only (#ephemeral, no data dir, opening)
  std::shared_ptr<storage::deferred_journal> _journal;  // --durable-publish: copies of _deferred
  bool _disk_reading = false;
  std::vector<std::vector<std::uint64_t>> _releases;  // by origin shard: tickets to release there
  bool _releases_sending = false;
  std::uint64_t _message_count = 0;
  std::uint64_t _requeue_count = 0;
  std::uint64_t _timeout_count = 0;
  std::uint64_t _overflow_count = 0;
  // FIN latencies, when --e2e-processing-latency-percentile is set. Mutable: reading it
  // moves the window and flushes buffered samples, which changes nothing it reports.
  mutable std::optional<latency_window> _e2e;
};

// ---- topic ------------------------------------------------------------------------------------

// One shard's part of a topic.
class topic {
 public:
  topic(broker_shard& shard, std::string name);
  ~topic();

  const std::string& name() const noexcept { return _name; }
  broker_shard& shard() const noexcept { return _shard; }
  bool ephemeral() const noexcept { return _ephemeral; }

  // PUB/MPUB and /pub: one message with a fresh id and timestamp; fans out to the channels,
  // or waits at the topic while it has none (or is paused).
  void publish(message_body body);
  // DPUB and /pub?defer: goes straight into every channel's deferred queue.
  void publish_deferred(message_body body, std::chrono::nanoseconds delay);

  channel* find_channel(std::string_view name);
  const std::unordered_map<std::string, std::unique_ptr<channel>>& channels() const noexcept {
    return _channels;
  }

  struct counters {
    std::int64_t depth = 0;
    std::int64_t backend_depth = 0;
    std::uint64_t message_count = 0;
    std::uint64_t message_bytes = 0;
  };
  counters stats() const;
  bool paused() const noexcept { return _paused; }
  // Whether its disk queue is open (or it needs none).
  bool disk_ready() const noexcept;

 private:
  friend class broker_shard;
  message make_message(message_body body);
  // Waiting messages (memory, then disk) go to the channels once there are some and the
  // topic is not paused.
  void release_backlog();
  bool channels_disk_ready() const noexcept;
  void start_disk_drain();
  // This shard's part, created if missing (with `heads`, shared by the channel's parts).
  channel& ensure_channel(const std::string& name, std::shared_ptr<channel_heads> heads = nullptr);
  void fan_out(message m, bool to_disk = false);
  void set_paused(bool paused);
  void drop_channel(const std::string& name);
  // Gives one waiting message to `ch`: deferred while its due time is ahead, else queued.
  static void hand_over(channel& ch, message m, std::int64_t due);

  broker_shard& _shard;
  std::string _name;
  bool _ephemeral;
  message_id_generator _ids;
  std::unordered_map<std::string, std::unique_ptr<channel>> _channels;
  // Published while the topic had no channel, or paused; `due` is a DPUB's due time (ns since
  // the epoch), 0 for a plain message.
  struct waiting {
    message msg;
    std::int64_t due;
    std::optional<storage::deferred_journal::ref> journal = {};  // a DPUB's durable copy
  };
  void clear_backlog();
  core::fifo<waiting> _backlog;
  std::shared_ptr<storage::disk_queue> _disk;  // overflow of _backlog past --mem-queue-size
  std::shared_ptr<storage::deferred_journal> _journal;  // --durable-publish: copies of deferred _backlog
  bool _draining = false;             // a task moves the disk backlog to the channels
  bool _paused = false;
  std::uint64_t _message_count = 0;
  std::uint64_t _message_bytes = 0;
};

// Most messages one steal takes from one other shard.
inline constexpr std::size_t max_steal_batch = 1024;
// Queues opened or closed at once at start and stop (core::in_lanes).
inline constexpr std::size_t disk_lanes = 64;

// ---- broker_shard -----------------------------------------------------------------------------

class broker_shard {
 public:
  // `peers[n]` is shard n's broker_shard; each one registers itself there when built (all are
  // built, by core::sharded, before any serves).
  // `data_dir`: the data directory's fd, for disk queues and nsqd.dat; -1 keeps everything
  // in memory (tests). `health` (optional) receives disk write failures.
  broker_shard(core::reactor& shard, const config::options& opts, const core::logger& log,
               std::vector<broker_shard*>& peers, int data_dir = -1, storage::node_health* health = nullptr);
  ~broker_shard();

  unsigned shard_id() const noexcept { return _reactor.shard_id(); }
  unsigned shard_count() const noexcept;
  const config::options& opts() const noexcept { return _opts; }
  const core::logger& log() const noexcept { return _log; }
  core::reactor& reactor() const noexcept { return _reactor; }

  // This shard's part of topic `name`, created on every shard first if it is new.
  core::task<topic*> get_topic(std::string name);
  // This shard's part of channel `name` of topic `topic_name`, both created if new.
  core::task<channel*> get_channel(std::string topic_name, std::string name);
  topic* find_topic(std::string_view name);
  const std::unordered_map<std::string, std::unique_ptr<topic>>& topics() const noexcept {
    return _topics;
  }

  broker_shard* peer(unsigned shard) const noexcept { return _peers[shard]; }

  // On shard 0: who hears of topics and channels coming and going (topology.hpp); nullptr
  // for nobody. Set and cleared by the lookup loop.
  void set_topology_observer(topology_observer* o) noexcept { _observer = o; }
  topology_observer* observer() const noexcept { return _observer; }

  // Whether message `id` is in flight in the channel's part of any other shard (FIN/REQ/TOUCH
  // of a message delivered by another shard: "client does not own message").
  core::task<bool> in_flight_elsewhere(std::string topic_name, std::string name, message_id id);
  bool in_flight_here(const std::string& topic_name, const std::string& name, const message_id& id);

  // Producers: TCP clients of this shard that have published (for /stats). A client adds
  // itself at its first publish and removes itself when it goes.
  void add_producer(const consumer& c) { _producers.push_back(&c); }
  void remove_producer(const consumer& c);
  std::vector<client_stats> producer_snapshot() const;
  // Every shard's producers.
  core::task<std::vector<client_stats>> gather_producers();

  // Unique per process: the shard in the low bits.
  std::uint64_t next_client_id() noexcept { return (++_client_seq << 8) | shard_id(); }

  // ---- global operations: from any shard, applied to every shard's part ----
  // False when the topic (or channel) does not exist.
  enum class admin { pause, unpause, empty, remove };
  core::task<bool> topic_admin(std::string topic_name, admin op);
  core::task<bool> channel_admin(std::string topic_name, std::string name, admin op);
  // Every shard's snapshot merged: topics (and channels) sorted by name. An empty
  // topic_filter means all topics; a channel_filter keeps only topics having that channel,
  // each with only that channel.
  core::task<std::vector<topic_stats>> gather_stats(std::string topic_filter,
                                                    std::string channel_filter,
                                                    bool include_clients);
  // This shard's part of the above.
  std::vector<topic_stats> snapshot(const std::string& topic_filter,
                                    const std::string& channel_filter, bool include_clients);
  // This shard only: applies `op` to its part; false if it has none.
  core::task<bool> apply_admin(std::string topic_name, std::optional<std::string> channel_name, admin op);
  // Consumers per channel over all shards, kept on shard 0 (--max-channel-consumers and
  // #ephemeral removal). reserve: false when the channel is full. release: one fewer, and an
  // #ephemeral channel left with none is removed everywhere (its #ephemeral topic with its
  // last channel).
  core::task<bool> reserve_consumer(const std::string& topic_name, const std::string& name);
  void release_consumer(const std::string& topic_name, const std::string& name, bool ephemeral);
  // On shard 0: adds delta to the count of `key` unless that would pass max (> 0); returns
  // the new count, or -1 when refused.
  std::int64_t count_consumer(const std::string& key, int delta, int max);

  // Background work of this shard's broker (remote wake-ups, steals, disk reads, the
  // --sync-timeout loop, nsqd.dat writes on shard 0), joined by run().
  core::task<void> run();

  // ---- persistence (broker_persist.cpp) ----
  bool persistent() const noexcept { return _data_dir >= 0; }
  const storage::node_health* health() const noexcept { return _health; }
  // Disk queue file prefix of a part: "<topic>.diskqueue" or "<topic>:<channel>.diskqueue" on
  // shard 0 (upstream's names), with ".s<N>" appended on shard N.
  std::string queue_prefix(const std::string& topic_name, const std::string* channel_name) const;
  // A topic part (no channel) or a channel part, by name.
  struct part_key {
    std::string topic_name;
    std::optional<std::string> channel_name;
  };
  std::vector<part_key> part_keys() const;
  // The part's disk queue; null when the part is gone or has none.
  std::shared_ptr<storage::disk_queue> part_disk(const part_key& key) const;
  std::vector<std::shared_ptr<storage::disk_queue>> disks() const;  // of this shard's parts
  storage::disk_queue_limits disk_limits() const;
  // Something was put on a disk queue: publishers must commit() before answering OK.
  bool has_unflushed() const noexcept { return !_unflushed.empty(); }
  // Messages a part keeps in memory before it writes to disk: --mem-queue-size, or 0 with
  // --durable-publish (every message goes through the disk queue).
  std::int64_t memory_limit() const noexcept;
  // Background disk work of parts, in run()'s group (nothing happens when it is not running).
  void empty_disk_later(std::shared_ptr<storage::disk_queue> q);
  // After a flush, read or release: q's sync when due and at the next tick; idle files noted.
  void sync_disk_later(const std::shared_ptr<storage::disk_queue>& q);
  // A queue just opened joins the tick's set when a sync is due (a new one's meta included).
  void note_if_unsynced(const std::shared_ptr<storage::disk_queue>& q);
  core::task<void> remove_disk(std::shared_ptr<storage::disk_queue> q);
  void note_unflushed(const std::shared_ptr<storage::disk_queue>& q);
  // Puts `m` on `q` (null: none) for the next commit when its part already holds
  // memory_limit() messages in memory (`in_memory`); false: the part keeps it in memory.
  bool spill(const std::shared_ptr<storage::disk_queue>& q, std::size_t in_memory, const message& m);
  // With --durable-publish: the durable copy of a deferred message in `j` (null: none), to be
  // committed with the publish.
  std::optional<storage::deferred_journal::ref> keep_in_journal(storage::deferred_journal* j, const message& m);
  std::shared_ptr<storage::deferred_journal> part_journal(const part_key& key) const;
  // The topic of `key` and, for a channel's key, the channel (each null when missing).
  std::pair<topic*, channel*> find_part(const part_key& key) const;
  // Writes every disk record put so far on this shard (fsynced with --durable-publish). 0,
  // or the -errno of the write that carried this caller's records (then dropped: the
  // publish failed). Group commit: callers arriving during a write share the next one.
  core::task<int> commit();
  // commit() when anything was put on a disk queue since the last one took them, else 0 at
  // once: what a publisher awaits right after its puts, before it answers OK.
  core::task<int> commit_unflushed();
  // On shard 0: nsqd.dat is rewritten soon (coalesced); now() waits for the write.
  void persist_metadata();
  core::task<int> persist_metadata_now();
  // Start (shard 0, before serving): nsqd.dat -> topics and channels on every shard, shard
  // 0's disk queues opened with their deferred sidecars, queue files other shards left
  // after a crash taken in. Throws runtime_error; persist_metadata_now() writes nsqd.dat back.
  core::task<void> load(std::string data_path_for_errors);
  // Stop (shard 0, after the services ended): every shard's memory, in-flight and deferred
  // messages and other shards' queue files into shard 0's queues (upstream's layout), queues
  // closed, nsqd.dat written.
  core::task<void> flush_all();
  // A shard's queued messages, taken for the shutdown flush (ephemeral parts left out).
  struct part_contents {
    std::string topic_name;
    std::string channel_name;  // "" for the topic's own backlog
    std::vector<message> plain;
    std::vector<std::pair<message, std::int64_t>> deferred;  // with due times
    // Deferred messages whose records are still in this part's disk queue (sidecar-loaded).
    std::vector<storage::deferred_record> kept;
  };
  std::vector<part_contents> take_contents();
  // Closes every disk queue of this shard (`disk_lanes` at a time); on shards > 0 an empty
  // queue is removed instead. Returns the prefixes of the queues left with records.
  core::task<std::vector<std::string>> close_disks();
  // Deletes the files of every part's deferred journal (after the stop flush wrote them).
  core::task<void> remove_journals();
  // For parts: random source (sampling); cross-shard feeding (steal for a starving part, wake a shard).
  std::mt19937_64& rng() noexcept { return _rng; }
  void start_steal(channel& c);
  // Sends the channel's batched disk-record releases to their shards.
  void send_releases_later(channel& c);
  void notify_demand(channel& c, unsigned starving_shard);
  // For another shard's steal: up to `want` queued messages (maybe none); notes who wants work.
  std::vector<message> give_batch(const std::string& topic_name, const std::string& name,
                                  unsigned starving_shard, size_t want, channel::demand d);
  // Channel parts of this shard that held in-flight or deferred messages since the queue scan
  // last looked at them: the parts it samples (an idle part costs it nothing). A part joins
  // when it takes such a message and leaves when the scan finds it holds none, or when deleted.
  const std::vector<channel*>& timed_channels() const noexcept { return _timed; }
  void note_timed(channel& c);
  void forget_timed(channel& c);

  // This shard's part only, created if missing, its disk queue opened (shard 0: on each shard).
  core::task<void> create_part(std::string topic_name, std::optional<std::string> channel_name,
                               std::shared_ptr<channel_heads> heads = nullptr);
  // This shard's part only, created if missing (no disk queue: see create_part).
  topic& ensure_topic(const std::string& name);
  channel& ensure_channel(const std::string& topic_name, const std::string& name,
                          std::shared_ptr<channel_heads> heads = nullptr);
  // On shard 0: the heads its part of the channel has, or new ones for a channel to create.
  std::shared_ptr<channel_heads> heads_for(const std::string& topic_name, const std::optional<std::string>& name);
  // Fetches older messages from other parts for a local part (ordering.hpp).
  void start_fetch(channel& c);

 private:
  friend class topic;
  friend class channel;

  core::reactor& _reactor;
  const config::options& _opts;
  const core::logger& _log;
  std::vector<broker_shard*>& _peers;
  std::vector<channel*> _timed;  // see timed_channels(); outlives _topics, whose channels leave it
  std::unordered_map<std::string, std::unique_ptr<topic>> _topics;
  std::uint64_t _client_seq = 0;
  std::unordered_map<std::string, std::int64_t> _consumer_counts;  // shard 0 only
  std::vector<const consumer*> _producers;
  std::mt19937_64 _rng;
  core::task_group* _group = nullptr;  // set while run() runs
  int _data_dir = -1;
  storage::node_health* _health = nullptr;
  // Disk queues with records put since the last commit took them.
  std::vector<std::shared_ptr<storage::disk_queue>> _unflushed;
  std::uint64_t _commit_open = 0;   // the batch new records join
  std::uint64_t _commit_done = 0;   // batches below this are written (or failed)
  bool _committing = false;
  core::event _commit_finished;
  core::fifo<std::pair<std::uint64_t, int>> _commit_failures;  // recent failed batches
  storage::idle_files _idle_files;  // queues holding descriptors: closed when idle a tick
  // Queues used since the last --sync-timeout tick: it syncs these, not all (sync_loop).
  std::unordered_set<std::shared_ptr<storage::disk_queue>> _unsynced;
  topology_observer* _observer = nullptr;  // shard 0 only
  // Shard 0: new topics waiting for their observer's channels; later creators wait on the event.
  std::unordered_map<std::string, std::shared_ptr<core::event>> _topics_being_made;
  bool _meta_dirty = false;     // shard 0: nsqd.dat needs writing
  bool _meta_writing = false;

  static core::task<void> create_everywhere(std::vector<broker_shard*>* peers, const std::string* topic_name,
                                            const std::string* channel_name);
  core::task<void> sync_loop();
  core::task<void> metadata_writer();
  core::task<void> load_sidecar(part_key key);
  using held_contents = std::map<std::pair<std::string, std::string>, std::vector<part_contents>>;
  // flush_all for one part of shard 0: what every shard held of it and the files other
  // shards left into its queue, closed; its deferred sidecar written.
  core::task<void> flush_part(part_key key, held_contents* held, const std::set<std::string>* others,
                              std::int64_t now);
  core::task<void> close_disk(std::shared_ptr<storage::disk_queue> q, std::vector<std::string>* with_data);
  core::task<void> take_in_leftovers(std::string data_path);
  // Background work on parts, found again by name after each wait (they may be deleted).
  static core::task<void> open_part_disk(broker_shard* b, std::string topic_name,
                                         std::optional<std::string> channel_name);
  static core::task<void> read_disk_batch(broker_shard* b, std::string topic_name, std::string name,
                                          std::shared_ptr<storage::disk_queue> q, std::size_t max_records);
  static core::task<void> drain_topic_disk(broker_shard* b, std::string topic_name,
                                           std::shared_ptr<storage::disk_queue> q);
  static core::task<void> forget_disk(broker_shard* b, std::shared_ptr<storage::disk_queue> q, bool remove);
};

}  // namespace nsqd::broker
