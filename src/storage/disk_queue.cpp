#include "storage/disk_queue.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <coroutine>
#include <cstdio>
#include <cstring>

#include "core/file.hpp"
#include "core/io.hpp"
#include "core/reactor.hpp"
#include "go/go_syntax.hpp"

namespace nsqd::storage {

namespace {

// Reads bring in this much (or the rest of the readable bytes) at once; records are then
// parsed from the buffer without more I/O.
constexpr std::int64_t read_chunk = 1 << 20;
constexpr std::int64_t length_bytes = std::int64_t(record_length_size);
constexpr std::string_view meta_suffix = ".meta.dat";
constexpr std::string_view segment_suffix = ".dat";

// The queue name for log lines: the prefix without ".diskqueue" (shard parts keep theirs).
std::string queue_name(const std::string& prefix) {
  constexpr std::string_view tail = ".diskqueue";
  if (prefix.ends_with(tail)) return prefix.substr(0, prefix.size() - tail.size());
  return prefix;
}

// "%d\n%d,%d\n%d,%d\n": depth, read file,pos, write file,pos.
bool parse_meta(std::string_view text, std::int64_t& depth, disk_position& read, disk_position& write) {
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
std::optional<std::int64_t> segment_number(std::string_view name, std::string_view prefix) {
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
  std::deque<std::coroutine_handle<>> waiters;

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

}  // namespace

struct disk_queue::impl {
  impl(int dirfd, std::string prefix, disk_queue_limits limits, const core::logger& log,
       std::map<disk_position, message_id>& skip)
      : dirfd(dirfd), prefix(std::move(prefix)), name(queue_name(this->prefix)), lim(limits), log(log),
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
  std::deque<chunk> pending;
  std::int64_t pending_count = 0;  // includes the records a running flush carries

  int write_fd = -1;  // open on segment `written.file` (or -1)
  segment_reader reader;
  std::int64_t read_end = -1;       // real size of the completed segment `read_end_file`
  std::int64_t read_end_file = -1;

  std::int64_t ops_since_sync = 0;
  bool need_sync = false;
  bool removed = false;  // remove(): the meta file is never written again

  // File operations run one at a time, FIFO (`files`). Syncs (fsync of the write segment +
  // the meta file) take `syncing` instead, so a periodic sync does not hold up writes and
  // reads; whatever closes the write segment or touches the meta file takes `syncing` too.
  fifo_lock files;
  fifo_lock syncing;
  bool sync_claimed = false;  // claim_sync() said yes; the sync has not started yet

  std::string segment(std::int64_t n) const {
    char num[32];
    std::snprintf(num, sizeof num, ".%06" PRId64 ".dat", n);
    return prefix + num;
  }
  std::string meta_name() const { return prefix + std::string(meta_suffix); }

  // ---- put ----
  std::optional<disk_position> put(const message& m) {
    const std::int64_t len = std::int64_t(payload_size(m));
    if (!record_length_ok(len, lim.max_msg_size)) return std::nullopt;
    disk_position at;
    append_disk_record(place(len, at), m);
    return at;
  }
  // Decides where a record of `len` payload bytes goes (rolling as v1.1.0) and returns the
  // buffer it is to be appended to.
  std::string& place(std::int64_t len, disk_position& at) {
    if (logical.pos > 0 && logical.pos + length_bytes + len > lim.max_bytes_per_file) logical = {logical.file + 1, 0};
    if (pending.empty() || pending.back().file != logical.file)
      pending.push_back({logical.file, logical.pos, {}, 0});
    chunk& c = pending.back();
    ++c.count;
    ++pending_count;
    at = logical;
    logical.pos += length_bytes + len;
    return c.bytes;
  }
  // Places the pending records again from `written` (their room was lost: a failed write, or
  // the write segment skipped as corrupt).
  void replace_pending() {
    std::deque<chunk> old;
    old.swap(pending);
    pending_count = 0;
    logical = written;
    for (const chunk& c : old) {
      std::string_view b = c.bytes;
      while (b.size() >= record_length_size) {
        const std::int64_t len = read_record_length(b.data());
        disk_position at;
        place(len, at).append(b.substr(0, std::size_t(length_bytes + len)));
        b.remove_prefix(std::size_t(length_bytes + len));
      }
    }
  }

  // ---- write segment, sync, meta ----
  core::task<int> open_write_fd() {
    if (write_fd >= 0) co_return 0;
    std::string file = segment(written.file);
    int fd = co_await core::openat(dirfd, file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) co_return fd;
    write_fd = fd;
    co_return 0;
  }
  core::task<int> close_write_fd(bool sync) {
    co_await fifo_lock::acquire{syncing};  // not while a sync uses the descriptor
    fifo_lock::guard g{syncing};
    if (write_fd < 0) co_return 0;
    int rc = 0;
    if (sync) rc = co_await core::fsync(write_fd);
    (void)co_await core::close(write_fd);
    write_fd = -1;
    co_return rc;
  }
  // After a failed write: the bytes it left past `written` would be read as records from a
  // completed segment (or counted as a crash tail at the next start). io_uring has no
  // ftruncate before Linux 6.9 (liburing 2.6), so this error path calls ftruncate(2).
  void trim_failed_write() {
    if (write_fd >= 0 && ::ftruncate(write_fd, off_t(written.pos)) != 0)
      log.error("DISKQUEUE(", name, ") failed to truncate ", segment(written.file), " - ", go::errno_text(errno));
  }

  std::string meta_text() const {
    char text[128];
    int n = std::snprintf(text, sizeof text, "%" PRId64 "\n%" PRId64 ",%" PRId64 "\n%" PRId64 ",%" PRId64 "\n",
                          disk_depth, read.file, read.pos, written.file, written.pos);
    return std::string(text, std::size_t(n));
  }
  // fsync of the write segment, then the meta file (unless removed) with the positions of
  // the moment the sync started: records written or read meanwhile wait for the next sync.
  // Holds `syncing` only, so flushes and reads go on while the disk works.
  core::task<int> sync_now() {
    co_await fifo_lock::acquire{syncing};
    fifo_lock::guard g{syncing};
    sync_claimed = false;
    const std::string meta = meta_text();
    const int fd = write_fd;  // stays open: closing it takes `syncing`
    ops_since_sync = 0;
    need_sync = false;
    int rc = 0;
    if (fd >= 0) rc = co_await core::fsync(fd);
    if (rc == 0 && !removed) rc = co_await core::write_file_atomically(dirfd, meta_name(), meta, 0600);
    if (rc < 0) {
      log.error("DISKQUEUE(", name, ") failed to sync - ", go::errno_text(rc));
      need_sync = true;
      co_return rc;
    }
    co_return 0;
  }
  // Finishes the write segment (fsync, close) and moves writing to `file`, persisting the
  // move at once (as upstream syncs on every roll): after a crash, the meta file never names a
  // write segment older than one holding data.
  core::task<int> roll_to(std::int64_t file) {
    int rc = co_await close_write_fd(true);
    if (rc < 0) log.error("DISKQUEUE(", name, ") failed to sync - ", go::errno_text(rc));
    written = {file, 0};
    int s = co_await sync_now();
    if (rc == 0) rc = s;
    co_return rc;
  }

  // ---- open ----
  core::task<int> open_locked() {
    int rc = co_await load_meta();
    if (rc < 0) {
      co_await start_after_existing_segments();
    } else {
      fix_inconsistent_positions();
      co_await recover_crash_tail();
    }
    logical = written;
    co_return rc;
  }
  // 0 (also when there is no meta file: an empty queue at 0,0), or -errno.
  core::task<int> load_meta() {
    std::string text;
    int rc = co_await core::read_file(dirfd, meta_name(), text);
    if (rc == -ENOENT) co_return 0;
    if (rc == 0 && !parse_meta(text, disk_depth, read, written)) rc = -EINVAL;
    if (rc < 0) {
      log.error("DISKQUEUE(", name, ") failed to retrieveMetaData - ", go::errno_text(rc));
      disk_depth = 0;
      read = written = {};
    }
    co_return rc;
  }
  // The meta file is unusable: start empty after every segment there is, so none is read as
  // this queue's data or overwritten. io_uring cannot list a directory, so this error path
  // uses readdir(3) on a descriptor opened through io_uring.
  core::task<void> start_after_existing_segments() {
    std::int64_t next = 0;
    int fd = co_await core::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      if (DIR* d = ::fdopendir(fd)) {
        while (dirent* e = ::readdir(d)) {
          std::optional<std::int64_t> n = segment_number(e->d_name, prefix);
          if (n) next = std::max(next, *n + 1);
        }
        ::closedir(d);
      } else {
        (void)co_await core::close(fd);
      }
    }
    read = written = {next, 0};
    disk_depth = 0;
  }
  // go-diskqueue's checkTailCorruption for a reader ahead of the writer: both skip to a fresh
  // segment.
  void fix_inconsistent_positions() {
    if (!(written < read)) return;
    log.error("DISKQUEUE(", name, ") read position ", read.file, ",", read.pos, " > write position ", written.file,
              ",", written.pos, ", corruption, skipping to next writeFileNum and resetting 0...");
    read = written = {std::max(read.file, written.file) + 1, 0};
    disk_depth = 0;
    need_sync = true;
  }
  // A write segment longer than the meta file says holds records written after the last sync
  // (a crash): they are counted and writing goes on in a new segment, so the reader (reading
  // completed segments to their real size) delivers them.
  core::task<void> recover_crash_tail() {
    struct statx st {};
    std::string file = segment(written.file);
    int rc = co_await core::statx(dirfd, file.c_str(), 0, &st);
    if (rc < 0 || std::int64_t(st.stx_size) <= written.pos) co_return;
    std::int64_t tail = co_await count_records(written.file, written.pos, std::int64_t(st.stx_size));
    log.warn("DISKQUEUE(", name, ") ", file, " metadata writePos ", written.pos, " < file size of ", st.stx_size,
             ", skipping to new file (", tail, " more messages)");
    disk_depth += tail;
    written = {written.file + 1, 0};
    (void)co_await sync_now();  // a second crash must not reuse the new segment's number
  }
  // Whole valid records in [from, to) of a segment (up to the first bad or cut one).
  core::task<std::int64_t> count_records(std::int64_t file, std::int64_t from, std::int64_t to) {
    segment_reader r;
    std::string path = segment(file);
    r.fd = co_await core::openat(dirfd, path.c_str(), O_RDONLY | O_CLOEXEC);
    if (r.fd < 0) co_return 0;
    std::int64_t count = 0;
    for (std::int64_t pos = from;; ++count) {
      bool ok = co_await r.fill(pos, length_bytes, to);
      if (!ok) break;
      const std::int64_t len = read_record_length(r.bytes(pos, length_bytes).data());
      if (!record_length_ok(len, lim.max_msg_size) || pos + length_bytes + len > to) break;
      pos += length_bytes + len;
    }
    co_await r.close();
    co_return count;
  }

  // ---- flush ----
  core::task<int> flush_locked() {
    std::deque<chunk> batch;
    batch.swap(pending);  // records put while this runs go to new chunks, for the next flush
    std::int64_t wrote = 0;
    while (!batch.empty()) {
      const chunk& c = batch.front();
      int rc = co_await write_chunk(c);
      if (rc < 0) {
        co_await drop_failed(batch, rc);
        co_return rc;
      }
      written = {c.file, c.offset + std::int64_t(c.bytes.size())};
      disk_depth += c.count;
      ops_since_sync += c.count;
      pending_count -= c.count;
      wrote += c.count;
      batch.pop_front();
    }
    if (wrote > 0 && lim.sync_each_flush) {  // group commit: OK only once durable
      int rc = co_await sync_now();
      if (rc < 0) co_return rc;
    }
    co_return 0;
  }
  core::task<int> write_chunk(const chunk& c) {
    if (c.file != written.file) {  // placed in a later segment: roll (c.offset is 0)
      int rc = co_await roll_to(c.file);
      if (rc < 0 && lim.sync_each_flush) co_return rc;
    }
    int rc = co_await open_write_fd();
    if (rc == 0) rc = co_await core::write_all(write_fd, c.bytes, std::uint64_t(c.offset));
    co_return rc;
  }
  // A write failed: the records of this flush not yet on disk are dropped, later puts move up
  // behind what is on disk.
  core::task<void> drop_failed(std::deque<chunk>& batch, int rc) {
    std::int64_t dropped = 0;
    for (const chunk& c : batch) dropped += c.count;
    pending_count -= dropped;
    batch.clear();
    log.error("DISKQUEUE(", name, ") failed to write ", dropped, " messages to ", segment(written.file), " - ",
              go::errno_text(rc));
    trim_failed_write();
    (void)co_await close_write_fd(false);  // reopened by the next flush
    replace_pending();
  }

  // ---- read ----
  core::task<std::vector<message>> read_locked(std::size_t max_records, std::size_t max_bytes) {
    std::vector<message> out;
    std::size_t bytes = 0;
    while (read < written && out.size() < max_records && (out.empty() || bytes < max_bytes)) {
      std::int64_t end = 0;
      int st = co_await readable_end(end);
      if (st < 0) break;
      if (st == 0) continue;  // moved to another segment
      bool ok = co_await reader.fill(read.pos, length_bytes, end);
      std::int64_t len = ok ? read_record_length(reader.bytes(read.pos, length_bytes).data()) : 0;
      if (ok && !record_length_ok(len, lim.max_msg_size)) {
        std::string why = "invalid message read size (" + std::to_string(len) + ")";
        co_await skip_bad_segment(std::move(why));
        continue;
      }
      if (ok) ok = co_await reader.fill(read.pos, length_bytes + len, end);
      if (!ok) {
        co_await skip_bad_segment("record cut short");
        continue;
      }
      const disk_position at = read;
      std::string_view payload = reader.bytes(read.pos + length_bytes, len);
      read.pos += length_bytes + len;
      --disk_depth;
      ++ops_since_sync;
      if (skipped_here(at, payload)) continue;  // delivered from elsewhere
      std::optional<message> m = decode_payload(payload, lim.max_msg_size);
      if (!m) continue;
      bytes += std::size_t(len);
      out.push_back(std::move(*m));
    }
    check_tail();
    skip.erase(skip.begin(), skip.lower_bound(read));
    co_return out;
  }
  // Whether the record `payload` at `at` is one skip() named (forgetting the entry either way).
  bool skipped_here(disk_position at, std::string_view payload) {
    auto it = skip.find(at);
    if (it == skip.end()) return false;
    const bool same = payload.substr(message_id_offset, it->second.hex.size()) ==
                      std::string_view(it->second.hex.data(), it->second.hex.size());
    skip.erase(it);
    return same;
  }
  // Prepares the read segment: 1 and `end` (its readable size), 0 when reading moved on to
  // another segment (this one finished or missing), -errno on an error worth retrying later.
  core::task<int> readable_end(std::int64_t& end) {
    if (read.file != read_end_file) {
      read_end_file = -1;
      if (read.file < written.file) {  // a completed segment: read to its real size
        struct statx st {};
        std::string file = segment(read.file);
        int rc = co_await core::statx(dirfd, file.c_str(), 0, &st);
        if (rc == -ENOENT) {
          co_await skip_bad_segment("missing file");
          co_return 0;
        }
        if (rc < 0) co_return log_read_error(rc);
        read_end = std::int64_t(st.stx_size);
        read_end_file = read.file;
      }
    }
    if (read.file == written.file) {
      end = written.pos;
    } else if (read.pos < read_end) {
      end = read_end;
    } else {
      co_await finish_read_segment();
      co_return 0;
    }
    if (reader.file != read.file) {
      co_await reader.close();
      std::string file = segment(read.file);
      int fd = co_await core::openat(dirfd, file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd == -ENOENT) {
        co_await skip_bad_segment("missing file");
        co_return 0;
      }
      if (fd < 0) co_return log_read_error(fd);  // e.g. EMFILE: not the file's fault
      reader.fd = fd;
      reader.file = read.file;
    }
    co_return 1;
  }
  int log_read_error(int rc) {
    log.error("DISKQUEUE(", name, ") reading at ", read.pos, " of ", segment(read.file), " - ", go::errno_text(rc));
    return rc;
  }
  // The reader left a completed segment: it is deleted (and the move synced).
  core::task<void> finish_read_segment() {
    co_await reader.close();
    std::string file = segment(read.file);
    int rc = co_await core::unlinkat(dirfd, file.c_str());
    if (rc < 0 && rc != -ENOENT) log.error("DISKQUEUE(", name, ") failed to Remove(", file, ") - ", go::errno_text(rc));
    read = {read.file + 1, 0};
    need_sync = true;
  }
  // go-diskqueue's handleReadError: the read segment is renamed .bad and skipped; if it was
  // also the write segment, writing moves to a fresh one.
  core::task<void> skip_bad_segment(std::string why) {
    std::string file = segment(read.file);
    std::string bad = file + ".bad";
    log.error("DISKQUEUE(", name, ") reading at ", read.pos, " of ", file, " - ", why);
    log.warn("DISKQUEUE(", name, ") jump to next file and saving bad file as ", bad);
    co_await reader.close();
    if (read.file == written.file) (void)co_await close_write_fd(false);
    int rc = co_await core::renameat(dirfd, file.c_str(), dirfd, bad.c_str());
    if (rc < 0 && rc != -ENOENT)
      log.error("DISKQUEUE(", name, ") failed to rename bad diskqueue file ", file, " to ", bad);
    if (read.file == written.file) {
      written = {written.file + 1, 0};
      replace_pending();
    }
    read = {read.file + 1, 0};
    need_sync = true;
  }
  // go-diskqueue's checkTailCorruption: a reader that caught up with the writer leaves
  // nothing on disk, whatever the count said.
  void check_tail() {
    if (read < written || disk_depth == 0) return;
    if (disk_depth < 0)
      log.error("DISKQUEUE(", name, ") negative depth at tail (", disk_depth, "), metadata corruption, resetting 0...");
    else
      log.error("DISKQUEUE(", name, ") positive depth at tail (", disk_depth, "), data loss, resetting 0...");
    disk_depth = 0;
    need_sync = true;
  }

  core::task<std::optional<message>> read_at_locked(disk_position at) {
    if (at < read || !(at < written)) co_return std::nullopt;
    segment_reader r;
    std::string file = segment(at.file);
    r.fd = co_await core::openat(dirfd, file.c_str(), O_RDONLY | O_CLOEXEC);
    if (r.fd < 0) co_return std::nullopt;
    std::optional<message> m;
    bool ok = co_await r.fill(at.pos, length_bytes, at.pos + length_bytes);
    const std::int64_t len = ok ? read_record_length(r.bytes(at.pos, length_bytes).data()) : 0;
    const std::int64_t end = at.pos + length_bytes + len;
    if (ok && record_length_ok(len, lim.max_msg_size) && (at.file < written.file || end <= written.pos)) {
      ok = co_await r.fill(at.pos, length_bytes + len, end);
      if (ok) m = decode_payload(r.bytes(at.pos + length_bytes, len), lim.max_msg_size);
    }
    co_await r.close();
    co_return m;
  }

  // ---- empty / remove / close ----
  // Deletes segments read..write and the meta file; the queue continues, empty, after them.
  core::task<int> delete_files(bool keep_meta) {
    const std::int64_t first = read.file;
    const std::int64_t last = std::max(written.file, logical.file);
    // New positions first: records put while files are deleted go after them.
    pending.clear();
    pending_count = 0;
    read = written = logical = {last + 1, 0};
    disk_depth = 0;
    skip.clear();
    ops_since_sync = 0;
    need_sync = keep_meta;  // the owner's next sync() writes it
    if (!keep_meta) removed = true;
    co_await reader.close();
    (void)co_await close_write_fd(false);
    int result = 0;
    for (std::int64_t f = first; f <= last; ++f) {
      std::string file = segment(f);
      int rc = co_await core::unlinkat(dirfd, file.c_str());
      if (rc < 0 && rc != -ENOENT) {
        log.error("DISKQUEUE(", name, ") failed to remove data file - ", go::errno_text(rc));
        if (result == 0) result = rc;
      }
    }
    std::string meta = meta_name();
    co_await fifo_lock::acquire{syncing};  // after a sync that is writing it
    fifo_lock::guard g{syncing};
    int rc = co_await core::unlinkat(dirfd, meta.c_str());
    if (rc < 0 && rc != -ENOENT) {
      log.error("DISKQUEUE(", name, ") failed to remove metadata file - ", go::errno_text(rc));
      if (result == 0) result = rc;
    }
    co_return result;
  }

  core::task<int> close_locked() {
    int rc = co_await flush_locked();
    int s = co_await close_write_fd(true);
    if (rc == 0) rc = s;
    s = co_await sync_now();  // the meta file (the segment is synced and closed)
    if (rc == 0) rc = s;
    co_await reader.close();
    co_return rc;
  }

  core::task<int> sync_if_dirty() {
    int rc = 0;
    if (ops_since_sync > 0 || need_sync) rc = co_await sync_now();
    co_return rc;
  }
};

disk_queue::disk_queue(int dirfd, std::string prefix, disk_queue_limits limits, const core::logger& log)
    : _impl(std::make_unique<impl>(dirfd, prefix, limits, log, _skip)), _prefix(std::move(prefix)) {}

disk_queue::~disk_queue() = default;

std::optional<std::string> disk_queue::prefix_of_file(std::string_view file) {
  if (file.size() > meta_suffix.size() && file.ends_with(meta_suffix))
    return std::string(file.substr(0, file.size() - meta_suffix.size()));
  if (!file.ends_with(segment_suffix)) return std::nullopt;
  std::string_view stem = file.substr(0, file.size() - segment_suffix.size());
  const size_t dot = stem.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  std::string_view number = stem.substr(dot + 1);
  if (number.size() < 6 || !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::string(stem.substr(0, dot));
}

core::task<int> disk_queue::open() {
  int rc = co_await core::shielded(holding(_impl->files, _impl->open_locked()));
  co_return rc;
}

std::optional<disk_position> disk_queue::put(const message& m) { return _impl->put(m); }

std::int64_t disk_queue::pending() const noexcept { return _impl->pending_count; }

core::task<int> disk_queue::flush() {
  int rc = co_await core::shielded(holding(_impl->files, _impl->flush_locked()));
  co_return rc;
}

std::int64_t disk_queue::depth() const noexcept {
  return std::max<std::int64_t>(0, _impl->disk_depth + _impl->pending_count - std::int64_t(_skip.size()));
}

bool disk_queue::readable() const noexcept { return _impl->read < _impl->written; }

core::task<std::vector<message>> disk_queue::read(std::size_t max_records, std::size_t max_bytes) {
  std::vector<message> out =
      co_await core::shielded(holding(_impl->files, _impl->read_locked(std::max<std::size_t>(1, max_records), max_bytes)));
  co_return out;
}

core::task<std::optional<message>> disk_queue::read_at(disk_position at) {
  std::optional<message> m = co_await core::shielded(holding(_impl->files, _impl->read_at_locked(at)));
  co_return m;
}

void disk_queue::skip(disk_position at, const message_id& id) {
  if (at < _impl->read) return;
  _skip.insert_or_assign(at, id);
}

bool disk_queue::dirty() const noexcept { return _impl->ops_since_sync > 0 || _impl->need_sync; }

bool disk_queue::claim_sync() noexcept {
  impl& q = *_impl;
  if (q.sync_claimed || !(q.need_sync || q.ops_since_sync >= q.lim.sync_every)) return false;
  q.sync_claimed = true;
  return true;
}

core::task<int> disk_queue::sync() {
  int rc = co_await core::shielded(_impl->sync_if_dirty());
  co_return rc;
}

core::task<int> disk_queue::empty() {
  _impl->log.info("DISKQUEUE(", _impl->name, "): emptying");
  int rc = co_await core::shielded(holding(_impl->files, _impl->delete_files(true)));
  co_return rc;
}

core::task<int> disk_queue::remove() {
  _impl->log.info("DISKQUEUE(", _impl->name, "): deleting");
  int rc = co_await core::shielded(holding(_impl->files, _impl->delete_files(false)));
  co_return rc;
}

core::task<int> disk_queue::close() {
  int rc = co_await core::shielded(holding(_impl->files, _impl->close_locked()));
  co_return rc;
}

disk_position disk_queue::read_position() const noexcept { return _impl->read; }
disk_position disk_queue::write_position() const noexcept { return _impl->logical; }

core::task<void> merge_queue(disk_queue& src, disk_queue& dst, const core::logger& log) {
  for (;;) {
    std::vector<message> batch = co_await src.read(1024, 4 << 20);
    if (batch.empty()) break;
    for (message& m : batch) (void)dst.put(m);
    int rc = co_await dst.flush();
    if (rc < 0) {
      log.error("DISKQUEUE(", dst.prefix(), "): failed to take in ", src.prefix(), " - ", go::errno_text(rc));
      (void)co_await src.close();
      co_return;
    }
  }
  (void)co_await src.remove();
}

}  // namespace nsqd::storage
