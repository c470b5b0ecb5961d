// A go-diskqueue queue, reading side: batched reads, skips, bad segments, reads at a position
// (storage/disk_queue_impl.hpp has the state).
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

core::task<std::vector<message>> disk_queue::impl::read_locked(std::size_t max_records, std::size_t max_bytes,
                                                               std::vector<std::uint64_t>* tickets) {
  std::vector<message> out;
  std::size_t bytes = 0;
  read_error = 0;
  while (read < written && out.size() < max_records && (out.empty() || bytes < max_bytes)) {
    std::int64_t end = 0;
    int st = co_await readable_end(end);
    if (st < 0) {
      read_error = st;
      break;
    }
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
    std::optional<message> m;
    if (!skipped_here(at, payload)) m = decode_payload(payload, lim.max_msg_size);  // else delivered from elsewhere
    // Every record read while any is held takes a place, so the meta file's depth stays the
    // count of records from its read position on.
    const bool ticketed = m && tickets;
    if (ticketed || !held.empty()) {
      if (ticketed) tickets->push_back((first_ticket + held.size()) & ((std::uint64_t(1) << ticket_bits) - 1));
      held.push_back({at, !ticketed});
    }
    if (!m) continue;
    bytes += std::size_t(len);
    out.push_back(std::move(*m));
  }
  check_tail();
  skip.erase(skip.begin(), skip.lower_bound(read));
  co_return out;
}

bool disk_queue::impl::skipped_here(disk_position at, std::string_view payload) {
  auto it = skip.find(at);
  if (it == skip.end()) return false;
  const bool same = payload.substr(message_id_offset, it->second.hex.size()) ==
                    std::string_view(it->second.hex.data(), it->second.hex.size());
  skip.erase(it);
  return same;
}

core::task<int> disk_queue::impl::readable_end(std::int64_t& end) {
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

int disk_queue::impl::log_read_error(int rc) {
  log.error("DISKQUEUE(", name, ") reading at ", read.pos, " of ", segment(read.file), " - ", go::errno_text(rc),
            core::descriptor_limit_note(rc));
  return rc;
}

core::task<void> disk_queue::impl::finish_read_segment() {
  co_await reader.close();
  const std::int64_t finished = read.file;
  read = {read.file + 1, 0};
  need_sync = true;
  // A segment holding a record not released yet stays until a sync names a later one.
  if (held.empty()) co_await delete_finished_below(finished + 1);
}

core::task<void> disk_queue::impl::delete_finished_below(std::int64_t upto) {
  upto = std::min(upto, read.file);
  while (deleted_below < upto) {
    std::string file = segment(deleted_below++);
    int rc = co_await core::unlinkat(dirfd, file.c_str());
    if (rc < 0 && rc != -ENOENT) log.error("DISKQUEUE(", name, ") failed to Remove(", file, ") - ", go::errno_text(rc));
  }
}

void disk_queue::impl::forget_held() {
  first_ticket += held.size();
  held.clear();
  released_since_sync = true;
}

void disk_queue::release(std::uint64_t ticket) noexcept {
  impl& q = *_impl;
  constexpr std::uint64_t mask = (std::uint64_t(1) << ticket_bits) - 1;
  const std::uint64_t index = (ticket - q.first_ticket) & mask;
  if (index >= q.held.size()) return;
  q.held[std::size_t(index)].done = true;
  while (!q.held.empty() && q.held.front().done) {
    q.held.pop_front();
    ++q.first_ticket;
    q.released_since_sync = true;
  }
}

std::int64_t disk_queue::held() const noexcept { return std::int64_t(_impl->held.size()); }

int disk_queue::read_error() const noexcept { return _impl->read_error; }

void disk_queue::reread_held() noexcept {
  impl& q = *_impl;
  if (q.held.empty()) return;
  q.read = q.held.front().at;
  q.disk_depth += std::int64_t(q.held.size());
  q.forget_held();
  q.need_sync = true;
}

core::task<void> disk_queue::impl::skip_bad_segment(std::string why) {
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

void disk_queue::impl::check_tail() {
  if (read < written || disk_depth == 0) return;
  if (disk_depth < 0)
    log.error("DISKQUEUE(", name, ") negative depth at tail (", disk_depth, "), metadata corruption, resetting 0...");
  else
    log.error("DISKQUEUE(", name, ") positive depth at tail (", disk_depth, "), data loss, resetting 0...");
  disk_depth = 0;
  need_sync = true;
}

core::task<std::optional<message>> disk_queue::impl::read_at_locked(disk_position at) {
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

}  // namespace nsqd::storage
