// A go-diskqueue queue as the broker sees it (storage/disk_queue.hpp), its file names, and
// merging one queue into another.
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
#include "go/go_syntax.hpp"

namespace nsqd::storage {

using namespace detail;



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
  ++_impl->uses;
  int rc = co_await core::shielded(holding(_impl->files, _impl->flush_locked()));
  co_return rc;
}

std::int64_t disk_queue::depth() const noexcept {
  return std::max<std::int64_t>(0, _impl->disk_depth + _impl->pending_count - std::int64_t(_skip.size()));
}

bool disk_queue::readable() const noexcept { return _impl->read < _impl->written; }

core::task<std::vector<message>> disk_queue::read(std::size_t max_records, std::size_t max_bytes,
                                                  std::vector<std::uint64_t>* tickets) {
  ++_impl->uses;
  std::vector<message> out = co_await core::shielded(
      holding(_impl->files, _impl->read_locked(std::max<std::size_t>(1, max_records), max_bytes, tickets)));
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

bool disk_queue::dirty() const noexcept {
  return _impl->dirty();
}

bool disk_queue::meta_saved() const noexcept { return !_impl->meta_on_disk.empty(); }

bool disk_queue::holds_files() const noexcept { return _impl->write_fd >= 0 || _impl->reader.fd >= 0; }

std::uint64_t disk_queue::uses() const noexcept { return _impl->uses; }

core::task<void> disk_queue::close_files() {
  impl& q = *_impl;
  auto close_locked = [](impl& q) -> core::task<int> {
    co_await q.reader.close();
    int rc = co_await q.close_write_fd(true);  // fsync: cheap when a sync already took it all
    if (rc < 0) {
      q.log.error("DISKQUEUE(", q.name, ") failed to sync - ", go::errno_text(rc));
      q.need_sync = true;  // the owner's next sync tries again
    }
    co_return rc;
  };
  (void)co_await core::shielded(holding(q.files, close_locked(q)));
}

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
  // Said only when files may go: a shard's empty part of a queue, discarded at every stop,
  // has none (10,000 topics on 2 shards would log 20,000 lines for nothing).
  if (_impl->may_have_files) _impl->log.info("DISKQUEUE(", _impl->name, "): deleting");
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
