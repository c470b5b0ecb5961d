#include "broker/disk_queue.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <coroutine>
#include <cstdio>
#include <cstring>

#include "core/file.hpp"
#include "core/io.hpp"
#include "core/reactor.hpp"

namespace nsqd::broker {

namespace {

// Bytes a read brings in at least (records are parsed from the buffer without more I/O).
constexpr std::int64_t read_chunk = 1 << 20;

std::string error_text(int rc) { return std::strerror(rc < 0 ? -rc : rc); }

std::int32_t load_be32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return std::int32_t(std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 |
                      std::uint32_t(b[3]));
}

}  // namespace

struct disk_queue::impl {
  impl(int dirfd, std::string prefix, disk_queue_limits limits, const core::logger& log,
       std::set<disk_position>& skip)
      : dirfd(dirfd), prefix(std::move(prefix)), lim(limits), log(log), skip(skip) {}

  ~impl() {
    if (write_fd >= 0) ::close(write_fd);
    if (read_fd >= 0) ::close(read_fd);
  }

  // ---- names ----
  std::string segment(std::int64_t n) const {
    char num[32];
    std::snprintf(num, sizeof num, ".%06" PRId64 ".dat", n);
    return prefix + num;
  }
  std::string meta_name() const { return prefix + ".meta.dat"; }

