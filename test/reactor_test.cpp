#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/io.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"
#include "core/task_group.hpp"
#include "test/support/coro_test.hpp"

// The reactor and its awaitables on loopback sockets, files and timers.

using namespace nsqd::core;
namespace core = nsqd::core;
using namespace std::chrono_literals;

namespace {

// An fd closed when the test ends (plain close: tests set up with blocking syscalls).
class fd_guard {
 public:
  explicit fd_guard(int fd = -1) noexcept : _fd(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() { reset(); }
  int get() const noexcept { return _fd; }
  void reset(int fd = -1) noexcept {
    if (_fd >= 0) ::close(_fd);
    _fd = fd;
  }

 private:
  int _fd;
};

// A listening socket on 127.0.0.1 with a kernel-chosen port.
struct listener {
  fd_guard fd;
  sockaddr_in addr{};
  listener() {
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) throw std::runtime_error("socket");
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("bind");
    if (::listen(fd.get(), 512) != 0) throw std::runtime_error("listen");
    socklen_t len = sizeof addr;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  }
};

int tcp_socket() { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); }

// Connects a new socket through io_uring; the fd, or -errno.
task<int> connect_to(const sockaddr_in& addr) {
  int fd = tcp_socket();
  if (fd < 0) co_return -errno;
  int rc = co_await core::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  if (rc < 0) {
    ::close(fd);
    co_return rc;
  }
  co_return fd;
}

// A connected loopback pair: [0] the client end, [1] the accepted end.
struct tcp_pair {
  fd_guard fd[2];
};
task<void> make_pair(tcp_pair* out) {
  listener l;
  int c = co_await connect_to(l.addr);
  if (c < 0) throw std::runtime_error("connect: " + std::to_string(c));
  out->fd[0].reset(c);
  int a = co_await core::accept(l.fd.get());
  if (a < 0) throw std::runtime_error("accept: " + std::to_string(a));
  out->fd[1].reset(a);
}

// Sends all of buf, handling partial sends; total sent or -errno. Counts the sends made.
task<long> send_all(int fd, const char* buf, size_t len, int* sends = nullptr) {
  size_t done = 0;
  while (done < len) {
    int n = co_await core::send(fd, buf + done, len - done);
    if (sends) ++*sends;
    if (n < 0) co_return n;
    done += size_t(n);
  }
  co_return long(done);
}

// Receives exactly len bytes unless the peer closes first; bytes received or -errno.
task<long> recv_all(int fd, char* buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    int n = co_await core::recv(fd, buf + done, len - done);
    if (n < 0) co_return n;
    if (n == 0) break;
    done += size_t(n);
  }
  co_return long(done);
}

std::vector<char> pattern(size_t len, unsigned seed) {
  std::vector<char> v(len);
  std::mt19937 rng(seed);
  for (auto& c : v) c = char(rng());
  return v;
}

task<void> recv_into(int fd, int* result, char* buf, size_t len) {
  *result = co_await core::recv(fd, buf, len);
}

task<void> cancel_after(task_group* g, std::chrono::milliseconds d) {
  co_await sleep_for(d);
  g->cancel();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reactor_sockets)

CORO_TEST_CASE(send_and_recv_round_trip) {
  tcp_pair p;
  co_await make_pair(&p);
  const char msg[] = "hello, reactor";
  int n = co_await core::send(p.fd[0].get(), msg, sizeof msg);
  BOOST_TEST(n == int(sizeof msg));
  char buf[64] = {};
  long got = co_await recv_all(p.fd[1].get(), buf, sizeof msg);
  BOOST_TEST(got == long(sizeof msg));
  BOOST_TEST(std::memcmp(buf, msg, sizeof msg) == 0);
  // And back.
  n = co_await core::send(p.fd[1].get(), "pong", 4);
  BOOST_TEST(n == 4);
  got = co_await recv_all(p.fd[0].get(), buf, 4);
  BOOST_TEST(got == 4);
  BOOST_TEST(std::string(buf, 4) == "pong");
}

namespace {
task<void> sender_task(int fd, const std::vector<char>* data, long* result, int* sends) {
  *result = co_await send_all(fd, data->data(), data->size(), sends);
}
task<void> receiver_task(int fd, std::vector<char>* out, long* result) {
  *result = co_await recv_all(fd, out->data(), out->size());
}
}  // namespace

