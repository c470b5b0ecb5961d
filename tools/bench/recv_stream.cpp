#include "bench/recv_stream.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <system_error>
#include <utility>

namespace nsqd::bench {

namespace {

int register_ring(int ring_fd, unsigned op, io_uring_buf_reg* reg) {
  return int(::syscall(__NR_io_uring_register, ring_fd, op, reg, 1));
}

}  // namespace

buffer_pool::buffer_pool(core::reactor& shard, unsigned count, size_t size, uint16_t group)
    : _ring_fd(shard.ring_fd()), _count(count), _size(size), _group(group) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0)
    throw std::invalid_argument("buffer_pool: count must be a power of two up to 32768");
  _ring_bytes = count * sizeof(io_uring_buf);
  void* ring =
      ::mmap(nullptr, _ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring == MAP_FAILED)
    throw std::system_error(errno, std::system_category(), "mmap buffer ring");
  _ring = static_cast<io_uring_buf_ring*>(ring);
  _buffers = new char[count * size];
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(_ring);
  reg.ring_entries = count;
  reg.bgid = group;
  if (register_ring(_ring_fd, IORING_REGISTER_PBUF_RING, &reg) != 0) {
    int e = errno;
    ::munmap(_ring, _ring_bytes);
    delete[] _buffers;
    throw std::system_error(e, std::system_category(), "IORING_REGISTER_PBUF_RING");
  }
  io_uring_buf_ring_init(_ring);
  int mask = io_uring_buf_ring_mask(count);
  for (unsigned i = 0; i < count; ++i)
    io_uring_buf_ring_add(_ring, _buffers + i * size, unsigned(size), uint16_t(i), mask, int(i));
  io_uring_buf_ring_advance(_ring, int(count));
}

buffer_pool::~buffer_pool() {
  io_uring_buf_reg reg{};
  reg.bgid = _group;
  register_ring(_ring_fd, IORING_UNREGISTER_PBUF_RING, &reg);
  ::munmap(_ring, _ring_bytes);
  delete[] _buffers;
}

void buffer_pool::recycle(uint16_t bid) noexcept {
  io_uring_buf_ring_add(_ring, _buffers + size_t(bid) * _size, unsigned(_size), bid,
                        io_uring_buf_ring_mask(_count), 0);
  io_uring_buf_ring_advance(_ring, 1);
}

recv_stream::~recv_stream() {
  if (!idle()) {
    std::fprintf(stderr, "recv_stream destroyed with an operation in flight\n");
    std::terminate();
  }
  for (const recv_chunk& c : _ready)
    if (c.res > 0) _pool.recycle(c.bid);
}

bool recv_stream::next_awaiter::await_ready() noexcept { return !s._ready.empty(); }

bool recv_stream::suspend(std::coroutine_handle<> h, core::promise_context& ctx) noexcept {
  _shard = ctx.shard;
  if (ctx.cancel && ctx.cancel->cancelled()) {
    _ready.push_back({-ECANCELED, 0});
    return false;
  }
  if (!_armed) {
    if (_ended) {
      _ready.push_back({-ECANCELED, 0});
      return false;
    }
    arm();
  }
  _waiter = h;
  if (ctx.cancel) ctx.cancel->add(this);
  return true;
}

recv_chunk recv_stream::next_awaiter::await_resume() noexcept {
  recv_chunk c = s._ready.front();
  s._ready.pop_front();
  if (c.res <= 0) s._ended = true;
  return c;
}

bool recv_stream::finish_awaiter::await_ready() noexcept {
  if (s._armed && !s._cancel_sent) s.send_cancel();
  return s.idle();
}

void recv_stream::arm() noexcept {
  io_uring_sqe* sqe = _shard->sqe();
  io_uring_prep_recv_multishot(sqe, _fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = _pool.group();
  io_uring_sqe_set_data64(sqe, user_data());
  _armed = true;
  _cancel_sent = false;
}

void recv_stream::send_cancel() noexcept {
  io_uring_sqe* sqe = _shard->sqe();
  io_uring_prep_cancel64(sqe, user_data(), 0);
  io_uring_sqe_set_data64(sqe, user_data() | 1);
  ++_cancels;
  _cancel_sent = true;
}

void recv_stream::on_cqe(int32_t res, uint32_t flags, bool secondary) noexcept {
  if (secondary) {
    --_cancels;
  } else {
    if (!(flags & IORING_CQE_F_MORE)) _armed = false;
    if (res > 0) {
      _ready.push_back({res, uint16_t(flags >> IORING_CQE_BUFFER_SHIFT)});
    } else if (res == -ENOBUFS && !_cancel_sent && !_ended) {
      if (!_armed) arm();  // the ring ran dry: try again once buffers come back
      return;
    } else {
      _ready.push_back({res, 0});
    }
  }
  if (!_waiter) return;
  bool finishing = _ended || _cancel_sent;
  if ((finishing && idle()) || (!finishing && (!_ready.empty() || !_armed))) {
    core::cancel_source::remove(this);
    _shard->schedule(std::exchange(_waiter, {}));
  }
}

void recv_stream::on_cancel() noexcept {
  if (_armed && !_cancel_sent) send_cancel();
  if (!_armed && _waiter) {
    _ready.push_back({-ECANCELED, 0});
    _shard->schedule(std::exchange(_waiter, {}));
  }
}

}  // namespace nsqd::bench
