#pragma once
// task<T>: the coroutine type of the whole server.
//
// - Lazy: creating a task runs nothing; `co_await t` starts it and suspends the caller.
// - No stack growth: a child runs on the awaiting coroutine's stack until it first suspends;
//   one that completes without suspending simply returns there, and one that suspended resumes
//   its caller by symmetric transfer when it ends. Long chains of awaits that complete at
//   once (e.g. parsing pipelined commands already buffered) therefore use constant stack in
//   every build, not only where the compiler emits tail calls.
// - Errors: an exception escaping the body is stored and rethrown at the caller's co_await.
//   (The I/O layer itself never throws: it returns -errno. Exceptions are for start-up,
//   configuration and broken invariants.)
// - Context: every coroutine carries the shard it runs on and the cancel_source it obeys.
//   A task inherits both from the coroutine that awaits it, so I/O deep inside a call chain
//   is cancelled when the task_group owning the chain is.
// - Ownership: the task object owns the frame; destroying a task that was never awaited
//   frees it. A task is awaited at most once, and is never destroyed while it runs (the
//   awaiting frame owns it for the whole await).
//
// Background work starts only through task_group::spawn (task_group.hpp).

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace nsqd::core {

class reactor;
class cancel_source;

// What a coroutine knows about where it runs. Copied from parent to child at each co_await.
struct promise_context {
  reactor* shard = nullptr;
  cancel_source* cancel = nullptr;
};

// Awaiters that need the context take the awaiting coroutine's promise through this concept.
template <class P>
concept has_context = std::is_base_of_v<promise_context, P>;

template <class T = void>
class task;

namespace detail {

struct task_promise_base : promise_context {
  std::coroutine_handle<> continuation;
  std::exception_ptr error;
  // While the awaiting coroutine is still inside its await_suspend (the child started and is
  // running on its stack), finishing returns to it instead of resuming it: a task that
  // completes without suspending costs no stack, even where the compiler does not turn
  // symmetric transfer into a tail call (GCC at -O0 or with ASan).
  bool started_inline = false;
  bool finished_inline = false;

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> self) noexcept {
      auto& p = self.promise();
      if (p.started_inline) {
        p.finished_inline = true;
        return std::noop_coroutine();
      }
      return p.continuation;
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct task_promise final : task_promise_base {
  std::optional<T> value;
  task<T> get_return_object() noexcept;
  template <class U>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <>
struct task_promise<void> final : task_promise_base {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() {
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle = std::coroutine_handle<promise_type>;

  task() noexcept = default;
  explicit task(handle h) noexcept : _h(h) {}
  task(task&& o) noexcept : _h(std::exchange(o._h, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (_h) _h.destroy();
      _h = std::exchange(o._h, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (_h) _h.destroy();
  }

  bool valid() const noexcept { return bool(_h); }

  struct awaiter {
    handle h;
    bool shield = false;  // the child ignores the caller's cancellation
    bool await_ready() const noexcept { return false; }
    // Runs the child on this stack until it first suspends. If it finished by then, the
    // caller goes on without suspending; otherwise the child resumes the caller when done.
    template <has_context P>
    bool await_suspend(std::coroutine_handle<P> caller) noexcept {
      auto& p = h.promise();
      static_cast<promise_context&>(p) = static_cast<promise_context&>(caller.promise());
      if (shield) p.cancel = nullptr;
      p.continuation = caller;
      p.started_inline = true;
      h.resume();
      if (p.finished_inline) return false;
      p.started_inline = false;
      return true;
    }
    T await_resume() { return h.promise().take(); }
  };
  awaiter operator co_await() && noexcept { return awaiter{_h}; }

  // Awaits like co_await, but the child ignores the caller's cancellation: for work that must
  // finish once started (a disk write whose record others wait on, the flush at shutdown).
  awaiter shielded() && noexcept { return awaiter{_h, true}; }

  // For the runtime's root runners: hand the frame over.
  handle release() noexcept { return std::exchange(_h, {}); }

 private:
  handle _h;
};

// `co_await core::shielded(f())`: see task::shielded().
template <class T>
auto shielded(task<T>&& t) noexcept {
  return std::move(t).shielded();
}

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}
}  // namespace detail

// `promise_context ctx = co_await this_context();` : the awaiting coroutine's shard and
// cancellation, without suspending. Used to build task_groups and to reach the reactor.
struct this_context {
  promise_context ctx;
  bool await_ready() const noexcept { return false; }
  template <has_context P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    ctx = static_cast<promise_context&>(caller.promise());
    return false;  // resume at once
  }
  promise_context await_resume() const noexcept { return ctx; }
};

}  // namespace nsqd::core
