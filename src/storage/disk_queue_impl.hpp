#pragma once
// Private to storage/disk_queue*.cpp: the queue's state (disk_queue::impl) and the helpers its
// parts share. disk_queue.cpp: the public face, file names, merge; disk_queue_write.cpp: puts,
// writes, syncs, the meta file, opening and crash recovery; disk_queue_read.cpp: reads, skips
// and bad segments.

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cinttypes>
#include <coroutine>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/fifo.hpp"
#include "core/io.hpp"
#include "core/log.hpp"
#include "core/task.hpp"
#include "storage/disk_queue.hpp"

namespace nsqd::storage::detail {

// Reads bring in this much (or the rest of the readable bytes) at once; records are then
// parsed from the buffer without more I/O.
inline constexpr std::int64_t read_chunk = 1 << 20;
inline constexpr std::int64_t length_bytes = std::int64_t(record_length_size);
inline constexpr std::string_view meta_suffix = ".meta.dat";
inline constexpr std::string_view segment_suffix = ".dat";

// The queue name for log lines: the prefix without ".diskqueue" (shard parts keep theirs).
inline std::string queue_name(const std::string& prefix) {
  constexpr std::string_view tail = ".diskqueue";
  if (prefix.ends_with(tail)) return prefix.substr(0, prefix.size() - tail.size());
  return prefix;
}

// "%d\n%d,%d\n%d,%d\n": depth, read file,pos, write file,pos.
inline bool parse_meta(std::string_view text, std::int64_t& depth, disk_position& read, disk_position& write) {
  std::int64_t v[5];
  const char seps[5] = {'\n', ',', '\n', ',', '\n'};
  const char* p = text.data();
  const char* end = p + text.size();
  for (int i = 0; i < 5; ++i) {
    auto [next, ec] = std::from_chars(p, end, v[i]);
    if (ec != std::errc() || next == end || *next != seps[i]) return false;
    p = next + 1;
  }
  depth = v[0];
  read = {v[1], v[2]};
  write = {v[3], v[4]};
  return v[1] >= 0 && v[2] >= 0 && v[3] >= 0 && v[4] >= 0;
}

// The number of `name` when it is `<prefix>.<digits>.dat` or `<prefix>.<digits>.dat.bad`.
inline std::optional<std::int64_t> segment_number(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || name.size() <= prefix.size() || name[prefix.size()] != '.') return std::nullopt;
  name.remove_prefix(prefix.size() + 1);
  std::int64_t n = 0;
  auto [next, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
  if (ec != std::errc() || next == name.data() || n < 0) return std::nullopt;
  std::string_view rest(next, std::size_t(name.data() + name.size() - next));
  if (rest != ".dat" && rest != ".dat.bad") return std::nullopt;
  return n;
}

// A window of one segment's bytes, read ahead in large chunks.
struct segment_reader {
  int fd = -1;
  std::int64_t file = -1;
  std::string buf;  // bytes of the file from `off`
  std::int64_t off = 0;

  // Makes [pos, pos + n) available (reading ahead up to `end`): true, or false when the
  // file ends first or a read fails.
  core::task<bool> fill(std::int64_t pos, std::int64_t n, std::int64_t end) {
    if (pos + n > end) co_return false;
    if (pos >= off && pos + n <= off + std::int64_t(buf.size())) co_return true;
    if (pos < off || pos > off + std::int64_t(buf.size())) {
      buf.clear();
    } else {
      buf.erase(0, std::size_t(pos - off));  // keep the start of the record
    }
    off = pos;
    const std::int64_t want = std::max(n, std::min(read_chunk, end - pos));
    while (std::int64_t(buf.size()) < want) {
      const std::size_t have = buf.size();
      buf.resize(std::size_t(want));
      int got = co_await core::read(fd, buf.data() + have, unsigned(std::size_t(want) - have),
                                    std::uint64_t(off) + have);
      buf.resize(have + std::size_t(std::max(got, 0)));
      if (got <= 0) break;
    }
    co_return std::int64_t(buf.size()) >= n;
  }
  std::string_view bytes(std::int64_t pos, std::int64_t n) const {
    return std::string_view(buf).substr(std::size_t(pos - off), std::size_t(n));
  }
  core::task<void> close() {
    if (fd >= 0) (void)co_await core::close(fd);
    fd = -1;
    file = -1;
    buf.clear();
    off = 0;
  }
};

// One holder at a time, the others wait in FIFO order (all on one shard).
struct fifo_lock {
  bool busy = false;
  core::reactor* shard = nullptr;
  core::fifo<std::coroutine_handle<>> waiters;