CORO_TEST_CASE(large_payload_with_partial_sends) {
  tcp_pair p;
  co_await make_pair(&p);
  // A small send buffer forces partial sends (a tiny receive buffer would only measure TCP's
  // delayed ACKs).
  int small = 64 << 10;
  ::setsockopt(p.fd[0].get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  std::vector<char> data = pattern(8 << 20, 1);
  std::vector<char> got(data.size());
  long sent = 0, received = 0;
  int sends = 0;
  task_group g{co_await this_context()};
  g.spawn(sender_task(p.fd[0].get(), &data, &sent, &sends));
  g.spawn(receiver_task(p.fd[1].get(), &got, &received));
  co_await g.join();
  BOOST_TEST(sends > 1);  // 8 MB cannot go through a 64 KB send buffer at once
  BOOST_TEST(sent == long(data.size()));
  BOOST_TEST(received == long(data.size()));
  BOOST_TEST((got == data));
}

namespace {
// writev of several buffers, resuming after partial writes by advancing the iovecs.
task<long> writev_all(int fd, std::vector<iovec> iov) {
  long total = 0;
  size_t first = 0;
  while (first < iov.size()) {
    int n = co_await core::writev(fd, iov.data() + first, unsigned(iov.size() - first));
    if (n < 0) co_return n;
    total += n;
    size_t left = size_t(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (first < iov.size()) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  co_return total;
}
task<void> writev_task(int fd, std::vector<iovec> iov, long* result) {
  *result = co_await writev_all(fd, std::move(iov));
}
}  // namespace

CORO_TEST_CASE(writev_round_trip_with_large_iovecs) {
  tcp_pair p;
  co_await make_pair(&p);
  std::vector<char> a = pattern(3 << 20, 2), b = pattern(17, 3), c = pattern(2 << 20, 4);
  std::vector<iovec> iov = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
  std::vector<char> expect;
  for (auto* v : {&a, &b, &c}) expect.insert(expect.end(), v->begin(), v->end());
  std::vector<char> got(expect.size());
  long written = 0, received = 0;
  task_group g{co_await this_context()};
  g.spawn(writev_task(p.fd[0].get(), iov, &written));
  g.spawn(receiver_task(p.fd[1].get(), &got, &received));
  co_await g.join();
  BOOST_TEST(written == long(expect.size()));
  BOOST_TEST(received == long(expect.size()));
  BOOST_TEST((got == expect));
}

CORO_TEST_CASE(sendmsg_delivers_all_parts) {
  tcp_pair p;
  co_await make_pair(&p);
  char h[] = "head:", t[] = "tail";
  iovec iov[2] = {{h, 5}, {t, 4}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  int n = co_await core::sendmsg(p.fd[0].get(), &msg);
  BOOST_TEST(n == 9);
  char buf[16] = {};
  BOOST_TEST(co_await recv_all(p.fd[1].get(), buf, 9) == 9);
  BOOST_TEST(std::string(buf, 9) == "head:tail");
}

CORO_TEST_CASE(recv_returns_zero_when_the_peer_closes) {
  tcp_pair p;
  co_await make_pair(&p);
  BOOST_TEST(co_await core::send(p.fd[0].get(), "x", 1) == 1);
  p.fd[0].reset();  // the client goes away after one byte
  char buf[8];
  BOOST_TEST(co_await core::recv(p.fd[1].get(), buf, sizeof buf) == 1);
  BOOST_TEST(co_await core::recv(p.fd[1].get(), buf, sizeof buf) == 0);
  BOOST_TEST(co_await core::recv(p.fd[1].get(), buf, sizeof buf) == 0);
}

CORO_TEST_CASE(shutdown_write_side_is_seen_as_end_of_stream) {
  tcp_pair p;
  co_await make_pair(&p);
  BOOST_TEST(co_await core::shutdown(p.fd[0].get(), SHUT_WR) == 0);
  char buf[8];
  BOOST_TEST(co_await core::recv(p.fd[1].get(), buf, sizeof buf) == 0);
  // The other direction still works.
  BOOST_TEST(co_await core::send(p.fd[1].get(), "ok", 2) == 2);
  BOOST_TEST(co_await recv_all(p.fd[0].get(), buf, 2) == 2);
}

CORO_TEST_CASE(send_to_a_closed_peer_is_a_result_not_a_signal) {
  tcp_pair p;
  co_await make_pair(&p);
  p.fd[1].reset();
  std::vector<char> data(1 << 20, 'x');
  int rc = 0;
  for (int i = 0; i < 50 && rc >= 0; ++i) rc = co_await core::send(p.fd[0].get(), data.data(), data.size());
  BOOST_TEST((rc == -EPIPE || rc == -ECONNRESET));
}

CORO_TEST_CASE(recv_timeout_gives_etimedout) {
  tcp_pair p;
  co_await make_pair(&p);
  char buf[8];
  auto t0 = clock::now();
  int rc = co_await core::recv(p.fd[1].get(), buf, sizeof buf).timeout(50ms);
  auto elapsed = clock::now() - t0;
  BOOST_TEST(rc == -ETIMEDOUT);
  BOOST_TEST(elapsed >= 45ms);
  BOOST_TEST(elapsed < 5s);
  // A timeout that does not fire leaves the result alone, and the fd works after one fired.
  BOOST_TEST(co_await core::send(p.fd[0].get(), "abc", 3) == 3);
  rc = co_await core::recv(p.fd[1].get(), buf, sizeof buf).timeout(5s);
  BOOST_TEST(rc == 3);
  BOOST_TEST(std::string(buf, 3) == "abc");
}

CORO_TEST_CASE(cancel_mid_flight_leaves_the_fd_usable) {
  tcp_pair p;
  co_await make_pair(&p);
  char buf[16];
  int rc = 0;
  task_group g{co_await this_context()};
  g.spawn(recv_into(p.fd[1].get(), &rc, buf, sizeof buf));
  g.spawn(cancel_after(&g, 20ms));
  auto t0 = clock::now();
  co_await g.join();  // cancel() is not a failure
  BOOST_TEST(rc == -ECANCELED);
  BOOST_TEST((clock::now() - t0) < 5s);
  // Nothing was consumed and nothing stale hits the next operation on the same fd.
  BOOST_TEST(co_await core::send(p.fd[0].get(), "after", 5) == 5);
  int n = co_await core::recv(p.fd[1].get(), buf, sizeof buf);
  BOOST_TEST(n == 5);
  BOOST_TEST(std::string(buf, 5) == "after");
}

CORO_TEST_CASE(cancel_of_a_recv_with_a_timeout_is_ecanceled) {
  tcp_pair p;
  co_await make_pair(&p);
  struct local {
    static task<void> run(int fd, int* rc) {
      char buf[4];
      *rc = co_await core::recv(fd, buf, sizeof buf).timeout(10s);
    }
  };
  int rc = 0;
  task_group g{co_await this_context()};
  g.spawn(local::run(p.fd[1].get(), &rc));
  g.spawn(cancel_after(&g, 10ms));
  co_await g.join();
  BOOST_TEST(rc == -ECANCELED);
}

CORO_TEST_CASE(connect_to_a_closed_port_is_refused) {
  sockaddr_in addr{};
  {
    // Bind without listening, note the port, then release it.
    fd_guard s(tcp_socket());
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  }
  int rc = co_await connect_to(addr);
  BOOST_TEST(rc == -ECONNREFUSED);
}

CORO_TEST_CASE(bad_fds_give_ebadf) {
  char buf[4];
  BOOST_TEST(co_await core::recv(-1, buf, sizeof buf) == -EBADF);
  BOOST_TEST(co_await core::send(-1, buf, sizeof buf) == -EBADF);
  BOOST_TEST(co_await core::accept(-1) == -EBADF);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- multishot accept ---------------------------------------------------------------------------

namespace {

task<void> accept_n(int listen_fd, int n, std::vector<int>* fds) {
  accept_stream acceptor(listen_fd);
  for (int i = 0; i < n; ++i) {
    int fd = co_await acceptor.next();
    if (fd < 0) throw std::runtime_error("accept: " + std::to_string(fd));
    fds->push_back(fd);
  }
}

task<void> connect_and_send(sockaddr_in addr, int i, std::vector<int>* fds) {
  int fd = co_await connect_to(addr);
  if (fd < 0) throw std::runtime_error("connect: " + std::to_string(fd));
  (*fds)[size_t(i)] = fd;
  uint32_t id = uint32_t(i);
  int n = co_await core::send(fd, &id, sizeof id);
  if (n != int(sizeof id)) throw std::runtime_error("send");
}

task<void> accept_until_cancelled(int listen_fd, int* result, int* accepted) {
  accept_stream acceptor(listen_fd);
  for (;;) {
    int fd = co_await acceptor.next();
    if (fd < 0) {
      *result = fd;
      co_return;
    }
    ++*accepted;
    ::close(fd);
  }
}

}  // namespace

CORO_TEST_CASE(accept_stream_accepts_many_connections) {
  listener l;
  constexpr int n = 200;
  std::vector<int> accepted;
  std::vector<int> clients(n, -1);
  task_group g{co_await this_context()};
  g.spawn(accept_n(l.fd.get(), n, &accepted));
  for (int i = 0; i < n; ++i) g.spawn(connect_and_send(l.addr, i, &clients));
  co_await g.join();
  BOOST_REQUIRE(accepted.size() == size_t(n));
  // Every accepted socket is a distinct connection from one of our clients.
  std::vector<uint32_t> ids;
  for (int fd : accepted) {
    uint32_t id = ~0u;
    long got = co_await recv_all(fd, reinterpret_cast<char*>(&id), sizeof id);
    BOOST_TEST(got == long(sizeof id));
    ids.push_back(id);
    ::close(fd);
  }
  std::sort(ids.begin(), ids.end());
  std::vector<uint32_t> expect(n);
  std::iota(expect.begin(), expect.end(), 0u);
  BOOST_TEST((ids == expect));
  for (int fd : clients) ::close(fd);
}

CORO_TEST_CASE(accept_stream_next_is_cancelled_with_its_group) {
  listener l;
  int result = 0, accepted = 0;
  task_group g{co_await this_context()};
  g.spawn(accept_until_cancelled(l.fd.get(), &result, &accepted));
  g.spawn(cancel_after(&g, 20ms));
  co_await g.join();
  BOOST_TEST(result == -ECANCELED);
  BOOST_TEST(accepted == 0);
  // The listener still accepts after the multishot was cancelled.
  int c = co_await connect_to(l.addr);
  BOOST_REQUIRE(c >= 0);
  fd_guard client(c);
  int a = co_await core::accept(l.fd.get()).timeout(2s);
  BOOST_TEST(a >= 0);
  if (a >= 0) ::close(a);
}

namespace {
task<void> next_into(accept_stream* s, int* result) { *result = co_await s->next(); }
}  // namespace

CORO_TEST_CASE(accept_stream_is_reusable_after_a_cancelled_next) {
  listener l;
  accept_stream acceptor(l.fd.get());
  int first = 0;
  task_group g{co_await this_context()};
  g.spawn(next_into(&acceptor, &first));
  g.spawn(cancel_after(&g, 10ms));
  co_await g.join();
  BOOST_TEST(first == -ECANCELED);
  // Outside the cancelled group the same stream arms again and accepts.
  fd_guard c(co_await connect_to(l.addr));
  BOOST_REQUIRE(c.get() >= 0);
  int fd = co_await acceptor.next();
  BOOST_TEST(fd >= 0);
  if (fd >= 0) {
    BOOST_TEST(co_await core::send(c.get(), "z", 1) == 1);
    char ch = 0;
    BOOST_TEST(co_await core::recv(fd, &ch, 1) == 1);
    BOOST_TEST(ch == 'z');
    ::close(fd);
  }
}

CORO_TEST_CASE(accept_stream_dropped_while_armed) {
  listener l;
  fd_guard c1(co_await connect_to(l.addr)), c2(co_await connect_to(l.addr));
  BOOST_REQUIRE(c1.get() >= 0);
  BOOST_REQUIRE(c2.get() >= 0);
  {
    accept_stream acceptor(l.fd.get());
    int fd = co_await acceptor.next();  // arms the multishot; c2's fd may be queued
    BOOST_REQUIRE(fd >= 0);
    ::close(fd);
    co_await sleep_for(10ms);  // let the second connection be accepted into the queue
  }  // dropped with the multishot armed: the reactor cancels it and closes queued fds
  // Whichever of c1/c2 was queued (or accepted later by the orphan) sees its socket closed.
  char buf[4];
  BOOST_TEST(co_await core::recv(c1.get(), buf, sizeof buf).timeout(2s) == 0);
  BOOST_TEST(co_await core::recv(c2.get(), buf, sizeof buf).timeout(2s) == 0);
  // A later connection is not accepted by the dropped stream: it waits in the backlog.
  fd_guard c3(co_await connect_to(l.addr));
  BOOST_REQUIRE(c3.get() >= 0);
  int a = co_await core::accept(l.fd.get()).timeout(2s);
  BOOST_TEST(a >= 0);
  if (a >= 0) ::close(a);
}

CORO_TEST_CASE(accept_stream_dropped_while_armed_at_reactor_exit) {
  listener l;
  // The stream is dropped right before the root ends: the reactor's destructor finishes it.
  accept_stream acceptor(l.fd.get());
  fd_guard c(co_await connect_to(l.addr));
  int fd = co_await acceptor.next();
  BOOST_TEST(fd >= 0);
  if (fd >= 0) ::close(fd);
}

// ---- timers ----------------------------------------------------------------------------------

namespace {

task<void> sleep_and_record(std::chrono::milliseconds d, std::vector<int>* order, int id,
                            clock::time_point start, bool* too_early) {
  int rc = co_await sleep_for(d);
  if (rc != 0) throw std::runtime_error("sleep: " + std::to_string(rc));
  if (clock::now() - start < d) *too_early = true;
  order->push_back(id);
}

// A bare timer entry, to test the heap itself.
struct probe_timer final : timer_entry {
  std::vector<probe_timer*>* fired = nullptr;
  reactor* shard = nullptr;
  std::coroutine_handle<> waiter;
  size_t expected = 0;
  void fire() noexcept override {
    fired->push_back(this);
    if (fired->size() == expected && waiter) shard->schedule(waiter);
  }
};

struct wait_for_all {
  std::vector<probe_timer>* timers;
  std::vector<probe_timer*>* fired;
  size_t expected;
  bool await_ready() const noexcept { return fired->size() == expected; }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    for (auto& t : *timers) t.waiter = h;
  }
  void await_resume() const noexcept {}
};

}  // namespace

CORO_TEST_CASE(sleeps_end_in_deadline_order) {
  std::vector<int> durations(60);
  std::iota(durations.begin(), durations.end(), 1);
  std::shuffle(durations.begin(), durations.end(), std::mt19937(7));
  std::vector<int> order;
  bool too_early = false;
  auto start = clock::now();
  task_group g{co_await this_context()};
  // 2 ms apart: the children start within the same loop turn, far less than that apart.
  for (int d : durations)
    g.spawn(sleep_and_record(std::chrono::milliseconds(2 * d), &order, d, start, &too_early));
  co_await g.join();
  std::vector<int> sorted = durations;
  std::sort(sorted.begin(), sorted.end());
  BOOST_TEST((order == sorted));
  BOOST_TEST(!too_early);
}

CORO_TEST_CASE(timer_heap_fires_in_order_and_skips_disarmed) {
  promise_context ctx = co_await this_context();
  reactor& r = *ctx.shard;
  std::mt19937 rng(11);
  std::vector<probe_timer> timers(2000);
  std::vector<probe_timer*> fired;
  auto base = clock::now() + 5ms;
  for (auto& t : timers) {
    t.deadline = base + std::chrono::microseconds(rng() % 20'000);  // duplicates likely
    t.fired = &fired;
    t.shard = &r;
    r.arm(t);
    BOOST_REQUIRE(t.armed());
  }
  // Re-arming moves an armed entry instead of adding it twice.
  timers[0].deadline = base + 1ms;
  r.arm(timers[0]);
  size_t disarmed = 0;
  for (size_t i = 1; i < timers.size(); i += 3) {
    r.disarm(timers[i]);
    BOOST_TEST(!timers[i].armed());
    ++disarmed;
  }
  r.disarm(timers[1]);  // twice is harmless
  size_t expected = timers.size() - disarmed;
  for (auto& t : timers) t.expected = expected;
  co_await wait_for_all{&timers, &fired, expected};
  BOOST_TEST(fired.size() == expected);
  for (size_t i = 1; i < fired.size(); ++i) BOOST_TEST(!(fired[i]->deadline < fired[i - 1]->deadline));
  for (size_t i = 1; i < timers.size(); i += 3)
    BOOST_TEST((std::find(fired.begin(), fired.end(), &timers[i]) == fired.end()));
  for (auto& t : timers) BOOST_TEST(!t.armed());
}

namespace {
task<void> sleep_result(std::chrono::milliseconds d, int* rc) { *rc = co_await sleep_for(d); }
}  // namespace

CORO_TEST_CASE(cancelled_timers_never_fire) {
  // Two groups of sleepers with interleaved deadlines; one group is cancelled once every
  // sleep is armed. Its timers leave the heap; the others still fire, and on time.
  std::vector<int> kept(50, 1), dropped(50, 1);
  task_group keep{co_await this_context()};
  task_group drop{co_await this_context()};
  for (size_t i = 0; i < 50; ++i) {
    keep.spawn(sleep_result(std::chrono::milliseconds(5 + i % 10), &kept[i]));
    drop.spawn(sleep_result(std::chrono::milliseconds(5 + (i + 5) % 10), &dropped[i]));
  }
  auto t0 = clock::now();
  co_await yield_now();  // runs after every child of this turn: all sleeps are armed
  drop.cancel();
  co_await drop.join();
  co_await keep.join();
  BOOST_TEST(std::count(kept.begin(), kept.end(), 0) == 50);
  BOOST_TEST(std::count(dropped.begin(), dropped.end(), -ECANCELED) == 50);
  BOOST_TEST((clock::now() - t0) >= 14ms);
}

CORO_TEST_CASE(zero_and_negative_sleeps_return_at_once) {
  BOOST_TEST(co_await sleep_for(0ms) == 0);
  BOOST_TEST(co_await sleep_for(-5ms) == 0);
}

// ---- files -----------------------------------------------------------------------------------

namespace {
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "core_test.XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

CORO_TEST_CASE(file_open_write_read_fsync_close) {
  temp_dir dir;
  std::string path = (dir.path / "data.bin").string();
  int fd = co_await core::openat(AT_FDCWD, path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  BOOST_REQUIRE(fd >= 0);
  std::vector<char> data = pattern(1 << 20, 5);
  BOOST_TEST(co_await core::write(fd, data.data(), unsigned(data.size()), 0) == int(data.size()));
  BOOST_TEST(co_await core::write(fd, "tail", 4, data.size()) == 4);
  BOOST_TEST(co_await core::fsync(fd) == 0);
  BOOST_TEST(co_await core::fsync(fd, true) == 0);
  std::vector<char> back(data.size());
  BOOST_TEST(co_await core::read(fd, back.data(), unsigned(back.size()), 0) == int(back.size()));
  BOOST_TEST((back == data));
  char tail[8] = {};
  BOOST_TEST(co_await core::read(fd, tail, sizeof tail, data.size()) == 4);
  BOOST_TEST(std::string(tail, 4) == "tail");
  BOOST_TEST(co_await core::read(fd, tail, sizeof tail, data.size() + 4) == 0);  // end of file
  BOOST_TEST(co_await core::close(fd) == 0);
  struct stat st{};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  BOOST_TEST(st.st_size == off_t(data.size() + 4));
  BOOST_TEST((st.st_mode & 0777) == 0600u);

  // Reopened read-only: same bytes; writing is refused.
  fd = co_await core::openat(AT_FDCWD, path.c_str(), O_RDONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  BOOST_TEST(co_await core::read(fd, back.data(), 16, 0) == 16);
  BOOST_TEST(std::memcmp(back.data(), data.data(), 16) == 0);
  BOOST_TEST(co_await core::write(fd, "x", 1, 0) == -EBADF);
  BOOST_TEST(co_await core::close(fd) == 0);
}

CORO_TEST_CASE(file_errors_are_negative_errno) {
  temp_dir dir;
  std::string missing = (dir.path / "nope").string();
  BOOST_TEST(co_await core::openat(AT_FDCWD, missing.c_str(), O_RDONLY) == -ENOENT);
  std::string path = (dir.path / "x").string();
  int fd = co_await core::openat(AT_FDCWD, path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  BOOST_TEST(co_await core::openat(AT_FDCWD, path.c_str(), O_CREAT | O_EXCL | O_WRONLY) == -EEXIST);
  BOOST_TEST(co_await core::close(fd) == 0);
  BOOST_TEST(co_await core::close(fd) == -EBADF);
}

// ---- run queue -------------------------------------------------------------------------------

namespace {

task<void> yielder(char name, int rounds, std::string* trace) {
  for (int i = 0; i < rounds; ++i) {
    trace->push_back(name);
    co_await yield_now();
  }
}

task<void> spin_until(const bool* flag, long limit, long* spins) {
  while (!*flag && *spins < limit) {
    ++*spins;
    co_await yield_now();
  }
}

task<void> set_after_sleep(bool* flag) {
  co_await sleep_for(2ms);
  *flag = true;
}

task<void> set_after_recv(int fd, bool* flag) {
  char c;
  int n = co_await core::recv(fd, &c, 1);
  if (n == 1) *flag = true;
}

}  // namespace

CORO_TEST_CASE(yield_now_round_robins) {
  std::string trace;
  task_group g{co_await this_context()};
  g.spawn(yielder('a', 5, &trace));
  g.spawn(yielder('b', 5, &trace));
  g.spawn(yielder('c', 5, &trace));
  co_await g.join();
  BOOST_TEST(trace == "abcabcabcabcabc");
}

CORO_TEST_CASE(busy_coroutine_cannot_starve_timers_or_io) {
  promise_context ctx = co_await this_context();
  const auto turns0 = ctx.shard->stats().loop_turns;
  // A coroutine that only yields would run forever without the task quota letting the loop
  // poll timers and I/O between batches.
  bool timer_fired = false, data_seen = false;
  long spins_a = 0, spins_b = 0;
  tcp_pair p;
  co_await make_pair(&p);
  task_group g{ctx};
  g.spawn(spin_until(&timer_fired, 5'000'000, &spins_a));
  g.spawn(set_after_sleep(&timer_fired));
  g.spawn(spin_until(&data_seen, 5'000'000, &spins_b));
  g.spawn(set_after_recv(p.fd[1].get(), &data_seen));
  BOOST_TEST(co_await core::send(p.fd[0].get(), "!", 1) == 1);
  co_await g.join();
  BOOST_TEST(timer_fired);
  BOOST_TEST(data_seen);
  BOOST_TEST(spins_a < 5'000'000);
  BOOST_TEST(spins_b < 5'000'000);
  BOOST_TEST(ctx.shard->stats().loop_turns > turns0);
}

BOOST_AUTO_TEST_CASE(task_quota_of_one_still_runs_everything) {
  logger log("[test] ", log_level::warn);
  reactor_options opts;
  opts.task_quota = 1;
  reactor r(opts, log);
  struct local {
    static task<std::string> main() {
      std::string trace;
      task_group g{co_await this_context()};
      g.spawn(yielder('a', 3, &trace));
      g.spawn(yielder('b', 3, &trace));
      co_await g.join();
      co_return trace;
    }
  };
  BOOST_TEST(r.run(local::main()) == "ababab");
  BOOST_TEST(r.stats().loop_turns >= 6u);
}

BOOST_AUTO_TEST_CASE(reactor_with_small_rings_handles_many_operations) {
  // 8 SQ entries and hundreds of operations in flight: sqe() must submit to make room.
  logger log("[test] ", log_level::warn);
  reactor_options opts;
  opts.sq_entries = 8;
  reactor r(opts, log);
  struct local {
    static task<int> main() {
      listener l;
      std::vector<int> accepted;
      std::vector<int> clients(300, -1);
      task_group g{co_await this_context()};
      g.spawn(accept_n(l.fd.get(), 300, &accepted));
      for (int i = 0; i < 300; ++i) g.spawn(connect_and_send(l.addr, i, &clients));
      co_await g.join();
      for (int fd : accepted) ::close(fd);
      for (int fd : clients) ::close(fd);
      co_return int(accepted.size());
    }
  };
  BOOST_TEST(r.run(local::main()) == 300);
}