  // ---- serialisation: one file operation at a time, FIFO ----
  struct lock_awaiter {
    impl& q;
    bool await_ready() noexcept {
      if (q.busy) return false;
      q.busy = true;
      return true;
    }
    template <core::has_context P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      q.shard = h.promise().shard;
      q.waiters.push_back(h);
    }
    void await_resume() noexcept {}
  };
  lock_awaiter lock() noexcept { return {*this}; }
  void unlock() noexcept {
    if (waiters.empty()) {
      busy = false;
      return;
    }
    std::coroutine_handle<> next = waiters.front();  // ownership passes on: busy stays set
    waiters.pop_front();
    shard->schedule(next);
  }

  // ---- state ----
  int dirfd;
  std::string prefix;
  disk_queue_limits lim;
  const core::logger& log;
  std::set<disk_position>& skip;

  disk_position read;      // next record to read
  disk_position written;   // end of what is on disk (the meta file's write position)
  disk_position logical;   // end of what was put
  std::int64_t disk_depth = 0;  // records between read and written

  struct chunk {
    std::int64_t file;
    std::int64_t offset;
    std::string bytes;
    std::int64_t count;
  };
  std::deque<chunk> pending;
  std::int64_t pending_count = 0;

  int write_fd = -1;
  std::int64_t write_fd_file = -1;
  bool write_tail_dirty = false;  // a failed write may have left bytes past `written`
  int read_fd = -1;
  std::int64_t read_fd_file = -1;
  std::int64_t read_end = -1;     // real size of a completed read segment (-1: not known)
  std::string rbuf;               // bytes of the read segment from rbuf_off
  std::int64_t rbuf_off = 0;

  std::int64_t ops_since_sync = 0;
  bool need_sync = false;
  bool removed = false;

  bool busy = false;
  core::reactor* shard = nullptr;
  std::deque<std::coroutine_handle<>> waiters;

  // ---- put ----
  std::optional<disk_position> put(const message& m) {
    const std::int64_t len = std::int64_t(payload_size(m));
    if (!record_length_ok(len, lim.max_msg_size)) return std::nullopt;
    return place(m, len);
  }
  disk_position place(const message& m, std::int64_t len) {
    const std::int64_t total = std::int64_t(record_length_size) + len;
    if (logical.pos > 0 && logical.pos + total > lim.max_bytes_per_file) logical = {logical.file + 1, 0};
    if (pending.empty() || pending.back().file != logical.file)
      pending.push_back({logical.file, logical.pos, {}, 0});
    chunk& c = pending.back();
    append_disk_record(c.bytes, m);
    ++c.count;
    ++pending_count;
    disk_position at = logical;
    logical.pos += total;
    return at;
  }
  // Pending records are placed again from `written` (after a failed write or a segment
  // skipped for corruption): their old positions may be gone.
  void replace_pending() {
    std::deque<chunk> old;
    old.swap(pending);
    pending_count = 0;
    logical = written;
    for (chunk& c : old) {
      std::string_view b = c.bytes;
      while (b.size() >= record_length_size) {
        std::int64_t len = load_be32(b.data());
        std::optional<message> m = decode_payload(b.substr(record_length_size, std::size_t(len)), lim.max_msg_size);
        if (m) place(*m, len);
        b.remove_prefix(record_length_size + std::size_t(len));
      }
    }
  }

  // ---- files ----
  core::task<void> close_read_fd() {
    if (read_fd >= 0) (void)co_await core::close(read_fd);
    read_fd = -1;
    read_fd_file = -1;
    read_end = -1;
    rbuf.clear();
    rbuf_off = 0;
  }
  core::task<int> close_write_fd() {
    int rc = 0;
    if (write_fd >= 0) {
      if (write_tail_dirty && ::ftruncate(write_fd, off_t(written.file == write_fd_file ? written.pos : 0)) != 0)
        rc = -errno;
      write_tail_dirty = false;
      int s = co_await core::fsync(write_fd);
      if (rc == 0) rc = s;
      (void)co_await core::close(write_fd);
    }
    write_fd = -1;
    write_fd_file = -1;
    co_return rc;
  }
  core::task<int> open_write_fd(std::int64_t file) {
    if (write_fd_file == file) co_return 0;
    int rc = co_await close_write_fd();  // the finished segment is synced (as upstream)
    if (rc < 0) log.error("DISKQUEUE(", prefix, "): failed to sync - ", error_text(rc));
    std::string name = segment(file);
    int fd = co_await core::openat(dirfd, name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) co_return fd;
    write_fd = fd;
    write_fd_file = file;
    co_return 0;
  }

  core::task<int> write_meta() {
    char text[128];
    std::snprintf(text, sizeof text, "%" PRId64 "\n%" PRId64 ",%" PRId64 "\n%" PRId64 ",%" PRId64 "\n",
                  disk_depth, read.file, read.pos, written.file, written.pos);
    int rc = co_await core::write_file_atomically(dirfd, meta_name(), text, 0600);
    co_return rc;
  }

  core::task<int> sync_locked() {
    int rc = 0;
    if (write_fd >= 0) rc = co_await core::fsync(write_fd);
    if (rc == 0 && !removed) rc = co_await write_meta();
    if (rc < 0) {
      log.error("DISKQUEUE(", prefix, "): failed to sync - ", error_text(rc));
      co_return rc;
    }
    ops_since_sync = 0;
    need_sync = false;
    co_return 0;
  }

  // ---- open ----
  core::task<int> open() {
    std::string text;
    int rc = co_await core::read_file(dirfd, meta_name(), text);
    int result = 0;
    if (rc == 0) {
      long long d, rf, rp, wf, wp;
      if (std::sscanf(text.c_str(), "%lld\n%lld,%lld\n%lld,%lld\n", &d, &rf, &rp, &wf, &wp) == 5 && rf >= 0 &&
          rp >= 0 && wf >= 0 && wp >= 0) {
        disk_depth = d;
        read = {rf, rp};
        written = {wf, wp};
      } else {
        log.error("DISKQUEUE(", prefix, "): failed to retrieveMetaData - bad meta file");
        result = -EINVAL;
      }
    } else if (rc != -ENOENT) {
      log.error("DISKQUEUE(", prefix, "): failed to retrieveMetaData - ", error_text(rc));
      result = rc;
    }
    // A write segment longer than the meta file says: records written after the last sync
    // (a crash). Count them and write on in a new segment; the reader reads the old one to
    // its real size.
    struct statx st {};
    std::string name = segment(written.file);
    int s = co_await core::statx(dirfd, name.c_str(), 0, &st);
    if (s == 0 && std::int64_t(st.stx_size) > written.pos) {
      std::int64_t tail = co_await count_records(written.file, written.pos, std::int64_t(st.stx_size));
      log.info("DISKQUEUE(", prefix, "): ", tail, " records past the metadata's write position; continuing in a new file");
      disk_depth += tail;
      written = {written.file + 1, 0};
    }
    logical = written;
    co_return result;
  }

  // Valid records in [from, to) of a segment (stops at the first bad one).
  core::task<std::int64_t> count_records(std::int64_t file, std::int64_t from, std::int64_t to) {
    std::string name = segment(file);
    int fd = co_await core::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) co_return 0;
    std::string buf(std::size_t(to - from), '\0');
    std::int64_t got = 0;
    while (got < to - from) {
      int n = co_await core::read(fd, buf.data() + got, unsigned(std::min<std::int64_t>(to - from - got, 1 << 30)),
                                  std::uint64_t(from + got));
      if (n <= 0) break;
      got += n;
    }
    (void)co_await core::close(fd);
    std::int64_t count = 0, pos = 0;
    while (pos + 4 <= got) {
      std::int64_t len = load_be32(buf.data() + pos);
      if (!record_length_ok(len, lim.max_msg_size) || pos + 4 + len > got) break;
      pos += 4 + len;
      ++count;
    }
    co_return count;
  }

  // ---- flush ----
  core::task<int> flush_locked() {
    std::int64_t wrote = 0;
    while (!pending.empty()) {
      // Taken out before the write: puts made while it is in flight start a new chunk
      // instead of growing (and moving) the bytes the kernel is writing.
      chunk c = std::move(pending.front());
      pending.pop_front();
      int rc = co_await open_write_fd(c.file);
      if (rc == 0) rc = co_await core::write_all(write_fd, c.bytes, std::uint64_t(c.offset));
      if (rc < 0) {
        if (write_fd_file == c.file) write_tail_dirty = true;
        log.error("DISKQUEUE(", prefix, "): failed to write - ", error_text(rc));
        pending_count -= c.count;  // this write's records are dropped ...
        replace_pending();         // ... later ones move up behind what is on disk
        co_return rc;
      }
      written = {c.file, c.offset + std::int64_t(c.bytes.size())};
      disk_depth += c.count;
      ops_since_sync += c.count;
      pending_count -= c.count;
      wrote += c.count;
    }
    if (wrote > 0 && (lim.sync_each_flush || ops_since_sync >= lim.sync_every)) {
      int rc = co_await sync_locked();
      if (rc < 0) co_return rc;
    }
    co_return 0;
  }

  // ---- read ----
  // Makes [pos, pos + n) of the read segment available in rbuf; false at a short file.
  core::task<bool> ensure(std::int64_t pos, std::int64_t n, std::int64_t end) {
    if (pos >= rbuf_off && pos + n <= rbuf_off + std::int64_t(rbuf.size())) co_return true;
    if (read_fd_file != read.file) {
      co_await close_read_fd();
      std::string name = segment(read.file);
      int fd = co_await core::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) co_return false;
      read_fd = fd;
      read_fd_file = read.file;
    }
    if (pos < rbuf_off || pos > rbuf_off + std::int64_t(rbuf.size())) {
      rbuf.clear();
      rbuf_off = pos;
    } else {
      rbuf.erase(0, std::size_t(pos - rbuf_off));
      rbuf_off = pos;
    }
    std::int64_t want = std::max(n, std::min(read_chunk, end - pos));
    while (std::int64_t(rbuf.size()) < want) {
      std::size_t have = rbuf.size();
      rbuf.resize(std::size_t(want));
      int got = co_await core::read(read_fd, rbuf.data() + have, unsigned(std::size_t(want) - have),
                                    std::uint64_t(rbuf_off) + have);
      if (got <= 0) {
        rbuf.resize(have);
        break;
      }
      rbuf.resize(have + std::size_t(got));
    }
    co_return std::int64_t(rbuf.size()) >= n;
  }

  // go-diskqueue's handleReadError: the read segment is renamed .bad and skipped.
  core::task<void> skip_bad_segment(const char* why) {
    std::string name = segment(read.file);
    log.error("DISKQUEUE(", prefix, "): ", why, " in ", name, " - renaming to ", name, ".bad");
    co_await close_read_fd();
    std::string bad = name + ".bad";
    int rc = co_await core::renameat(dirfd, name.c_str(), dirfd, bad.c_str());
    if (rc < 0 && rc != -ENOENT) log.error("DISKQUEUE(", prefix, "): failed to rename ", name, " - ", error_text(rc));
    if (read.file == written.file) {  // the writer cannot go on in a renamed file
      (void)co_await close_write_fd();
      written = {written.file + 1, 0};
      replace_pending();
    }
    read = {read.file + 1, 0};
    need_sync = true;
  }

  core::task<std::vector<message>> read_records(std::size_t max_records, std::size_t max_bytes) {
    std::vector<message> out;
    std::size_t bytes = 0;
    while (out.size() < max_records && bytes < max_bytes) {
      if (read >= written) {
        // go-diskqueue's checkTailCorruption: caught up, so nothing is queued on disk.
        if (disk_depth != 0) {
          log.error("DISKQUEUE(", prefix, "): read position reached the write position with depth ", disk_depth,
                    " - resetting to 0 (metadata corruption)");
          disk_depth = 0;
          need_sync = true;
        }
        break;
      }
      std::int64_t end = written.pos;
      if (read.file < written.file) {  // a completed segment: read to its real size
        if (read_end < 0 || read_fd_file != read.file) {
          struct statx st {};
          std::string name = segment(read.file);
          int s = co_await core::statx(dirfd, name.c_str(), 0, &st);
          if (s < 0) {
            co_await skip_bad_segment("missing segment");
            continue;
          }
          co_await close_read_fd();
          read_end = std::int64_t(st.stx_size);
        }
        end = read_end;
        if (read.pos >= end) {  // done with it: delete and move on
          std::string name = segment(read.file);
          co_await close_read_fd();
          (void)co_await core::unlinkat(dirfd, name.c_str());
          read = {read.file + 1, 0};
          need_sync = true;
          continue;
        }
      }
      bool ok = co_await ensure(read.pos, 4, end);
      if (!ok || read.pos + 4 > end) {
        co_await skip_bad_segment("short record");
        continue;
      }
      std::int64_t len = load_be32(rbuf.data() + (read.pos - rbuf_off));
      if (!record_length_ok(len, lim.max_msg_size) || read.pos + 4 + len > end) {
        co_await skip_bad_segment("invalid message length");
        continue;
      }
      ok = co_await ensure(read.pos, 4 + len, end);
      if (!ok) {
        co_await skip_bad_segment("short record");
        continue;
      }
      std::string_view payload(rbuf.data() + (read.pos + 4 - rbuf_off), std::size_t(len));
      std::optional<message> m = decode_payload(payload, lim.max_msg_size);
      disk_position at = read;
      read.pos += 4 + len;
      --disk_depth;
      ++ops_since_sync;
      if (auto it = skip.find(at); it != skip.end()) {
        skip.erase(it);
        continue;
      }
      if (!m) continue;
      bytes += std::size_t(len);
      out.push_back(std::move(*m));
    }
    skip.erase(skip.begin(), skip.lower_bound(read));
    if (need_sync || ops_since_sync >= lim.sync_every) (void)co_await sync_locked();
    co_return out;
  }

  core::task<std::optional<message>> read_at(disk_position at) {
    if (at < read || !(at < written)) co_return std::nullopt;
    std::string name = segment(at.file);
    int fd = co_await core::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) co_return std::nullopt;
    char head[4];
    std::optional<message> m;
    int n = co_await core::read(fd, head, 4, std::uint64_t(at.pos));
    if (n == 4) {
      std::int64_t len = load_be32(head);
      if (record_length_ok(len, lim.max_msg_size)) {
        std::string payload(std::size_t(len), '\0');
        int got = co_await core::read(fd, payload.data(), unsigned(len), std::uint64_t(at.pos + 4));
        if (got == len) m = decode_payload(payload, lim.max_msg_size);
      }
    }
    (void)co_await core::close(fd);
    co_return m;
  }

  // ---- empty / remove / close ----
  core::task<int> delete_files(bool keep_meta_later) {
    pending.clear();
    pending_count = 0;
    co_await close_read_fd();
    if (write_fd >= 0) (void)co_await core::close(write_fd);
    write_fd = -1;
    write_fd_file = -1;
    write_tail_dirty = false;
    int result = 0;
    std::int64_t last = std::max(written.file, logical.file);
    for (std::int64_t f = read.file; f <= last; ++f) {
      std::string name = segment(f);
      int rc = co_await core::unlinkat(dirfd, name.c_str());
      if (rc < 0 && rc != -ENOENT && result == 0) result = rc;
    }
    std::string meta = meta_name();
    int rc = co_await core::unlinkat(dirfd, meta.c_str());
    if (rc < 0 && rc != -ENOENT && result == 0) result = rc;
    written = {last + 1, 0};
    read = written;
    logical = written;
    disk_depth = 0;
    skip.clear();
    ops_since_sync = 0;
    need_sync = keep_meta_later;
    co_return result;
  }

  core::task<int> close_locked() {
    int rc = co_await flush_locked();
    int s = 0;
    if (!removed) s = co_await sync_locked();
    if (rc == 0) rc = s;
    co_await close_read_fd();
    if (write_fd >= 0) {
      if (write_tail_dirty && written.file == write_fd_file) (void)::ftruncate(write_fd, off_t(written.pos));
      (void)co_await core::close(write_fd);
    }
    write_fd = -1;
    write_fd_file = -1;
    co_return rc;
  }

  // Each public operation: take the lock, do it, hand the lock on.
  core::task<int> locked_flush() {
    co_await lock();
    int rc = co_await flush_locked();
    unlock();
    co_return rc;
  }
  core::task<int> locked_open() {
    co_await lock();
    int rc = co_await open();
    unlock();
    co_return rc;
  }
  core::task<std::vector<message>> locked_read(std::size_t max_records, std::size_t max_bytes) {
    co_await lock();
    std::vector<message> out = co_await read_records(max_records, max_bytes);
    unlock();
    co_return out;
  }
  core::task<std::optional<message>> locked_read_at(disk_position at) {
    co_await lock();
    std::optional<message> m = co_await read_at(at);
    unlock();
    co_return m;
  }
  core::task<int> locked_sync() {
    co_await lock();
    int rc = 0;
    if (ops_since_sync > 0 || need_sync) rc = co_await sync_locked();
    unlock();
    co_return rc;
  }
  core::task<int> locked_empty(bool remove) {
    co_await lock();
    if (remove) removed = true;
    int rc = co_await delete_files(!remove);
    unlock();
    co_return rc;
  }
  core::task<int> locked_close() {
    co_await lock();
    int rc = co_await close_locked();
    unlock();
    co_return rc;
  }
};

