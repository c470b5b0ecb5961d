#include "bench/load_client.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace nsqd::bench {

namespace {

constexpr uint64_t stop_tag = 0;

struct connection {
  int fd;
  size_t done = 0;  // bytes of the current request sent, or of its echo received
  bool receiving = false;
  bool want_out = false;  // registered for EPOLLOUT (a send did not finish)
};

[[noreturn]] void fail(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

class client_loop {
 public:
  client_loop(std::vector<int>& fds, int stop_fd, const char* request, size_t size,
              std::atomic<uint64_t>& completed)
      : _stop_fd(stop_fd),
        _request(request),
        _size(size),
        _scratch(new char[size]),
        _completed(completed) {
    _conns.reserve(fds.size());
    for (int fd : fds) _conns.push_back(connection{fd});
  }
  ~client_loop() {
    if (_ep >= 0) ::close(_ep);
  }

  void run() {
    _ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (_ep < 0) fail(errno, "epoll_create1");
    control(EPOLL_CTL_ADD, _stop_fd, EPOLLIN, stop_tag);
    for (connection& c : _conns) {
      control(EPOLL_CTL_ADD, c.fd, EPOLLIN, reinterpret_cast<uintptr_t>(&c));
      send_some(c);
    }
    epoll_event events[256];
    for (;;) {
      int n = ::epoll_wait(_ep, events, 256, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail(errno, "client epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == stop_tag) return;
        connection& c = *reinterpret_cast<connection*>(events[i].data.u64);
        if (c.receiving)
          receive_some(c);
        else
          send_some(c);
      }
    }
  }

 private:
  void control(int op, int fd, uint32_t events, uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    if (::epoll_ctl(_ep, op, fd, &ev) != 0) fail(errno, "client epoll_ctl");
  }

  void send_some(connection& c) {
    ssize_t n = ::send(c.fd, _request + c.done, _size - c.done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN) fail(errno, "client send");
      n = 0;
    }
    c.done += size_t(n);
    if (c.done < _size) {
      if (!c.want_out) control(EPOLL_CTL_MOD, c.fd, EPOLLOUT, reinterpret_cast<uintptr_t>(&c));
      c.want_out = true;
      return;
    }
    if (c.want_out) control(EPOLL_CTL_MOD, c.fd, EPOLLIN, reinterpret_cast<uintptr_t>(&c));
    c.want_out = false;
    c.receiving = true;
    c.done = 0;
  }

  void receive_some(connection& c) {
    ssize_t n = ::recv(c.fd, _scratch.get() + c.done, _size - c.done, 0);
    if (n <= 0) {
      if (n < 0 && errno == EAGAIN) return;
      if (n == 0) throw std::runtime_error("the server closed a connection");
      fail(errno, "client recv");
    }
    c.done += size_t(n);
    if (c.done < _size) return;
    _completed.store(_completed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    c.receiving = false;
    c.done = 0;
    send_some(c);
  }

  int _stop_fd;
  const char* _request;
  size_t _size;
  std::unique_ptr<char[]> _scratch;  // echoes land here; only their length matters
  std::atomic<uint64_t>& _completed;
  std::vector<connection> _conns;
  int _ep = -1;
};

}  // namespace

load_client::load_client(uint16_t port, unsigned connections, unsigned threads, size_t size,
                         unsigned server_shards)
    : _size(size),
      _request(new char[size]),
      _slots(new slot[threads]),
      _errors(threads),
      _clocks(threads) {
  for (size_t i = 0; i < size; ++i) _request[i] = char('a' + i % 26);
  std::vector<std::vector<int>> fds(threads);
  try {
    for (unsigned i = 0; i < connections; ++i) fds[i % threads].push_back(connect_loopback(port));
  } catch (...) {
    for (auto& list : fds)
      for (int fd : list) ::close(fd);
    throw;
  }
  std::vector<int> cpus = allowed_cpus();
  unsigned k = 0;
  try {
    for (; k < threads; ++k) {
      _threads.emplace_back(&load_client::run, this, k, fds[k], client_cpu(cpus, server_shards, k));
      if (pthread_getcpuclockid(_threads.back().native_handle(), &_clocks[k]) != 0)
        _clocks[k] = clockid_t(-1);
    }
  } catch (...) {
    for (unsigned j = k; j < threads; ++j)  // not handed to a thread yet
      for (int fd : fds[j]) ::close(fd);
    stop();
    throw;
  }
}

load_client::~load_client() {
  try {
    stop();
  } catch (...) {
  }
}

void load_client::run(unsigned k, std::vector<int> fds, int cpu) {
  pin_this_thread(cpu);
  try {
    client_loop(fds, _stop.fd(), _request.get(), _size, _slots[k].completed).run();
  } catch (...) {
    _errors[k] = std::current_exception();
  }
  for (int fd : fds) ::close(fd);
}

uint64_t load_client::completed() const noexcept {
  uint64_t sum = 0;
  for (size_t k = 0; k < _errors.size(); ++k)
    sum += _slots[k].completed.load(std::memory_order_relaxed);
  return sum;
}

std::chrono::nanoseconds load_client::cpu_time() const noexcept {
  int64_t ns = 0;
  for (clockid_t c : _clocks) {
    timespec ts{};
    if (c != clockid_t(-1) && clock_gettime(c, &ts) == 0)
      ns += ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
  }
  return std::chrono::nanoseconds(ns);
}

void load_client::stop() {
  if (_threads.empty()) return;
  _stop.raise();
  for (auto& t : _threads) t.join();
  _threads.clear();
  _clocks.clear();
  for (auto& e : _errors)
    if (e) std::rethrow_exception(std::exchange(e, nullptr));
}

}  // namespace nsqd::bench
