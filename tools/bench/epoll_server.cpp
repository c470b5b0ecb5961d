// The epoll echo server: one nonblocking epoll loop per listener, each on its own thread.

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "bench/echo_server.hpp"

namespace nsqd::bench {

namespace {

constexpr uint64_t stop_tag = 0;
constexpr uint64_t listener_tag = 1;

struct connection {
  int fd;
  size_t index;     // in the loop's connection list
  size_t done = 0;  // bytes of the current message read (or, when writing, written)
  bool writing = false;
  bool want_out = false;  // level-triggered: registered for EPOLLOUT instead of EPOLLIN
  std::unique_ptr<char[]> buf;
};

class loop {
 public:
  loop(int listen_fd, int stop_fd, size_t size, bool edge, bool spin)
      : _listen_fd(listen_fd), _stop_fd(stop_fd), _size(size), _edge(edge), _spin(spin) {}
  ~loop() {
    for (auto& c : _conns) ::close(c->fd);
    if (_ep >= 0) ::close(_ep);
  }

  void run() {
    _ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (_ep < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    add(_stop_fd, EPOLLIN, stop_tag);
    add(_listen_fd, EPOLLIN, listener_tag);
    epoll_event events[256];
    for (;;) {
      int n = ::epoll_wait(_ep, events, 256, _spin ? 0 : -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::system_error(errno, std::system_category(), "epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        uint64_t tag = events[i].data.u64;
        if (tag == stop_tag) return;
        if (tag == listener_tag) {
          accept_all();
          continue;
        }
        connection& c = *reinterpret_cast<connection*>(tag);
        if (!(_edge ? drain(c) : step(c))) close(c);
      }
    }
  }

 private:
  void add(int fd, uint32_t events, uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    if (::epoll_ctl(_ep, EPOLL_CTL_ADD, fd, &ev) != 0)
      throw std::system_error(errno, std::system_category(), "epoll_ctl ADD");
  }
  void modify(connection& c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = reinterpret_cast<uintptr_t>(&c);
    if (::epoll_ctl(_ep, EPOLL_CTL_MOD, c.fd, &ev) != 0)
      throw std::system_error(errno, std::system_category(), "epoll_ctl MOD");
  }

  void accept_all() {
    for (;;) {
      int fd = ::accept4(_listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == ECONNABORTED || errno == EINTR) return;
        throw std::system_error(errno, std::system_category(), "accept4");
      }
      set_nodelay(fd);
      auto c = std::make_unique<connection>();
      c->fd = fd;
      c->index = _conns.size();
      c->buf.reset(new char[_size]);
      add(fd, _edge ? EPOLLIN | EPOLLOUT | EPOLLET : EPOLLIN, reinterpret_cast<uintptr_t>(c.get()));
      _conns.push_back(std::move(c));
    }
  }

  // Level-triggered: one recv or send per readiness event. False when the connection ends.
  bool step(connection& c) {
    if (!c.writing) {
      ssize_t n = ::recv(c.fd, c.buf.get() + c.done, _size - c.done, 0);
      if (n <= 0) return n < 0 && errno == EAGAIN;  // 0: the peer hung up
      c.done += size_t(n);
      if (c.done < _size) return true;
      c.writing = true;
      c.done = 0;
    }
    ssize_t n = ::send(c.fd, c.buf.get() + c.done, _size - c.done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN) return false;
      n = 0;
    }
    c.done += size_t(n);
    if (c.done == _size) {
      c.writing = false;
      c.done = 0;
      if (c.want_out) {
        modify(c, EPOLLIN);
        c.want_out = false;
      }
    } else if (!c.want_out) {
      modify(c, EPOLLOUT);
      c.want_out = true;
    }
    return true;
  }

  // Edge-triggered: go on until the socket says EAGAIN. False when the connection ends.
  bool drain(connection& c) {
    for (;;) {
      if (!c.writing) {
        ssize_t n = ::recv(c.fd, c.buf.get() + c.done, _size - c.done, 0);
        if (n <= 0) return n < 0 && errno == EAGAIN;
        c.done += size_t(n);
        if (c.done < _size) continue;
        c.writing = true;
        c.done = 0;
      }
      ssize_t n = ::send(c.fd, c.buf.get() + c.done, _size - c.done, MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN;
      c.done += size_t(n);
      if (c.done == _size) {
        c.writing = false;
        c.done = 0;
      }
    }
  }

  void close(connection& c) {
    ::close(c.fd);  // also leaves the epoll set
    size_t i = c.index;
    if (i + 1 != _conns.size()) {
      _conns[i] = std::move(_conns.back());
      _conns[i]->index = i;
    }
    _conns.pop_back();
  }

  int _listen_fd;
  int _stop_fd;
  size_t _size;
  bool _edge;
  bool _spin;
  int _ep = -1;
  std::vector<std::unique_ptr<connection>> _conns;
};

class epoll_server final : public echo_server {
 public:
  epoll_server(const listeners& l, size_t size, bool edge, bool spin) : _errors(l.fds.size()) {
    std::vector<int> cpus = allowed_cpus();
    for (int fd : l.fds) set_nonblocking(fd);
    try {
      for (unsigned i = 0; i < l.fds.size(); ++i) {
        _threads.emplace_back(
            [this, i, fd = l.fds[i], size, edge, spin, cpu = server_cpu(cpus, i)] {
              pin_this_thread(cpu);
              try {
                loop(fd, _stop.fd(), size, edge, spin).run();
              } catch (...) {
                _errors[i] = std::current_exception();
              }
            });
      }
    } catch (...) {
      stop();
      throw;
    }
  }
  ~epoll_server() override {
    try {
      stop();
    } catch (...) {
    }
  }

  void stop() override {
    if (_threads.empty()) return;
    _stop.raise();
    for (auto& t : _threads) t.join();
    _threads.clear();
    for (auto& e : _errors)
      if (e) std::rethrow_exception(std::exchange(e, nullptr));
  }
  reactor_totals totals() const override { return {}; }

 private:
  stop_signal _stop;
  std::vector<std::exception_ptr> _errors;
  std::vector<std::thread> _threads;
};

}  // namespace

std::unique_ptr<echo_server> start_epoll_server(const listeners& l, size_t size,
                                                bool edge_triggered, bool spin) {
  return std::make_unique<epoll_server>(l, size, edge_triggered, spin);
}

}  // namespace nsqd::bench
