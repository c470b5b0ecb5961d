#pragma once
// wake_signal: how a V2 connection's writer sleeps. One waiter at a time (the writer), woken by
// notify() from anything on the same shard, by an optional deadline (the next heartbeat or the
// output-buffer flush), or by its cancellation.
//
//   wake_signal wake;
//   int r = co_await wake.wait(deadline);  // 0 notified, -ETIMEDOUT deadline, -ECANCELED
//   ...                                     // elsewhere, same shard:
//   wake.notify();                          // a notify() with nobody waiting is kept for
//                                           // the next wait(), which then returns 0 at once
//
// Owned by the connection's client object; must outlive every wait on it. The deadline uses
// the shard's timer heap (no SQE per wait). Not thread-safe: one shard.

#include <cerrno>
#include <coroutine>
#include <optional>

#include "core/cancel.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"

namespace nsqd::protocol {

class wake_signal {
 public:
  wake_signal() = default;
  wake_signal(const wake_signal&) = delete;
  wake_signal& operator=(const wake_signal&) = delete;

  // Wakes the waiter (on a later loop turn), or marks the signal for the next wait().
  void notify() noexcept;

  class waiter;
  // Waits until notified, `deadline` passes (if given) or the caller is cancelled. Consumes
  // the notification.
  waiter wait(std::optional<core::clock::time_point> deadline) noexcept;

 private:
  friend class waiter;
  waiter* _waiter = nullptr;
  bool _notified = false;
};

class wake_signal::waiter final : core::timer_entry, core::cancel_callback {
 public:
  waiter(wake_signal& s, std::optional<core::clock::time_point> d) noexcept
      : _signal(s), _deadline(d) {}

  bool await_ready() const noexcept {
    return _signal._notified || (_deadline && *_deadline <= core::clock::now());
  }
  template <core::has_context P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    core::promise_context& ctx = h.promise();
    _shard = ctx.shard;
    if (ctx.cancel && ctx.cancel->cancelled()) {
      _res = -ECANCELED;
      return false;
    }
    _handle = h;
    _signal._waiter = this;
    if (_deadline) {
      deadline = *_deadline;
      _shard->arm(*this);
    }
    if (ctx.cancel) ctx.cancel->add(this);
    return true;
  }
  int await_resume() noexcept {
    if (_res == 1) {  // never suspended: notified or already past the deadline
      if (_signal._notified) {
        _signal._notified = false;
        return 0;
      }
      return -ETIMEDOUT;
    }
    if (_res == 0) _signal._notified = false;
    return _res;
  }

 private:
  friend class wake_signal;
  void finish(int res) noexcept {
    _shard->disarm(*this);
    core::cancel_source::remove(this);
    _signal._waiter = nullptr;
    _res = res;
    _shard->schedule(_handle);
  }
  void fire() noexcept override { finish(-ETIMEDOUT); }       // timer: already disarmed
  void on_cancel() noexcept override { finish(-ECANCELED); }  // already unlinked
  void woken() noexcept { finish(0); }

  wake_signal& _signal;
  std::optional<core::clock::time_point> _deadline;
  core::reactor* _shard = nullptr;
  std::coroutine_handle<> _handle;
  int _res = 1;  // 1 = not suspended
};

inline void wake_signal::notify() noexcept {
  _notified = true;
  if (_waiter) _waiter->woken();
}

inline wake_signal::waiter wake_signal::wait(std::optional<core::clock::time_point> d) noexcept {
  return waiter(*this, d);
}

}  // namespace nsqd::protocol
