// The reactor echo server: core::runtime, one shard per listener, a coroutine per connection.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "bench/echo_server.hpp"
#include "bench/recv_stream.hpp"
#include "core/cross_shard.hpp"
#include "core/io.hpp"
#include "core/log.hpp"
#include "core/runtime.hpp"
#include "core/task.hpp"
#include "core/task_group.hpp"

namespace nsqd::bench {

namespace {

using counters = core::reactor::counters;

// A recv that first waits for readiness: no inline attempt (it would see EAGAIN in ping-pong).
auto recv_poll_first(int fd, void* buf, size_t len) noexcept {
  return core::make_io([=](io_uring_sqe* s) {
    io_uring_prep_recv(s, fd, buf, len, 0);
    s->ioprio |= IORING_RECVSEND_POLL_FIRST;
  });
}

// Sends all of [p, p + n); false when the connection is over.
core::task<bool> send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    int r = co_await core::send(fd, p, n);
    if (r <= 0) co_return false;
    p += r;
    n -= size_t(r);
  }
  co_return true;
}

// Echoes `size`-byte messages until the peer hangs up or the shard cancels us.
core::task<void> echo(int fd, size_t size, recv_kind kind) {
  std::unique_ptr<char[]> buf(new char[size]);
  for (;;) {
    size_t got = 0;
    while (got < size) {
      int n = kind == recv_kind::poll_first
                  ? co_await recv_poll_first(fd, buf.get() + got, size - got)
                  : co_await core::recv(fd, buf.get() + got, size - got);
      if (n <= 0) goto done;
      got += size_t(n);
    }
    size_t sent = 0;
    while (sent < size) {
      int n = co_await core::send(fd, buf.get() + sent, size - sent);
      if (n <= 0) goto done;
      sent += size_t(n);
    }
  }
done:
  ::close(fd);  // not core::close: that one is skipped once we are cancelled
}

// The same over a multishot recv: a message that arrives whole in one provided buffer is sent
// straight from it; pieces are gathered in the connection's buffer.
core::task<void> echo_multishot(int fd, size_t size, buffer_pool* pool) {
  std::unique_ptr<char[]> buf(new char[size]);
  recv_stream in(fd, *pool);
  size_t got = 0;
  bool open = true;
  while (open) {
    recv_chunk c = co_await in.next();
    if (c.res <= 0) break;
    const char* p = pool->data(c.bid);
    size_t n = size_t(c.res);
    while (open && n > 0) {
      if (got == 0 && n >= size) {
        open = co_await send_all(fd, p, size);
        p += size;
        n -= size;
        continue;
      }
      size_t take = std::min(n, size - got);
      std::memcpy(buf.get() + got, p, take);
      got += take;
      p += take;
      n -= take;
      if (got == size) {
        open = co_await send_all(fd, buf.get(), size);
        got = 0;
      }
    }
    pool->recycle(c.bid);
  }
  co_await in.finish();
  ::close(fd);
}

// Keeps the run queue busy so that the loop never sleeps, until the shard is cancelled.
core::task<void> spinner() {
  core::promise_context ctx = co_await core::this_context();
  while (!(ctx.cancel && ctx.cancel->cancelled())) co_await core::yield_now();
}

// One shard's server: accepts until cancelled, then waits for its connections to end.
core::task<void> serve(int listen_fd, size_t size, recv_kind kind, bool spin, counters* out) {
  core::promise_context ctx = co_await core::this_context();
  std::unique_ptr<buffer_pool> pool;
  if (kind == recv_kind::multishot)  // enough that 1024 connections never see -ENOBUFS
    pool = std::make_unique<buffer_pool>(*ctx.shard, 1024, std::clamp<size_t>(size, 4096, 65536));
  core::task_group conns{ctx};
  core::accept_stream acceptor(listen_fd);
  std::exception_ptr error;
  if (spin) conns.spawn(spinner());
  for (;;) {
    int fd = co_await acceptor.next();
    if (fd == -ECANCELED) break;
    if (fd == -ECONNABORTED || fd == -EINTR) continue;
    try {
      if (fd < 0) throw std::system_error(-fd, std::system_category(), "accept");
      set_nodelay(fd);
    } catch (...) {
      if (fd >= 0) ::close(fd);
      error = std::current_exception();
      conns.cancel();
      break;
    }
    if (kind == recv_kind::multishot)
      conns.spawn(echo_multishot(fd, size, pool.get()));
    else
      conns.spawn(echo(fd, size, kind));
  }
  co_await conns.join();
  *out = ctx.shard->stats();
  if (error) std::rethrow_exception(error);
}

core::task<void> serve_on(unsigned shard, int listen_fd, size_t size, recv_kind kind, bool spin,
                          counters* out) {
  co_await core::on_shard(shard, [=] { return serve(listen_fd, size, kind, spin, out); });
}

// Shard 0's main: a server on every shard until the stop eventfd is written.
core::task<void> serve_all(std::vector<int> fds, size_t size, recv_kind kind, bool spin,
                           int stop_fd, std::vector<counters>* out) {
  core::task_group shards{co_await core::this_context()};
  for (unsigned n = 0; n < fds.size(); ++n)
    shards.spawn(serve_on(n, fds[n], size, kind, spin, &(*out)[n]));
  uint64_t value = 0;
  int rc = co_await core::read(stop_fd, &value, sizeof value, 0);
  shards.cancel();
  co_await shards.join();
  if (rc < 0) throw std::system_error(-rc, std::system_category(), "read of the stop eventfd");
}

class reactor_server final : public echo_server {
 public:
  reactor_server(const listeners& l, size_t size, recv_kind kind, bool spin)
      : _log("[bench] ", core::log_level::warn),
        _runtime(unsigned(l.fds.size()), _log),
        _counters(l.fds.size()) {
    _thread = std::thread([this, fds = l.fds, size, kind, spin] {
      try {
        _runtime.run([&] { return serve_all(fds, size, kind, spin, _stop.fd(), &_counters); });
      } catch (...) {
        _error = std::current_exception();
      }
    });
  }
  ~reactor_server() override {
    try {
      stop();
    } catch (...) {
    }
  }

  void stop() override {
    if (!_thread.joinable()) return;
    _stop.raise();
    _thread.join();
    if (_error) std::rethrow_exception(std::exchange(_error, nullptr));
  }

  reactor_totals totals() const override {
    reactor_totals t;
    for (const counters& c : _counters) {
      t.loop_turns += c.loop_turns;
      t.enters += c.enters;
      t.cqes += c.cqes;
      t.resumes += c.resumes;
    }
    return t;
  }

 private:
  core::logger _log;
  core::runtime _runtime;
  std::vector<counters> _counters;  // slot n written by shard n when its server ends
  stop_signal _stop;
  std::exception_ptr _error;
  std::thread _thread;
};

}  // namespace

std::unique_ptr<echo_server> start_reactor_server(const listeners& l, size_t size, recv_kind recv,
                                                  bool spin) {
  return std::make_unique<reactor_server>(l, size, recv, spin);
}

}  // namespace nsqd::bench
