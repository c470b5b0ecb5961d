#include "bench/sockets.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace nsqd::bench {

namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace

listeners make_listeners(unsigned count, uint16_t port) {
  listeners l;
  l.port = port;
  try {
    for (unsigned i = 0; i < count; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) fail("socket");
      l.fds.push_back(fd);
      int one = 1;
      if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) fail("SO_REUSEPORT");
      if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) fail("SO_REUSEADDR");
      sockaddr_in a = loopback(l.port);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail("bind");
      if (::listen(fd, 4096) != 0) fail("listen");
      if (l.port == 0) {
        socklen_t len = sizeof a;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) fail("getsockname");
        l.port = ntohs(a.sin_port);
      }
    }
  } catch (...) {
    close_all(l);
    throw;
  }
  return l;
}

void close_all(listeners& l) noexcept {
  for (int fd : l.fds) ::close(fd);
  l.fds.clear();
}

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  sockaddr_in a = loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    ::close(fd);
    throw std::system_error(e, std::system_category(), "connect to port " + std::to_string(port));
  }
  try {
    set_nodelay(fd);
    set_nonblocking(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
  return fd;
}

void set_nodelay(int fd) {
  int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) fail("TCP_NODELAY");
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) fail("O_NONBLOCK");
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

void pin_this_thread(int cpu) noexcept {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

int server_cpu(const std::vector<int>& cpus, unsigned i) noexcept {
  return cpus.empty() ? -1 : cpus[i % cpus.size()];
}

int client_cpu(const std::vector<int>& cpus, unsigned shards, unsigned k) noexcept {
  if (cpus.size() <= shards) return -1;
  return cpus[shards + k % (cpus.size() - shards)];
}

stop_signal::stop_signal() : _fd(::eventfd(0, EFD_CLOEXEC)) {
  if (_fd < 0) fail("eventfd");
}

stop_signal::~stop_signal() { ::close(_fd); }

void stop_signal::raise() noexcept {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(_fd, &one, sizeof one);
}

}  // namespace nsqd::bench
