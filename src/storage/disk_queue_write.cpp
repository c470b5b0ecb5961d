// A go-diskqueue queue, writing side: puts, writes, syncs, the meta file, rolling, opening and
// crash recovery, deleting (storage/disk_queue_impl.hpp has the state).
#include "storage/disk_queue_impl.hpp"

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
#include "core/syscheck.hpp"
#include "go/go_syntax.hpp"

namespace nsqd::storage {

using namespace detail;

std::string disk_queue::impl::segment(std::int64_t n) const {
  char num[32];
  std::snprintf(num, sizeof num, ".%06" PRId64 ".dat", n);
  return prefix + num;
}

std::optional<disk_position> disk_queue::impl::put(const message& m) {
  const std::int64_t len = std::int64_t(payload_size(m));
  if (!record_length_ok(len, lim.max_msg_size)) return std::nullopt;
  disk_position at;
  append_disk_record(place(len, at), m);
  return at;
}

std::string& disk_queue::impl::place(std::int64_t len, disk_position& at) {
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

void disk_queue::impl::replace_pending() {
  core::fifo<chunk> old;
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

core::task<int> disk_queue::impl::open_write_fd() {
  if (write_fd >= 0) co_return 0;
  std::string file = segment(written.file);
  may_have_files = true;
  int fd = co_await core::openat(dirfd, file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) co_return fd;
  write_fd = fd;
  co_return 0;
}

core::task<int> disk_queue::impl::close_write_fd(bool sync) {
  co_await fifo_lock::acquire{syncing};  // not while a sync uses the descriptor
  fifo_lock::guard g{syncing};
  if (write_fd < 0) co_return 0;
  int rc = 0;
  if (sync) rc = co_await core::fsync(write_fd);
  (void)co_await core::close(write_fd);
  write_fd = -1;
  co_return rc;
}

void disk_queue::impl::trim_failed_write() {
  if (write_fd >= 0 && ::ftruncate(write_fd, off_t(written.pos)) != 0)
    log.error("DISKQUEUE(", name, ") failed to truncate ", segment(written.file), " - ", go::errno_text(errno));
}

std::string disk_queue::impl::meta_text() const {
  char text[128];
  int n = std::snprintf(text, sizeof text, "%" PRId64 "\n%" PRId64 ",%" PRId64 "\n%" PRId64 ",%" PRId64 "\n",
                        disk_depth + std::int64_t(held.size()), safe_read().file, safe_read().pos,
                        written.file, written.pos);
  return std::string(text, std::size_t(n));
}

core::task<int> disk_queue::impl::sync_now() {
  co_await fifo_lock::acquire{syncing};
  fifo_lock::guard g{syncing};
  sync_claimed = false;
  const std::string meta = meta_text();
  const std::int64_t safe_file = safe_read().file;
  const int fd = write_fd;  // stays open: closing it takes `syncing`
  ops_since_sync = 0;
  need_sync = false;
  released_since_sync = false;
  int rc = 0;
  if (fd >= 0) rc = co_await core::fsync(fd);
  if (rc == 0 && !removed && (fd >= 0 || meta != meta_on_disk)) {
    may_have_files = true;
    // A queue that never held a message: its meta file says no more than its absence does,
    // so a crash that loses or truncates it loses nothing and no fsync is owed (stopping a
    // node with 10,000 new topics would otherwise fsync 20,000 files, 5 s here).
    const bool never_held = written == disk_position{} && disk_depth == 0 && held.empty();
    if (never_held)
      rc = co_await core::write_file(dirfd, meta_name(), meta, 0600);
    else
      rc = co_await core::write_file_atomically(dirfd, meta_name(), meta, 0600);
    meta_on_disk = rc == 0 ? meta : std::string();
  }
  if (rc < 0) {
    log.error("DISKQUEUE(", name, ") failed to sync - ", go::errno_text(rc));
    need_sync = true;
    co_return rc;
  }
  if (!removed) co_await delete_finished_below(safe_file);  // the meta file no longer names them
  co_return 0;
}

core::task<int> disk_queue::impl::roll_to(std::int64_t file) {
  int rc = co_await close_write_fd(true);
  if (rc < 0) log.error("DISKQUEUE(", name, ") failed to sync - ", go::errno_text(rc));
  written = {file, 0};
  int s = co_await sync_now();
  if (rc == 0) rc = s;
  co_return rc;
}

core::task<int> disk_queue::impl::open_locked() {
  int rc = co_await load_meta();
  if (rc < 0) {
    co_await start_after_existing_segments();
  } else {
    fix_inconsistent_positions();
    co_await recover_crash_tail();
  }
  logical = written;
  deleted_below = read.file;
  co_return rc;
}

core::task<int> disk_queue::impl::load_meta() {
  std::string text;
  int rc = co_await core::read_file(dirfd, meta_name(), text);
  if (rc == -ENOENT) co_return 0;
  may_have_files = true;
  if (rc == 0 && !parse_meta(text, disk_depth, read, written)) rc = -EINVAL;
  if (rc == 0) meta_on_disk = text;
  if (rc < 0) {
    log.error("DISKQUEUE(", name, ") failed to retrieveMetaData - ", go::errno_text(rc));
    disk_depth = 0;
    read = written = {};
  }
  co_return rc;
}

core::task<void> disk_queue::impl::start_after_existing_segments() {
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

void disk_queue::impl::fix_inconsistent_positions() {
  if (!(written < read)) return;
  log.error("DISKQUEUE(", name, ") read position ", read.file, ",", read.pos, " > write position ", written.file,
            ",", written.pos, ", corruption, skipping to next writeFileNum and resetting 0...");
  read = written = {std::max(read.file, written.file) + 1, 0};
  disk_depth = 0;
  need_sync = true;
}

core::task<void> disk_queue::impl::recover_crash_tail() {
  struct statx st {};
  std::string file = segment(written.file);
  int rc = co_await core::statx(dirfd, file.c_str(), 0, &st);
  if (rc == 0) may_have_files = true;  // a segment without a meta file (a crash before the first sync)
  if (rc < 0 || std::int64_t(st.stx_size) <= written.pos) co_return;
  std::int64_t tail = co_await count_records(written.file, written.pos, std::int64_t(st.stx_size));
  log.warn("DISKQUEUE(", name, ") ", file, " metadata writePos ", written.pos, " < file size of ", st.stx_size,
           ", skipping to new file (", tail, " more messages)");
  disk_depth += tail;
  written = {written.file + 1, 0};
  (void)co_await sync_now();  // a second crash must not reuse the new segment's number
}

core::task<std::int64_t> disk_queue::impl::count_records(std::int64_t file, std::int64_t from, std::int64_t to) {
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

core::task<int> disk_queue::impl::flush_locked() {
  core::fifo<chunk> batch;
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

core::task<int> disk_queue::impl::write_chunk(const chunk& c) {
  if (c.file != written.file) {  // placed in a later segment: roll (c.offset is 0)
    int rc = co_await roll_to(c.file);
    if (rc < 0 && lim.sync_each_flush) co_return rc;
  }
  int rc = co_await open_write_fd();
  if (rc == 0) rc = co_await core::write_all(write_fd, c.bytes, std::uint64_t(c.offset));
  co_return rc;
}

core::task<void> disk_queue::impl::drop_failed(core::fifo<chunk>& batch, int rc) {
  std::int64_t dropped = 0;
  for (const chunk& c : batch) dropped += c.count;
  pending_count -= dropped;
  batch.clear();
  log.error("DISKQUEUE(", name, ") failed to write ", dropped, " messages to ", segment(written.file), " - ",
            go::errno_text(rc), core::descriptor_limit_note(rc));
  trim_failed_write();
  (void)co_await close_write_fd(false);  // reopened by the next flush
  replace_pending();
}

core::task<int> disk_queue::impl::delete_files(bool keep_meta) {
  const std::int64_t first = std::min(deleted_below, read.file);
  const std::int64_t last = std::max(written.file, logical.file);
  forget_held();
  deleted_below = last + 1;
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
  if (!may_have_files) co_return result;  // nothing to look for
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
  meta_on_disk.clear();  // none: the next sync writes one
  if (rc < 0 && rc != -ENOENT) {
    log.error("DISKQUEUE(", name, ") failed to remove metadata file - ", go::errno_text(rc));
    if (result == 0) result = rc;
  }
  if (result == 0 && !keep_meta) may_have_files = false;
  co_return result;
}

core::task<int> disk_queue::impl::close_locked() {
  forget_held();
  int rc = co_await flush_locked();
  int s = co_await close_write_fd(true);
  if (rc == 0) rc = s;
  s = co_await sync_now();  // the meta file (the segment is synced and closed)
  if (rc == 0) rc = s;
  co_await reader.close();
  co_return rc;
}

core::task<int> disk_queue::impl::sync_if_dirty() {
  int rc = 0;
  if (dirty() || meta_on_disk.empty()) rc = co_await sync_now();  // a new queue's meta is owed too
  co_return rc;
}

}  // namespace nsqd::storage
