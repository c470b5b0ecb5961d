#pragma once
// Awaitable io_uring operations. Each returns what the kernel returned: a count or an fd when
// >= 0, -errno otherwise. Nothing here throws; a peer hanging up is a result, not an error.
//
//   int n = co_await core::recv(fd, buf, len);
//   int n = co_await core::recv(fd, buf, len).timeout(2s);   // -ETIMEDOUT if it fires
//   int r = co_await core::sleep_for(100ms);                  // 0, or -ECANCELED
//
// Cancellation: an operation started by a coroutine whose cancel_source is (or becomes)
// cancelled completes with -ECANCELED. An operation in flight is cancelled with
// IORING_OP_ASYNC_CANCEL and its coroutine resumes only after both CQEs (the operation's and
// the cancel's), so no stale cancel can ever hit a later operation at the same address.
// Buffers passed in must stay valid until the co_await returns (the coroutine frame holds them).

#include <liburing.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <cerrno>
#include <chrono>
#include <deque>
#include <optional>

#include "core/cancel.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"

namespace nsqd::core {

namespace detail {

// A single-shot operation in flight: the CQE sink, the cancel hook and the waiting coroutine.
class io_request : public completion_sink, public cancel_callback {
 protected:
  uint64_t user_data() const noexcept {
    return reinterpret_cast<uintptr_t>(static_cast<const completion_sink*>(this));
  }
  void on_cqe(int32_t res, uint32_t flags, bool secondary) noexcept override {
    if (secondary) {
      if (res == -ETIME) _timed_out = true;
    } else {
      _res = res;
      _flags = flags;
      cancel_source::remove(this);  // finished: a later cancel must not touch it
    }
    if (--_pending == 0) _shard->schedule(_waiter);
  }
  void on_cancel() noexcept override {
    io_uring_sqe* s = _shard->sqe();
    io_uring_prep_cancel64(s, user_data(), 0);
    io_uring_sqe_set_data64(s, user_data() | 1);
    ++_pending;
  }

  reactor* _shard = nullptr;
  std::coroutine_handle<> _waiter;
  int32_t _res = 0;
  uint32_t _flags = 0;
  uint8_t _pending = 0;
  bool _timed_out = false;
};

}  // namespace detail

// One io_uring operation; `Prep` fills the SQE (everything but user_data).
template <class Prep>
class [[nodiscard]] io_op final : public detail::io_request {
 public:
  explicit io_op(Prep prep) noexcept : _prep(prep) {}
  io_op(io_op&&) noexcept = default;

  // Bounds the operation with a linked timeout; it then ends with -ETIMEDOUT if that fires.
  io_op timeout(std::chrono::nanoseconds d) && noexcept {
    auto ns = d.count() < 0 ? 0 : d.count();
    _ts.tv_sec = ns / 1'000'000'000;
    _ts.tv_nsec = ns % 1'000'000'000;
    _has_timeout = true;
    return std::move(*this);
  }

  bool await_ready() const noexcept { return false; }

  template <has_context P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    promise_context& ctx = h.promise();
    _shard = ctx.shard;
    if (ctx.cancel && ctx.cancel->cancelled()) {
      _res = -ECANCELED;
      return false;
    }
    _waiter = h;
    io_uring_sqe* s = _shard->sqe(_has_timeout ? 2 : 1);
    _prep(s);
    io_uring_sqe_set_data64(s, user_data());
    _pending = 1;
    if (_has_timeout) {
      s->flags |= IOSQE_IO_LINK;
      io_uring_sqe* t = _shard->sqe();
      io_uring_prep_link_timeout(t, &_ts, 0);
      io_uring_sqe_set_data64(t, user_data() | 1);
      ++_pending;
    }
    if (ctx.cancel) ctx.cancel->add(this);
    return true;
  }

  int await_resume() const noexcept {
    if (_timed_out && _res == -ECANCELED) return -ETIMEDOUT;
    return _res;
  }
  // The CQE flags of the completion (e.g. the buffer id of a provided-buffer recv).
  uint32_t flags() const noexcept { return _flags; }

 private:
  Prep _prep;
  __kernel_timespec _ts{};
  bool _has_timeout = false;
};

template <class Prep>
io_op<Prep> make_io(Prep p) noexcept {
  return io_op<Prep>(p);
}

// ---- sockets --------------------------------------------------------------------------------

inline auto recv(int fd, void* buf, size_t len, int flags = 0) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_recv(s, fd, buf, len, flags); });
}
// Waits until fd is readable (or hung up); holds no buffer meanwhile. The poll mask, or -errno.
inline auto poll_in(int fd) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_poll_add(s, fd, POLLIN); });
}
inline auto send(int fd, const void* buf, size_t len, int flags = MSG_NOSIGNAL) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_send(s, fd, buf, len, flags); });
}
inline auto writev(int fd, const iovec* iov, unsigned count) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_writev(s, fd, iov, count, 0); });
}
inline auto sendmsg(int fd, const msghdr* msg, unsigned flags = MSG_NOSIGNAL) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_sendmsg(s, fd, msg, flags); });
}
inline auto connect(int fd, const sockaddr* addr, socklen_t len) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_connect(s, fd, addr, len); });
}
inline auto accept(int fd, int flags = SOCK_CLOEXEC) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_accept(s, fd, nullptr, nullptr, flags); });
}
inline auto shutdown(int fd, int how) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_shutdown(s, fd, how); });
}

// ---- files ----------------------------------------------------------------------------------

