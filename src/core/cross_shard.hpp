#pragma once
// Cross-shard calls: `co_await on_shard(n, fn)` runs fn on shard n and resumes the caller on
// its own shard with fn's result (or rethrows fn's exception). fn may return a value or a
// task<T>; a task runs on shard n as a coroutine of that shard. On the caller's own shard fn
// runs inline, as Seastar's submit_to does.
//
// Underneath, the hub holds one single-producer single-consumer ring per ordered pair of
// shards. A sender pushes a small item; at the end of its loop turn it wakes each target that
// has new items with one IORING_OP_MSG_RING (a shared per-target flag makes many senders
// and many items cost one wake-up). Each loop turn a shard drains its inbound rings. Items that
// find a ring full wait in the sender's overflow queue; the receiver, once it has drained that
// ring, wakes the sender to push them (the sender may have nothing else to wake it).
//
// Cancellation crosses shards: if the caller's cancellation fires while it waits, the remote
// side's cancel_source is cancelled on shard n, and the caller resumes only once both the
// result and the cancel acknowledgement are back (the call object is never freed early).
//
// Arguments captured by reference in fn are safe: the caller is suspended until fn is done.

#include <atomic>
#include <cassert>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "core/cancel.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"

namespace nsqd::core {

namespace detail {

class cross_call;

struct cross_item {
  enum kind_t : uint32_t { start, done, cancel, cancel_ack } kind;
  cross_call* call;
};

// Bounded lock-free SPSC ring of cross_items.
class spsc_ring {
 public:
  static constexpr size_t capacity = 1024;
  // Set by the producer when the ring was full and items wait in its overflow; the consumer
  // clears it after draining and wakes the producer, which may have nothing else to wake it.
  std::atomic<bool> producer_waiting{false};

  bool push(cross_item item) noexcept {
    size_t tail = _tail.load(std::memory_order_relaxed);
    if (tail - _head_cache == capacity) {
      _head_cache = _head.load(std::memory_order_acquire);
      if (tail - _head_cache == capacity) return false;
    }
    _items[tail % capacity] = item;
    _tail.store(tail + 1, std::memory_order_release);
    return true;
  }
  bool pop(cross_item& out) noexcept {
    size_t head = _head.load(std::memory_order_relaxed);
    if (head == _tail_cache) {
      _tail_cache = _tail.load(std::memory_order_acquire);
      if (head == _tail_cache) return false;
    }
    out = _items[head % capacity];
    _head.store(head + 1, std::memory_order_release);
    return true;
  }

 private:
  alignas(64) std::atomic<size_t> _head{0};
  size_t _tail_cache = 0;  // consumer's view of _tail
  alignas(64) std::atomic<size_t> _tail{0};
  size_t _head_cache = 0;  // producer's view of _head
  alignas(64) cross_item _items[capacity];
};

}  // namespace detail

// Owned by the runtime; shared by all shards. Each method says which thread may call it.
class cross_shard_hub {
 public:
  explicit cross_shard_hub(unsigned shards);
  ~cross_shard_hub();

  unsigned shards() const noexcept { return _shards; }
  // Before any loop runs: which reactor serves shard n.
  void attach(unsigned shard, reactor& r) noexcept;
  reactor& shard(unsigned n) const noexcept { return *_state[n]->reactor_ptr; }

  // On shard `from`'s thread.
  void post(unsigned from, unsigned to, detail::cross_item item);
  // On shard `me`'s thread, once per loop turn: runs everything other shards sent, and wakes
  // the senders that were waiting for room.
  void poll(unsigned me);
  // On shard `me`'s thread, once per loop turn: pushes queued items, wakes their targets.
  void flush(reactor& me);

 private:
  struct alignas(64) per_shard {
    reactor* reactor_ptr = nullptr;
    std::atomic<bool> wake_requested{false};  // set by senders, cleared by the owner
    std::vector<std::deque<detail::cross_item>> overflow;  // by target; owner's thread only
    std::vector<bool> needs_wake;                             // by target; owner's thread only
  };
  detail::spsc_ring& ring(unsigned from, unsigned to) noexcept { return *_rings[from * _shards + to]; }
  void handle(unsigned me, detail::cross_item item);
  // One IORING_OP_MSG_RING from r's ring to shard `to`, unless a wake-up is already due.
  void wake(reactor& r, unsigned to);

