#pragma once
// event: a single-shard wake-up flag for coroutines.
//
//   core::event ready;
//   ...                                  // producer, on the same shard:
//   ready.set();                         // wakes every waiter (they run on a later turn)
//   ...                                  // consumer:
//   int rc = co_await ready.wait();      // 0 when set, -ECANCELED if cancelled first
//   ready.reset();
//
// An event stays set until reset(), so a set() before the wait is not lost. wait() obeys
// the waiting coroutine's cancellation. Owned by whoever owns the waiters' shared state;
// must outlive every wait on it.

#include <cerrno>
#include <coroutine>

#include "core/cancel.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"

namespace nsqd::core {

class event {
 public:
  event() = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;
  ~event() = default;

  bool is_set() const noexcept { return _set; }
  void reset() noexcept { _set = false; }
  void set() noexcept {
    _set = true;
    while (_waiters) {
      waiter* w = _waiters;
      _waiters = w->_next;
      w->_queued = false;
      cancel_source::remove(w);
      w->_shard->schedule(w->_handle);
    }
  }

  class waiter final : cancel_callback {
   public:
    explicit waiter(event& e) noexcept : _event(e) {}
    bool await_ready() const noexcept { return _event._set; }
    template <has_context P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
      promise_context& ctx = h.promise();
      if (ctx.cancel && ctx.cancel->cancelled()) {
        _res = -ECANCELED;
        return false;
      }
      _shard = ctx.shard;
      _handle = h;
      _next = _event._waiters;
      _event._waiters = this;
      _queued = true;
      if (ctx.cancel) ctx.cancel->add(this);
      return true;
    }
    int await_resume() const noexcept { return _res; }

   private:
    friend class event;
    void on_cancel() noexcept override {
      if (_queued) {  // unlink from the event's list
        waiter** p = &_event._waiters;
        while (*p != this) p = &(*p)->_next;
        *p = _next;
        _queued = false;
      }
      _res = -ECANCELED;
      _shard->schedule(_handle);
    }
    event& _event;
    reactor* _shard = nullptr;
    std::coroutine_handle<> _handle;
    waiter* _next = nullptr;
    bool _queued = false;
    int _res = 0;
  };

  waiter wait() noexcept { return waiter(*this); }

 private:
  waiter* _waiters = nullptr;
  bool _set = false;
};

}  // namespace nsqd::core
