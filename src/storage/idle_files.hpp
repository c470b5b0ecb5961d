#pragma once
// Which disk queues hold descriptors they no longer use. A queue keeps its write and read
// segments open between flushes and reads (disk_queue::holds_files); thousands of queues
// holding data would keep thousands of descriptors forever. The owner notes a queue after
// each flush or read, and at each tick (the --sync-timeout loop) closes the files of those
// not used since the tick before:
//
//   idle.note(q);                                            // after q->flush() / q->read()
//   for (auto& q : idle.take_idle()) co_await q->close_files();  // every tick

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "storage/disk_queue.hpp"

namespace nsqd::storage {

class idle_files {
 public:
  // `q` was flushed or read: noted while it holds files.
  void note(const std::shared_ptr<disk_queue>& q) {
    if (q->holds_files()) _holders.try_emplace(q.get(), holder{q});
  }

  // The queues noted that still hold files and were not used for a whole tick (at least one
  // tick passed since they were noted); they are forgotten (a later use notes them again).
  std::vector<std::shared_ptr<disk_queue>> take_idle() {
    std::vector<std::shared_ptr<disk_queue>> idle;
    for (auto it = _holders.begin(); it != _holders.end();) {
      holder& h = it->second;
      const bool holds = h.queue->holds_files();
      if (holds && h.queue->uses() != h.uses_at_tick) {
        h.uses_at_tick = h.queue->uses();
        ++it;
        continue;
      }
      if (holds) idle.push_back(std::move(h.queue));
      it = _holders.erase(it);
    }
    return idle;
  }

  std::size_t size() const noexcept { return _holders.size(); }

 private:
  static constexpr std::uint64_t unseen = ~std::uint64_t(0);  // noted, no tick yet
  struct holder {
    std::shared_ptr<disk_queue> queue;
    std::uint64_t uses_at_tick = unseen;
  };
  std::unordered_map<const disk_queue*, holder> _holders;
};

}  // namespace nsqd::storage
