#pragma once
// disk_queue: one go-diskqueue v1.1.0 queue (SPEC D.3) owned by one shard; all file I/O
// through io_uring (core/io.hpp), shielded from the caller's cancellation.
//
//   disk_queue q(dirfd, "orders:audit.diskqueue", limits, log);   // shard 0: upstream names
//   disk_queue q(dirfd, "orders:audit.diskqueue.s2", limits, log); // shard 2: upstream never opens
//   int rc = co_await q.open();            // loads <prefix>.meta.dat; creates nothing yet
//   position p = q.put(msg);               // appends to the pending buffer: no I/O, no wait
//   int rc = co_await q.flush();           // pending records written (0, or -errno: dropped)
//   std::vector<message> batch = co_await q.read(256, 1 << 20);  // consumed: depth falls
//   co_await q.close();                    // flush, fsync, meta
//
// Files in the directory (`prefix` = "<queue name>.diskqueue", or with ".s<N>" for other
// shards' parts): segments `<prefix>.%06d.dat`, metadata `<prefix>.meta.dat` written as
// "%d\n%d,%d\n%d,%d\n" (depth, read file,pos, write file,pos) through a temp file + fsync +
// rename (core::write_file_atomically), corrupt segments renamed `<segment>.bad`.
//
// Records are `[int32 BE length][payload]` (model/message.hpp: append_disk_record,
// decode_payload, record_length_ok). Rolling as v1.1.0: before a record is placed, if
// write_pos > 0 and write_pos + 4 + length > max_bytes_per_file, the queue moves to the next
// segment (the finished one is fsynced at the next flush and closed).
//
// Writes are buffered: put() places the record at its logical position at once (so rolling
// and positions are decided at put time) and flush() writes everything pending with as few
// writes as it can (one per segment touched). A failed flush (ENOSPC, EIO, ...) drops every
// record still pending, rewinds the write position to what is on disk and returns -errno:
// records of earlier successful flushes are untouched, and the next flush tries again (a
// partial write beyond the on-disk position is overwritten later; a restart never sees it as
// data because the meta file's write position or the next segment bounds it).
//
// Syncing (fsync of the write segment + meta file): counted per record read or written; at
// `sync_every`, or when a read left a segment (then deleted) or skipped a corrupt one, a sync
// is due: claim_sync() says so once and the owner runs sync(), in the background (the owner
// also calls sync() every --sync-timeout when dirty()). A sync does not wait for flushes or
// reads, nor they for it: it writes the positions of the moment it started. Finishing a
// segment (rolling) and close() sync inline. With `sync_each_flush` every flush with records
// ends with an fsync (group commit) before it returns.
//
// Crash-safe reads (beyond go-diskqueue, whose read position passes a message as soon as it
// is read): records read with tickets are held until the owner releases them; the meta file
// names the first held record as the read position (with the depth counted from there), and
// segments are deleted only once a synced meta file no longer names them. A crash therefore
// re-reads what was held (at least once); close() counts everything as released.
//
// Reading sees only flushed records. read() consumes up to `max_records` / about `max_bytes`
// records (at least one if any): the read position moves past them and depth falls by
// their count. Completed segments are read up to their real size (a segment longer than its
// final write position, left by a crash, is read to the end); the write segment up to the
// flushed write position. A bad record length or a record cut short in a completed segment
// renames that segment `.bad` and goes on with the next one (if it was the write segment,
// writing also moves to a fresh one); when the reader reaches the writer, depth is set to
// the number of pending records (go-diskqueue's checkTailCorruption: logged when it was not).
//
// Crash tail: open() looks at the write segment; when it is longer than the meta file's
// write position (metadata not synced before a crash), the records past that position are
// counted into depth and writing continues in a new segment, so they are delivered.
//
// Concurrency: every method runs on the owning shard. Operations that touch files (flush,
// read, empty, remove, close, read_at; sync apart, see above) are serialised inside the queue: a call made
// while another runs waits for it (so a flush made after a put always writes that put's
// record, or returns the error that dropped it). The owner keeps the queue alive (e.g. with a
// shared_ptr) until every call it made has returned.

#include <cstdint>
#include <memory>
#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event.hpp"
#include "core/log.hpp"
#include "core/task.hpp"
#include "model/message.hpp"

namespace nsqd::storage {

struct disk_queue_limits {
  std::int64_t max_bytes_per_file = 104857600;
  std::int64_t max_msg_size = 1048576;   // record lengths 26 .. max_msg_size + 26
  std::int64_t sync_every = 2500;
  bool sync_each_flush = false;          // group commit: every flush ends with an fsync
};

// Where a record starts: segment number and byte offset.
struct disk_position {
  std::int64_t file = 0;
  std::int64_t pos = 0;
  auto operator<=>(const disk_position&) const = default;
};

class disk_queue {
 public:
  // `dirfd` is the data directory (not owned); `prefix` as above; `log` for corruption and
  // I/O error lines (upstream's wording: "DISKQUEUE(<name>): ...").
  disk_queue(int dirfd, std::string prefix, disk_queue_limits limits, const core::logger& log);
  ~disk_queue();  // closes fds synchronously (close(2)); call close() first to keep data
  disk_queue(const disk_queue&) = delete;
  disk_queue& operator=(const disk_queue&) = delete;

