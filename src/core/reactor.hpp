#pragma once
// reactor: one per shard. Owns the shard's io_uring, its run queue and its timers.
//
// Created on, used by and destroyed on its shard's thread only (the ring is set up with
// IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, falling back with a log line when
// the kernel refuses). One loop turn:
//   1. resume up to `task_quota` ready coroutines (so one busy connection cannot starve the rest);
//   2. take in cross-shard work (cross_shard.hpp) and wake other shards it has work for;
//   3. one io_uring_enter: submit every SQE of the turn and, if nothing is ready, sleep until a
//      completion or the next timer;
//   4. reap a batch of CQEs, advance the CQ, then hand each result to its waiter, which is
//      scheduled (never resumed inside the CQE loop);
//   5. fire due timers.
//
// An operation in flight is a completion_sink whose address is the SQE's user_data; the low
// three bits tag secondary completions (an ASYNC_CANCEL's own CQE, a linked timeout's CQE),
// which an operation must also see before it may end: cancelling is joining.

#include <liburing.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <vector>

#include "core/log.hpp"
#include "core/task.hpp"

namespace nsqd::core {

class cross_shard_hub;

// Receives the CQEs of an operation. `secondary` is true for the CQE of a cancel or of a
// linked timeout that was submitted on the operation's behalf.
class completion_sink {
 public:
  virtual void on_cqe(int32_t res, uint32_t flags, bool secondary) noexcept = 0;

 protected:
  ~completion_sink() = default;
};

// A point in time on the reactor's clock (CLOCK_MONOTONIC), in nanoseconds.
using clock = std::chrono::steady_clock;

// Intrusive timer heap node. fire() runs on the loop when the deadline has passed; like a
// completion, it must only schedule coroutines, never resume them.
class timer_entry {
 public:
  virtual void fire() noexcept = 0;
  clock::time_point deadline{};
  bool armed() const noexcept { return _index != npos; }

 protected:
  ~timer_entry() = default;

 private:
  friend class reactor;
  static constexpr size_t npos = ~size_t(0);
  size_t _index = npos;
};

struct reactor_options {
  unsigned shard_id = 0;
  unsigned sq_entries = 4096;   // SQ ring size; the CQ is twice as large
  unsigned task_quota = 256;    // coroutines resumed per loop turn before polling I/O again
};

class reactor {
 public:
  // Creates the ring. Throws std::system_error with a clear message if io_uring is not usable.
  reactor(const reactor_options& opts, const logger& log);
  ~reactor();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  unsigned shard_id() const noexcept { return _shard_id; }
  const logger& log() const noexcept { return _log; }
  int ring_fd() const noexcept { return _ring.ring_fd; }

  // Runs the loop until `root` completes, then returns its result (or rethrows its error).
  // The root runs with this reactor and `cancel` (may be null) as its context.
  template <class T>
  T run(task<T> root, cancel_source* cancel = nullptr);

  // Runs the loop until stop() is called (from a coroutine or callback on this shard).
  void run_until_stopped();
  void stop() noexcept { _stop = true; }

  // Makes h runnable on a later turn (FIFO). Only from this shard's thread.
  void schedule(std::coroutine_handle<> h) { _ready.push_back(h); }

  // An SQE for this turn; submits the ring first when fewer than `count` are free, so a
  // caller preparing linked SQEs gets them consecutive. Never returns null.
  io_uring_sqe* sqe(unsigned count = 1);

  void arm(timer_entry& t);
  void disarm(timer_entry& t) noexcept;

  // Operations whose owner is gone but whose CQEs are still due (e.g. a multishot accept
  // dropped while armed). The reactor keeps them until they report done, then deletes them.
  class orphan : public completion_sink {
   public:
    virtual ~orphan() = default;
    virtual bool done() const noexcept = 0;
    virtual void cancel(reactor& r) noexcept = 0;  // ask the kernel to finish it
  };
  void adopt(orphan* o);

  // Cross-shard plumbing, set by the runtime before the loop starts.
  void attach(cross_shard_hub* hub) noexcept { _hub = hub; }
  cross_shard_hub* hub() const noexcept { return _hub; }

  // When the last turn finished reaping completions: not before anything this shard's
  // coroutines now handle arrived (the broker's order keys use it: one clock read a turn).
  clock::time_point turn_time() const noexcept { return _turn_time; }

  // Counters for benchmarks and /metrics.
  struct counters {
    uint64_t loop_turns = 0;
    uint64_t enters = 0;
    uint64_t cqes = 0;
    uint64_t resumes = 0;
  };
  const counters& stats() const noexcept { return _counters; }

 private:
  template <class T>
  struct root_runner;

  void loop(const bool& done);
  void turn(bool may_sleep);
  void reap();
  void fire_timers();
  void sweep_orphans();
  void heap_up(size_t i) noexcept;
  void heap_down(size_t i) noexcept;
  void heap_swap(size_t a, size_t b) noexcept;

  unsigned _shard_id;
  unsigned _task_quota;
  const logger& _log;
  io_uring _ring{};
  std::deque<std::coroutine_handle<>> _ready;
  std::vector<timer_entry*> _timers;  // binary min-heap by deadline
  std::vector<orphan*> _orphans;
  cross_shard_hub* _hub = nullptr;
  bool _stop = false;
  clock::time_point _turn_time = clock::now();
  counters _counters;
};

// ---- root runner: the only coroutine the reactor itself owns ------------------------------

template <class T>
struct reactor::root_runner {
  struct promise_type : promise_context {
    bool* done = nullptr;
    root_runner get_return_object() { return {std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> h) noexcept { *h.promise().done = true; }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }  // body catches everything
  };
  std::coroutine_handle<promise_type> h;
};

template <class T>
T reactor::run(task<T> root, cancel_source* cancel) {
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  std::exception_ptr error;
  auto body = [](task<T> t, auto& value, std::exception_ptr& error) -> root_runner<T> {
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(t);
        value.emplace(true);
      } else {
        value.emplace(co_await std::move(t));
      }
    } catch (...) {
      error = std::current_exception();
    }
  };
  bool done = false;
  root_runner<T> runner = body(std::move(root), value, error);
  runner.h.promise().shard = this;
  runner.h.promise().cancel = cancel;
  runner.h.promise().done = &done;
  schedule(runner.h);
  loop(done);
  runner.h.destroy();
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) return std::move(*value);
}

}  // namespace nsqd::core
