#include "storage/deferred_journal.hpp"

#include "go/go_syntax.hpp"

namespace nsqd::storage {

deferred_journal::deferred_journal(int dirfd, std::string part_prefix, disk_queue_limits limits,
                                   const core::logger& log, spawner spawn, std::int64_t rotate_bytes)
    : _dirfd(dirfd),
      _part_prefix(std::move(part_prefix)),
      _limits(limits),
      _log(log),
      _spawn(std::move(spawn)),
      _rotate_bytes(rotate_bytes) {}

namespace {
constexpr std::string_view journal_marker = ".dpub";
}  // namespace

std::string deferred_journal::prefix(const std::string& part_prefix, unsigned n) {
  return part_prefix + std::string(journal_marker) + std::to_string(n);
}

std::optional<std::string> deferred_journal::part_prefix_of(std::string_view journal_prefix) {
  const size_t at = journal_prefix.rfind(journal_marker);
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  std::string_view n = journal_prefix.substr(at + journal_marker.size());
  if (n != "0" && n != "1") return std::nullopt;
  return std::string(journal_prefix.substr(0, at));
}

core::task<void> deferred_journal::open(disk_queue& into) {
  for (unsigned n = 0; n < 2; ++n) {
    auto q = std::make_shared<disk_queue>(_dirfd, prefix(_part_prefix, n), _limits, _log);
    (void)co_await q->open();
    if (q->depth() > 0) {
      _log.warn("DISKQUEUE(", q->prefix(), "): ", q->depth(), " deferred messages left by a crash; delivering them now");
      co_await merge_queue(*q, into, _log);  // deletes its files
      q = std::make_shared<disk_queue>(_dirfd, prefix(_part_prefix, n), _limits, _log);
      (void)co_await q->open();
    }
    _queues[n] = std::move(q);
  }
}

std::optional<std::pair<deferred_journal::ref, std::shared_ptr<disk_queue>>> deferred_journal::keep(const message& m) {
  const unsigned other = 1 - _active;
  if (_held[other] == 0) clear_later(other);  // idle (a clear could not start before): now
  if (_bytes[_active] >= _rotate_bytes && _bytes[other] == 0 && !_clearing[other]) {
    _active = other;
    if (_held[1 - _active] == 0) clear_later(1 - _active);
  }
  std::shared_ptr<disk_queue>& q = _queues[_active];
  if (!q || !q->put(m)) return std::nullopt;
  ++_held[_active];
  _bytes[_active] += std::int64_t(payload_size(m) + record_length_size);
  return std::pair{ref{_active}, q};
}

void deferred_journal::release(ref r) {
  if (_held[r.journal] == 0 || --_held[r.journal] > 0) return;
  if (r.journal == _active) {  // new copies must go elsewhere before this one is emptied
    const unsigned other = 1 - _active;
    if (_bytes[other] != 0 || _clearing[other]) return;
    _active = other;
  }
  clear_later(r.journal);
}

void deferred_journal::clear_later(unsigned n) {
  if (_clearing[n] || _bytes[n] == 0 || !_queues[n]) return;
  _clearing[n] = _spawn(clear(shared_from_this(), n));
}

core::task<void> deferred_journal::clear(std::shared_ptr<deferred_journal> self, unsigned n) {
  std::shared_ptr<disk_queue> q = self->_queues[n];
  int rc = co_await q->empty();
  if (rc < 0) self->_log.error("DISKQUEUE(", q->prefix(), "): failed to empty - ", go::errno_text(rc));
  self->_bytes[n] = 0;
  self->_clearing[n] = false;
}

core::task<void> deferred_journal::remove() {
  for (auto& q : _queues) {
    if (!q) continue;
    int rc = co_await q->remove();
    if (rc < 0) _log.error("DISKQUEUE(", q->prefix(), "): failed to delete files - ", go::errno_text(rc));
  }
  _held = {};
  _bytes = {};
}

}  // namespace nsqd::storage