  const std::string& prefix() const noexcept { return _prefix; }
  // The prefix of a queue's file name ("<prefix>.meta.dat" or "<prefix>.<6+ digits>.dat"),
  // or nullopt for any other name (".bad" and temp files included).
  static std::optional<std::string> prefix_of_file(std::string_view file);

  // Loads the meta file if there is one (none: an empty queue at 0,0 / 0,0); handles the
  // crash tail. 0, or -errno when the meta file exists but cannot be read/parsed (the queue
  // then starts empty at the next segment after any existing one, and the error is logged).
  core::task<int> open();

  // Appends one record (pending until flush). nullopt, and nothing stored, when the record
  // length is outside 26..max_msg_size+26.
  std::optional<disk_position> put(const message& m);
  // Records put and not yet flushed.
  std::int64_t pending() const noexcept;
  core::task<int> flush();

  // Records queued: on disk (after the read position) plus pending, minus skipped ones.
  std::int64_t depth() const noexcept;
  // Whether read() would find something now (flushed records after the read position).
  bool readable() const noexcept;
  // With `tickets`, each record returned is held (crash-safe reads): tickets->push_back gives
  // its ticket, and the meta file keeps naming the first record not release()d as where
  // reading starts (its segment is kept), so a crash before the owner is done with a message
  // (FIN, or it is durable elsewhere) reads it again. Without, records are consumed at once.
  core::task<std::vector<message>> read(std::size_t max_records, std::size_t max_bytes,
                                        std::vector<std::uint64_t>* tickets = nullptr);
  // The owner is done with the record of `ticket` (only its low ticket_bits count; unknown or
  // stale tickets, e.g. from before an empty(), are ignored).
  static constexpr unsigned ticket_bits = 35;
  void release(std::uint64_t ticket) noexcept;
  // Records read with tickets and not released, and records read after the first of them.
  std::int64_t held() const noexcept;
  // The error that ended the last read() early (0: none), e.g. -EMFILE: the records are still
  // there, and a later read() tries again.
  int read_error() const noexcept;
  // Reading goes back to the first record not released, as a restart would: every held
  // record is read again (and depth counts them again); their tickets become stale. For an
  // owner that could not pass a batch on (its write elsewhere failed) and must not wait for
  // a restart to retry it.
  void reread_held() noexcept;

  // The record at `at` (a position put() returned, or from a sidecar), without consuming it;
  // nullopt when it is not a valid record between the read and the flushed write position.
  core::task<std::optional<message>> read_at(disk_position at);
  // The record at `at` with id `id` will be dropped by read() when reached (it lives
  // elsewhere now: taken by read_at, or a deferred message kept in memory whose record is
  // only its durable copy); depth() stops counting it at once. A record found there with
  // another id is delivered (a failed write moved records to new positions: better twice
  // than never). Ignored when `at` is before the read position.
  void skip(disk_position at, const message_id& id);
  const std::map<disk_position, message_id>& skipped() const noexcept { return _skip; }

  // Whether records were read or written since the last sync.
  bool dirty() const noexcept;
  // Whether the queue's meta file is on disk as the queue last wrote or read it. A new queue's
  // is not until its first sync(), which writes it even when nothing else is due: its owner
  // syncs new queues soon after their creation, not all at once at stop.
  bool meta_saved() const noexcept;

  // Descriptors: the write segment stays open between flushes and the read segment between
  // reads, so a busy queue opens each once. An idle one need not hold them (thousands of
  // queues holding data would take thousands of descriptors): the owner closes them when
  // uses() has not moved for a while; the next flush or read opens them again.
  bool holds_files() const noexcept;
  std::uint64_t uses() const noexcept;  // flushes and reads so far
  core::task<void> close_files();
  // Whether a sync is due and not claimed yet; true claims it (the caller then runs sync()).
  bool claim_sync() noexcept;
  core::task<int> sync();

  // Empty: deletes every segment and the meta file (pending records dropped, skips
  // forgotten); continues at write file + 1, depth 0 (as go-diskqueue's Empty).
  core::task<int> empty();
  // Delete: as empty, and the meta file is not written again (topic/channel delete).
  core::task<int> remove();
  // Flush, fsync, write the meta file (even for an empty queue: "0\n0,0\n0,0\n"), close fds.
  // Held records count as released: the owner closes after it put what it held elsewhere.
  core::task<int> close();

  // Current positions (for tests and the shutdown sidecar).
  disk_position read_position() const noexcept;
  disk_position write_position() const noexcept;  // logical: after the last put

 private:
  // implementation-defined members
  struct impl;
  std::unique_ptr<impl> _impl;
  std::string _prefix;
  std::map<disk_position, message_id> _skip;
};

// Moves every record of `src` to the end of `dst` (written), then deletes src's files. A
// failed write is logged and leaves src closed with what it still holds.
core::task<void> merge_queue(disk_queue& src, disk_queue& dst, const core::logger& log);

}  // namespace nsqd::storage