  struct acquire {
    fifo_lock& l;
    bool await_ready() noexcept {
      if (l.busy) return false;
      l.busy = true;
      return true;
    }
    template <core::has_context P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      l.shard = h.promise().shard;
      l.waiters.push_back(h);
    }
    void await_resume() noexcept {}
  };
  void release() noexcept {
    if (waiters.empty()) {
      busy = false;
      return;
    }
    std::coroutine_handle<> next = waiters.front();  // the lock passes on: busy stays set
    waiters.pop_front();
    shard->schedule(next);
  }
  struct guard {
    fifo_lock& l;
    ~guard() { l.release(); }
  };
};

// Runs `op` holding `l`.
template <class T>
core::task<T> holding(fifo_lock& l, core::task<T> op) {
  co_await fifo_lock::acquire{l};
  fifo_lock::guard g{l};
  T result = co_await std::move(op);
  co_return result;
}

}  // namespace nsqd::storage::detail

namespace nsqd::storage {

struct disk_queue::impl {
  impl(int dirfd, std::string prefix, disk_queue_limits limits, const core::logger& log,
       std::map<disk_position, message_id>& skip)
      : dirfd(dirfd), prefix(std::move(prefix)), name(detail::queue_name(this->prefix)), lim(limits), log(log),
        skip(skip) {}

  ~impl() {
    if (write_fd >= 0) ::close(write_fd);
    if (reader.fd >= 0) ::close(reader.fd);
  }

  const int dirfd;
  const std::string prefix;
  const std::string name;
  const disk_queue_limits lim;
  const core::logger& log;
  std::map<disk_position, message_id>& skip;

  // Positions. Invariant: read <= written <= logical.
  disk_position read;     // next record to read
  disk_position written;  // end of what is on disk (the meta file's write position)
  disk_position logical;  // end of what was put
  std::int64_t disk_depth = 0;  // records between read and written

  // Records put and not yet written: one chunk of contiguous records per segment touched.
  struct chunk {
    std::int64_t file;
    std::int64_t offset;
    std::string bytes;
    std::int64_t count;
  };
  core::fifo<chunk> pending;
  std::int64_t pending_count = 0;  // includes the records a running flush carries

  int write_fd = -1;  // open on segment `written.file` (or -1)
  detail::segment_reader reader;
  std::int64_t read_end = -1;       // real size of the completed segment `read_end_file`
  std::int64_t read_end_file = -1;

  std::uint64_t uses = 0;  // flushes and reads (disk_queue::uses)
  int read_error = 0;      // what ended the last read early (disk_queue::read_error)
  std::int64_t ops_since_sync = 0;
  bool need_sync = false;
  bool released_since_sync = false;  // release() moved the first unreleased record

  // Records read with tickets and not all released yet, oldest first: the first not
  // released is where the meta file says reading starts (a crash re-reads from there).
  struct unreleased {
    disk_position at;
    bool done;
  };
  core::fifo<unreleased> held;
  std::uint64_t first_ticket = 0;   // ticket of held.front()
  // Finished segments below this are deleted; those from here to the read segment wait for
  // their records to be released (deleted after a sync that no longer names them).
  std::int64_t deleted_below = 0;
  disk_position safe_read() const noexcept { return held.empty() ? read : held.front().at; }
  // Segments below `upto` (and below the read segment) that nothing needs any more.
  core::task<void> delete_finished_below(std::int64_t upto);
  void forget_held();
  bool removed = false;  // remove(): the meta file is never written again
  // What the meta file says ("" when there is none): a sync that would write the same text,
  // with no segment open to fsync, writes nothing, so a stop costs nothing for the thousands
  // of queues of idle topics. (Each queue still gets its meta file at its first close, as
  // upstream's does.)
  std::string meta_on_disk;
  // Whether this queue may have files (a meta file or segments were found or made): a queue
  // that never had any is removed without looking for them.
  bool may_have_files = false;

  // File operations run one at a time, FIFO (`files`). Syncs (fsync of the write segment +
  // the meta file) take `syncing` instead, so a periodic sync does not hold up writes and
  // reads; whatever closes the write segment or touches the meta file takes `syncing` too.
  detail::fifo_lock files;
  detail::fifo_lock syncing;
  bool sync_claimed = false;  // claim_sync() said yes; the sync has not started yet