  unsigned _shards;
  std::vector<std::unique_ptr<detail::spsc_ring>> _rings;
  std::vector<std::unique_ptr<per_shard>> _state;
};

namespace detail {

// One call in flight; lives in the caller's frame until the caller resumes.
class cross_call : public cancel_callback {
 public:
  virtual ~cross_call() = default;
  virtual void start_on_target(reactor& target) = 0;  // on the target shard

  cross_shard_hub* hub = nullptr;
  unsigned origin = 0;
  unsigned target = 0;
  cancel_source remote_cancel;  // obeyed by the remote side; touched on the target shard only
  std::exception_ptr error;

  // Origin side.
  void on_result() noexcept {
    cancel_source::remove(this);
    finish_one();
  }
  void on_cancel_ack() noexcept { finish_one(); }
  void on_cancel() noexcept override {
    ++_pending;
    hub->post(origin, target, {cross_item::cancel, this});
  }
  // Target side: the work is over, send the result home.
  void complete() { hub->post(target, origin, {cross_item::done, this}); }

  struct awaiter {
    cross_call& call;
    bool await_ready() const noexcept { return false; }
    template <has_context P>
    void await_suspend(std::coroutine_handle<P> h) {
      promise_context& ctx = h.promise();
      call._waiter = h;
      call._origin_shard = ctx.shard;
      call._pending = 1;
      call.hub->post(call.origin, call.target, {cross_item::start, &call});
      if (ctx.cancel) ctx.cancel->add(&call);
    }
    void await_resume() const noexcept {}
  };

 private:
  void finish_one() noexcept {
    if (--_pending == 0) _origin_shard->schedule(_waiter);
  }
  std::coroutine_handle<> _waiter;
  reactor* _origin_shard = nullptr;
  unsigned _pending = 0;
};

template <class T>
struct unwrap_task {
  using type = T;
  static constexpr bool is_task = false;
};
template <class T>
struct unwrap_task<task<T>> {
  using type = T;
  static constexpr bool is_task = true;
};

// The target side of a call whose fn returns a task: a self-destroying coroutine frame.
struct remote_runner {
  struct promise_type : promise_context {
    remote_runner get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }  // bodies catch everything
  };
  std::coroutine_handle<promise_type> h;
};

template <class F>
class typed_call final : public cross_call {
 public:
  using raw_result = std::invoke_result_t<F&>;
  using result = typename unwrap_task<raw_result>::type;

  explicit typed_call(F&& fn) : _fn(std::move(fn)) {}

  void start_on_target(reactor& target) override {
    if constexpr (unwrap_task<raw_result>::is_task) {
      remote_runner r = run(this);
      r.h.promise().shard = &target;
      r.h.promise().cancel = &remote_cancel;
      target.schedule(r.h);
    } else {
      try {
        if constexpr (std::is_void_v<result>)
          _fn();
        else
          _value.emplace(_fn());
      } catch (...) {
        error = std::current_exception();
      }
      complete();
    }
  }

  result take() {
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<result>) return std::move(*_value);
  }

 private:
  static remote_runner run(typed_call* self) {
    try {
      if constexpr (std::is_void_v<result>)
        co_await self->_fn();
      else
        self->_value.emplace(co_await self->_fn());
    } catch (...) {
      self->error = std::current_exception();
    }
    self->complete();
  }

  F _fn;
  std::optional<std::conditional_t<std::is_void_v<result>, bool, result>> _value;
};

}  // namespace detail

// Runs fn on shard `n`; see the top of this file.
template <class F>
auto on_shard(unsigned n, F fn) -> task<typename detail::typed_call<F>::result> {
  using call_t = detail::typed_call<F>;
  promise_context ctx = co_await this_context();
  reactor& here = *ctx.shard;
  if (n == here.shard_id()) {
    // (No `co_return co_await`: GCC 12 miscompiles some coroutines written that way.)
    if constexpr (!detail::unwrap_task<typename call_t::raw_result>::is_task) {
      co_return fn();
    } else if constexpr (std::is_void_v<typename call_t::result>) {
      co_await fn();
      co_return;
    } else {
      typename call_t::result value = co_await fn();
      co_return value;
    }
  }
  assert(here.hub() && n < here.hub()->shards());
  call_t call(std::move(fn));
  call.hub = here.hub();
  call.origin = here.shard_id();
  call.target = n;
  co_await typename call_t::awaiter{call};
  co_return call.take();
}

}  // namespace nsqd::core
