#pragma once
// deferred_journal: with --durable-publish, the durable copies of one part's deferred
// messages (DPUB) while they wait in memory, so a kill -9 loses no acknowledged DPUB
// (upstream keeps them in memory only).
//
//   auto j = std::make_shared<deferred_journal>(dirfd, "orders:audit.diskqueue", limits, log, spawn);
//   co_await j->open(part_queue);          // copies left by a crash go to the part's queue
//   auto [ref, q] = j->keep(msg);          // the copy is pending in q: the publisher commits q
//   j->release(ref);                       // the message left the deferred set
//   co_await j->remove();                  // clean stop (deferred messages went to the sidecar)
//
// Two disk queues take turns ("<part prefix>.dpub0" and ".dpub1": names upstream never
// opens). Copies go to the active one. A journal none of whose messages still waits is
// emptied (its files deleted); the active one is handed over first, when the other is
// empty. The active one also hands over once it has grown past `rotate_bytes` and the other
// is empty. So the files hold the copies written since about the oldest waiting message was
// published, and released copies wait for their journal to be emptied.
//
// A copy is released when its message leaves the deferred set: when it is due (it then joins
// the memory queue, as a message read from the disk queue does), emptied or deleted. After a
// crash the records still in the journals are delivered at once (upstream's own behaviour for
// deferred messages after a restart), possibly again if they were delivered before the crash.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "core/log.hpp"
#include "core/task.hpp"
#include "storage/disk_queue.hpp"

namespace nsqd::storage {

class deferred_journal : public std::enable_shared_from_this<deferred_journal> {
 public:
  // Starts background work (the shard's task group): false when it cannot (not running yet),
  // and the journal tries again at the next keep().
  using spawner = std::function<bool(core::task<void>)>;
  static constexpr std::int64_t default_rotate_bytes = 16 << 20;

  deferred_journal(int dirfd, std::string part_prefix, disk_queue_limits limits, const core::logger& log,
                   spawner spawn, std::int64_t rotate_bytes = default_rotate_bytes);
  deferred_journal(const deferred_journal&) = delete;
  deferred_journal& operator=(const deferred_journal&) = delete;

  // The files of journal `n` of the part with file prefix `part_prefix`, and back: the part's
  // prefix of a journal's prefix (nullopt when `journal_prefix` is none).
  static std::string prefix(const std::string& part_prefix, unsigned n);
  static std::optional<std::string> part_prefix_of(std::string_view journal_prefix);

  // Opens both journals; records they hold (left by a crash) are appended to `into` and
  // their files deleted.
  core::task<void> open(disk_queue& into);

  // Which journal holds a copy.
  struct ref {
    unsigned journal = 0;
  };
  // Puts the copy of `m` in the active journal: nullopt when the record is invalid, else
  // where it went and the queue the publisher must commit.
  std::optional<std::pair<ref, std::shared_ptr<disk_queue>>> keep(const message& m);
  void release(ref r);

  // Deletes both journals' files.
  core::task<void> remove();

  // Messages whose copies are held (for tests and stats).
  std::int64_t held() const noexcept { return _held[0] + _held[1]; }

 private:
  void clear_later(unsigned n);
  static core::task<void> clear(std::shared_ptr<deferred_journal> self, unsigned n);

  int _dirfd;
  std::string _part_prefix;
  disk_queue_limits _limits;
  const core::logger& _log;
  spawner _spawn;
  std::int64_t _rotate_bytes;
  std::array<std::shared_ptr<disk_queue>, 2> _queues;
  std::array<std::int64_t, 2> _held{};   // waiting messages whose copy is there
  std::array<std::int64_t, 2> _bytes{};  // put since it was last emptied
  std::array<bool, 2> _clearing{};       // an empty() is queued or running
  unsigned _active = 0;
};

// release() where there may be no journal (not durable) or no copy (none was kept).
inline void release_copy(deferred_journal* journal, const std::optional<deferred_journal::ref>& copy) {
  if (journal && copy) journal->release(*copy);
}

}  // namespace nsqd::storage