  std::string segment(std::int64_t n) const;
  std::string meta_name() const { return prefix + std::string(detail::meta_suffix); }

  // ---- put ----
  std::optional<disk_position> put(const message& m);
  // Decides where a record of `len` payload bytes goes (rolling as v1.1.0) and returns the
  // buffer it is to be appended to.
  std::string& place(std::int64_t len, disk_position& at);
  // Places the pending records again from `written` (their room was lost: a failed write, or
  // the write segment skipped as corrupt).
  void replace_pending();

  // ---- write segment, sync, meta ----
  core::task<int> open_write_fd();
  core::task<int> close_write_fd(bool sync);
  // After a failed write: the bytes it left past `written` would be read as records from a
  // completed segment (or counted as a crash tail at the next start). io_uring has no
  // ftruncate before Linux 6.9 (liburing 2.6), so this error path calls ftruncate(2).
  void trim_failed_write();

  std::string meta_text() const;
  // fsync of the write segment, then the meta file (unless removed) with the positions of
  // the moment the sync started: records written or read meanwhile wait for the next sync.
  // Holds `syncing` only, so flushes and reads go on while the disk works.
  core::task<int> sync_now();
  // Finishes the write segment (fsync, close) and moves writing to `file`, persisting the
  // move at once (as upstream syncs on every roll): after a crash, the meta file never names a
  // write segment older than one holding data.
  core::task<int> roll_to(std::int64_t file);

  // ---- open ----
  core::task<int> open_locked();
  // 0 (also when there is no meta file: an empty queue at 0,0), or -errno.
  core::task<int> load_meta();
  // The meta file is unusable: start empty after every segment there is, so none is read as
  // this queue's data or overwritten. io_uring cannot list a directory, so this error path
  // uses readdir(3) on a descriptor opened through io_uring.
  core::task<void> start_after_existing_segments();
  // go-diskqueue's checkTailCorruption for a reader ahead of the writer: both skip to a fresh
  // segment.
  void fix_inconsistent_positions();
  // A write segment longer than the meta file says holds records written after the last sync
  // (a crash): they are counted and writing goes on in a new segment, so the reader (reading
  // completed segments to their real size) delivers them.
  core::task<void> recover_crash_tail();
  // Whole valid records in [from, to) of a segment (up to the first bad or cut one).
  core::task<std::int64_t> count_records(std::int64_t file, std::int64_t from, std::int64_t to);

  // ---- flush ----
  core::task<int> flush_locked();
  core::task<int> write_chunk(const chunk& c);
  // A write failed: the records of this flush not yet on disk are dropped, later puts move up
  // behind what is on disk.
  core::task<void> drop_failed(core::fifo<chunk>& batch, int rc);

  // ---- read ----
  core::task<std::vector<message>> read_locked(std::size_t max_records, std::size_t max_bytes,
                                               std::vector<std::uint64_t>* tickets);
  // Whether the record `payload` at `at` is one skip() named (forgetting the entry either way).
  bool skipped_here(disk_position at, std::string_view payload);
  // Prepares the read segment: 1 and `end` (its readable size), 0 when reading moved on to
  // another segment (this one finished or missing), -errno on an error worth retrying later.
  core::task<int> readable_end(std::int64_t& end);
  int log_read_error(int rc);
  // The reader left a completed segment: it is deleted (and the move synced).
  core::task<void> finish_read_segment();
  // go-diskqueue's handleReadError: the read segment is renamed .bad and skipped; if it was
  // also the write segment, writing moves to a fresh one.
  core::task<void> skip_bad_segment(std::string why);
  // go-diskqueue's checkTailCorruption: a reader that caught up with the writer leaves
  // nothing on disk, whatever the count said.
  void check_tail();

  core::task<std::optional<message>> read_at_locked(disk_position at);

  // ---- empty / remove / close ----
  // Deletes segments read..write and the meta file; the queue continues, empty, after them.
  core::task<int> delete_files(bool keep_meta);

  core::task<int> close_locked();

  // Records read, written or released since the last sync, or a sync asked for.
  bool dirty() const noexcept { return ops_since_sync > 0 || need_sync || released_since_sync; }
  core::task<int> sync_if_dirty();
};

}  // namespace nsqd::storage
