#pragma once
// An experiment for `--reactor-recv=multishot`: multishot recv into a provided-buffer ring,
// the shape io_uring rules 4 and 5 (STYLE.md) describe. src/core has no such source yet; this
// is a bench-local sketch to measure what one would gain, not runtime API.
//
// buffer_pool: one per shard. A buffer ring of `count` buffers of `size` bytes registered
// with the shard's io_uring as group `group`. Made, used and destroyed on that shard; it must
// outlive every recv_stream using it (unregistered in its destructor).
//
// recv_stream: one per connection, owned by its coroutine. One multishot RECV SQE yields a
// CQE per chunk; `co_await s.next()` gives the next chunk (res > 0 bytes in buffer `bid`,
// which the caller gives back with pool.recycle), 0 at EOF, or -errno (-ECANCELED once the
// coroutine's cancellation fired). The multishot is re-armed when the kernel ends it with
// -ENOBUFS. Before the stream is destroyed its owner must `co_await s.finish()`, which
// cancels an armed multishot and waits for its last CQE and for the cancel's own.

#include <liburing.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>

#include "core/cancel.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"

namespace nsqd::bench {

class buffer_pool {
 public:
  // Throws std::system_error when the kernel refuses the ring.
  buffer_pool(core::reactor& shard, unsigned count, size_t size, uint16_t group = 0);
  ~buffer_pool();
  buffer_pool(const buffer_pool&) = delete;
  buffer_pool& operator=(const buffer_pool&) = delete;

  uint16_t group() const noexcept { return _group; }
  const char* data(uint16_t bid) const noexcept { return _buffers + size_t(bid) * _size; }
  void recycle(uint16_t bid) noexcept;

 private:
  int _ring_fd;
  unsigned _count;
  size_t _size;
  uint16_t _group;
  io_uring_buf_ring* _ring = nullptr;
  size_t _ring_bytes = 0;
  char* _buffers = nullptr;
};

struct recv_chunk {
  int res = 0;       // bytes (> 0), 0 at EOF, or -errno
  uint16_t bid = 0;  // the buffer holding them, when res > 0
};

class recv_stream final : public core::completion_sink, public core::cancel_callback {
 public:
  recv_stream(int fd, buffer_pool& pool) noexcept : _fd(fd), _pool(pool) {}
  ~recv_stream();  // terminates if finish() was not awaited while an operation is in flight
  recv_stream(const recv_stream&) = delete;
  recv_stream& operator=(const recv_stream&) = delete;

  struct next_awaiter {
    recv_stream& s;
    bool await_ready() noexcept;
    template <core::has_context P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
      return s.suspend(h, h.promise());
    }
    recv_chunk await_resume() noexcept;
  };
  next_awaiter next() noexcept { return {*this}; }

  struct finish_awaiter {
    recv_stream& s;
    bool await_ready() noexcept;
    template <core::has_context P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      s._waiter = h;
    }
    void await_resume() noexcept {}
  };
  finish_awaiter finish() noexcept { return {*this}; }

 private:
  bool suspend(std::coroutine_handle<> h, core::promise_context& ctx) noexcept;
  void arm() noexcept;
  void on_cqe(int32_t res, uint32_t flags, bool secondary) noexcept override;
  void on_cancel() noexcept override;
  void send_cancel() noexcept;
  bool idle() const noexcept { return !_armed && _cancels == 0; }
  uint64_t user_data() const noexcept {
    return reinterpret_cast<uintptr_t>(static_cast<const core::completion_sink*>(this));
  }

  int _fd;
  buffer_pool& _pool;
  core::reactor* _shard = nullptr;
  std::deque<recv_chunk> _ready;
  std::coroutine_handle<> _waiter;
  unsigned _cancels = 0;  // our ASYNC_CANCELs whose own CQE is still due
  bool _armed = false;
  bool _cancel_sent = false;
  bool _ended = false;  // EOF, an error or cancellation was handed out: never re-arm
};

}  // namespace nsqd::bench
