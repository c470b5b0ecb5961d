#pragma once
// node_health: whether the last disk write worked, for /ping (SPEC D.2). Shared by every
// shard (owned by the server): a failed write sets the error, the next good write clears it.

#include <atomic>
#include <mutex>
#include <string>

namespace nsqd::storage {

class node_health {
 public:
  bool ok() const noexcept { return _ok.load(std::memory_order_acquire); }
  // "" when healthy.
  std::string error() const {
    std::lock_guard lock(_mutex);
    return _error;
  }
  void set_error(std::string e) {
    std::lock_guard lock(_mutex);
    _error = std::move(e);
    _ok.store(false, std::memory_order_release);
  }
  void set_ok() {
    if (ok()) return;
    std::lock_guard lock(_mutex);
    _error.clear();
    _ok.store(true, std::memory_order_release);
  }

 private:
  mutable std::mutex _mutex;
  std::string _error;
  std::atomic<bool> _ok{true};
};

}  // namespace nsqd::storage