inline auto openat(int dirfd, const char* path, int flags, mode_t mode = 0644) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_openat(s, dirfd, path, flags, mode); });
}
inline auto read(int fd, void* buf, unsigned len, uint64_t offset) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_read(s, fd, buf, len, offset); });
}
inline auto write(int fd, const void* buf, unsigned len, uint64_t offset) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_write(s, fd, buf, len, offset); });
}
inline auto fsync(int fd, bool data_only = false) noexcept {
  unsigned flags = data_only ? IORING_FSYNC_DATASYNC : 0;
  return make_io([=](io_uring_sqe* s) { io_uring_prep_fsync(s, fd, flags); });
}
inline auto close(int fd) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_close(s, fd); });
}
inline auto renameat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_renameat(s, olddirfd, oldpath, newdirfd, newpath, 0); });
}
inline auto unlinkat(int dirfd, const char* path, int flags = 0) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_unlinkat(s, dirfd, path, flags); });
}
// `out` receives the size and times (STATX_BASIC_STATS); path "" with AT_EMPTY_PATH stats dirfd.
inline auto statx(int dirfd, const char* path, int flags, struct statx* out) noexcept {
  return make_io([=](io_uring_sqe* s) { io_uring_prep_statx(s, dirfd, path, flags, STATX_BASIC_STATS, out); });
}

// ---- time -----------------------------------------------------------------------------------

// Waits on the shard's timer heap (no SQE per sleep). 0 when the time has passed,
// -ECANCELED when the coroutine's cancellation fired first.
class [[nodiscard]] sleep_for final : timer_entry, cancel_callback {
 public:
  explicit sleep_for(std::chrono::nanoseconds d) noexcept : _duration(d) {}
  bool await_ready() const noexcept { return false; }
  template <has_context P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    promise_context& ctx = h.promise();
    _shard = ctx.shard;
    if (ctx.cancel && ctx.cancel->cancelled()) {
      _res = -ECANCELED;
      return false;
    }
    _waiter = h;
    deadline = clock::now() + _duration;
    _shard->arm(*this);
    if (ctx.cancel) ctx.cancel->add(this);
    return true;
  }
  int await_resume() const noexcept { return _res; }

 private:
  void fire() noexcept override {
    cancel_source::remove(this);
    _shard->schedule(_waiter);
  }
  void on_cancel() noexcept override {
    _shard->disarm(*this);
    _res = -ECANCELED;
    _shard->schedule(_waiter);
  }
  std::chrono::nanoseconds _duration;
  reactor* _shard = nullptr;
  std::coroutine_handle<> _waiter;
  int _res = 0;
};

// Lets the rest of the run queue go first (a cooperative yield point for long loops).
struct yield_now {
  bool await_ready() const noexcept { return false; }
  template <has_context P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    h.promise().shard->schedule(h);
  }
  void await_resume() const noexcept {}
};

// ---- multishot accept -----------------------------------------------------------------------

// A source of accepted connections on one listening socket: one multishot SQE, many CQEs.
// `co_await acceptor.next()` gives an fd (>= 0) or -errno; -ECANCELED once the caller's
// cancellation fired. The multishot is re-armed when the kernel ends it (e.g. on error).
// Owned by the accepting coroutine, on its shard. Dropping it while armed hands the pending
// operation to the reactor, which cancels it and closes whatever it still accepts.
class accept_stream {
 public:
  explicit accept_stream(int listen_fd) noexcept : _listen_fd(listen_fd) {}
  accept_stream(const accept_stream&) = delete;
  accept_stream& operator=(const accept_stream&) = delete;
  ~accept_stream();

  class next_awaiter;
  next_awaiter next() noexcept;

 private:
  class state;
  int _listen_fd;
  state* _state = nullptr;
};

class accept_stream::state final : public reactor::orphan, public cancel_callback {
 public:
  state(reactor& r, int fd) : _shard(&r), _fd(fd) {}
  ~state() override;

  void arm();
  void on_cqe(int32_t res, uint32_t flags, bool secondary) noexcept override;
  void on_cancel() noexcept override;
  bool done() const noexcept override { return !_armed && _secondary == 0; }
  void cancel(reactor& r) noexcept override;
  void wake() noexcept;

  reactor* _shard;
  int _fd;
  std::deque<int> _ready;
  std::coroutine_handle<> _waiter;
  unsigned _secondary = 0;
  bool _armed = false;
  bool _cancel_sent = false;
  bool _orphaned = false;
};

class accept_stream::next_awaiter {
 public:
  explicit next_awaiter(accept_stream& s) noexcept : _stream(s) {}
  bool await_ready() const noexcept { return _stream._state && !_stream._state->_ready.empty(); }
  template <has_context P>
  bool await_suspend(std::coroutine_handle<P> h) {
    promise_context& ctx = h.promise();
    if (ctx.cancel && ctx.cancel->cancelled()) return false;
    if (!_stream._state) _stream._state = new state(*ctx.shard, _stream._listen_fd);
    state& st = *_stream._state;
    if (!st._armed) st.arm();
    st._waiter = h;
    if (ctx.cancel) ctx.cancel->add(&st);
    return true;
  }
  int await_resume() noexcept {
    state* st = _stream._state;
    if (!st || st->_ready.empty()) return -ECANCELED;
    int fd = st->_ready.front();
    st->_ready.pop_front();
    return fd;
  }

 private:
  accept_stream& _stream;
};

inline accept_stream::next_awaiter accept_stream::next() noexcept { return next_awaiter(*this); }

}  // namespace nsqd::core