disk_queue::disk_queue(int dirfd, std::string prefix, disk_queue_limits limits, const core::logger& log)
    : _impl(std::make_unique<impl>(dirfd, prefix, limits, log, _skip)), _prefix(std::move(prefix)) {}

disk_queue::~disk_queue() = default;

core::task<int> disk_queue::open() {
  int rc = co_await core::shielded(_impl->locked_open());
  co_return rc;
}

std::optional<disk_position> disk_queue::put(const message& m) { return _impl->put(m); }

std::int64_t disk_queue::pending() const noexcept { return _impl->pending_count; }

core::task<int> disk_queue::flush() {
  int rc = co_await core::shielded(_impl->locked_flush());
  co_return rc;
}

std::int64_t disk_queue::depth() const noexcept {
  return std::max<std::int64_t>(0, _impl->disk_depth + _impl->pending_count - std::int64_t(_skip.size()));
}

bool disk_queue::readable() const noexcept { return _impl->read < _impl->written; }

core::task<std::vector<message>> disk_queue::read(std::size_t max_records, std::size_t max_bytes) {
  std::vector<message> out = co_await core::shielded(_impl->locked_read(std::max<std::size_t>(1, max_records), max_bytes));
  co_return out;
}

core::task<std::optional<message>> disk_queue::read_at(disk_position at) {
  std::optional<message> m = co_await core::shielded(_impl->locked_read_at(at));
  co_return m;
}

void disk_queue::skip(disk_position at) {
  if (at < _impl->read) return;
  _skip.insert(at);
}

bool disk_queue::dirty() const noexcept { return _impl->ops_since_sync > 0 || _impl->need_sync; }

core::task<int> disk_queue::sync() {
  int rc = co_await core::shielded(_impl->locked_sync());
  co_return rc;
}

core::task<int> disk_queue::empty() {
  int rc = co_await core::shielded(_impl->locked_empty(false));
  co_return rc;
}

core::task<int> disk_queue::remove() {
  int rc = co_await core::shielded(_impl->locked_empty(true));
  co_return rc;
}

core::task<int> disk_queue::close() {
  int rc = co_await core::shielded(_impl->locked_close());
  co_return rc;
}

disk_position disk_queue::read_position() const noexcept { return _impl->read; }
disk_position disk_queue::write_position() const noexcept { return _impl->logical; }

}  // namespace nsqd::broker
