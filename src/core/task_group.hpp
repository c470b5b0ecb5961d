#pragma once
// task_group: structured concurrency, in place of Go's WaitGroup + exitFunc.
//
//   core::task_group group{co_await core::this_context()};
//   group.spawn(accept_loop(listener));      // the one way to start background work
//   group.spawn(queue_scan(shard));
//   co_await group.join();                   // until every child ended; rethrows the first error
//
// - Children run on the group's shard, are started on a later loop turn (spawn never runs a
//   child inline) and obey the group's cancel_source, which is a child of the creator's: when
//   the creator is cancelled, so is the group.
// - The first child that fails (throws) cancels the group: every sibling's in-flight I/O ends
//   with -ECANCELED. join() rethrows that first error once all children have ended.
// - cancel() stops the group without it being a failure (e.g. on SIGTERM).
// - A group must not be destroyed with children alive: that is a bug and terminates.
// - Pass arguments to the child as coroutine parameters: a capturing lambda coroutine's
//   captures die before the coroutine does.

#include <algorithm>
#include <cstdio>
#include <exception>
#include <functional>

#include "core/cancel.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"

namespace nsqd::core {

class task_group {
 public:
  explicit task_group(promise_context creator)
      : _shard(creator.shard), _cancel(creator.cancel) {}
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;
  ~task_group() {
    if (_live != 0) {
      std::fprintf(stderr, "task_group destroyed with %zu children alive\n", _live);
      std::terminate();
    }
  }

  void spawn(task<void> t) {
    child c = run_child(std::move(t));
    auto& p = c.h.promise();
    p.shard = _shard;
    p.cancel = &_cancel;
    p.group = this;
    ++_live;
    _shard->schedule(c.h);
  }

  void cancel() noexcept { _cancel.request(); }
  bool cancelled() const noexcept { return _cancel.cancelled(); }
  size_t size() const noexcept { return _live; }
  reactor& shard() const noexcept { return *_shard; }

  struct join_awaiter {
    task_group& g;
    bool await_ready() const noexcept { return g._live == 0; }
    void await_suspend(std::coroutine_handle<> h) noexcept { g._joiner = h; }
    void await_resume() const {
      if (g._first_error) std::rethrow_exception(g._first_error);
    }
  };
  join_awaiter join() noexcept { return {*this}; }

 private:
  struct child {
    struct promise_type : promise_context {
      task_group* group = nullptr;
      child get_return_object() noexcept {
        return {std::coroutine_handle<promise_type>::from_promise(*this)};
      }
      std::suspend_always initial_suspend() noexcept { return {}; }
      struct final_awaiter {
        bool await_ready() noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
          task_group* g = h.promise().group;
          h.destroy();
          return g->child_ended();
        }
        void await_resume() noexcept {}
      };
      final_awaiter final_suspend() noexcept { return {}; }
      void return_void() noexcept {}
      void unhandled_exception() noexcept { group->child_failed(std::current_exception()); }
    };
    std::coroutine_handle<promise_type> h;
  };

  static child run_child(task<void> t) { co_await std::move(t); }

  void child_failed(std::exception_ptr e) noexcept {
    if (!_first_error) _first_error = e;
    _cancel.request();
  }
  std::coroutine_handle<> child_ended() noexcept {
    if (--_live == 0 && _joiner) return std::exchange(_joiner, {});
    return std::noop_coroutine();
  }

  reactor* _shard;
  cancel_source _cancel;
  size_t _live = 0;
  std::exception_ptr _first_error;
  std::coroutine_handle<> _joiner;
};

namespace detail {
inline task<void> lane(std::size_t* next, std::size_t n, const std::function<task<void>(std::size_t)>* work) {
  for (std::size_t i = (*next)++; i < n; i = (*next)++) co_await (*work)(i);
}
}  // namespace detail

// Runs work(0) .. work(n - 1), at most `lanes` of them at once, and waits for them all (their
// first error is rethrown). For many small independent I/O jobs (opening or closing thousands
// of queues): one at a time, each waits for the last one's I/O; all at once, a node with
// 10,000 topics has 20,000 operations in flight. `work` must return a task made by calling a
// coroutine function with its arguments (not a capturing coroutine lambda: see above).
inline task<void> in_lanes(std::size_t n, std::size_t lanes, std::function<task<void>(std::size_t)> work) {
  std::size_t next = 0;
  promise_context ctx = co_await this_context();
  task_group g{ctx};
  for (std::size_t l = 0; l < std::min(lanes, n); ++l) g.spawn(detail::lane(&next, n, &work));
  co_await g.join();
}

}  // namespace nsqd::core
