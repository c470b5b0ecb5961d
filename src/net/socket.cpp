#include "net/socket.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "go/go_syntax.hpp"

namespace nsqd::net {

unique_fd& unique_fd::operator=(unique_fd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void unique_fd::reset(int fd) noexcept {
  if (_fd >= 0) ::close(_fd);
  _fd = fd;
}

socket_address resolve_tcp_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    throw std::runtime_error("address " + address + ": missing port in address");
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string::npos)
    throw std::runtime_error("address " + address + ": too many colons in address");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || !found)
    throw std::runtime_error("lookup " + address + ": " + ::gai_strerror(rc));
  // Prefer IPv4 for an empty host, as "0.0.0.0" would.
  addrinfo* pick = found;
  for (addrinfo* a = found; a; a = a->ai_next)
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  socket_address out;
  std::memcpy(&out.storage, pick->ai_addr, pick->ai_addrlen);
  out.length = pick->ai_addrlen;
  ::freeaddrinfo(found);
  return out;
}

namespace {

[[noreturn]] void fail(const std::string& address, const char* step, int err) {
  throw listen_error("listen (" + address + ") failed - listen tcp " + address + ": " + step +
                     ": " + go::errno_text(err));
}

unique_fd bind_one(const std::string& address, const socket_address& where, bool reuseport) {
  unique_fd fd(::socket(where.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) fail(address, "socket", errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    fail(address, "setsockopt", errno);
  if (::bind(fd.get(), where.get(), where.length) != 0) fail(address, "bind", errno);
  return fd;
}

// The probe's bind, retried while the address is in use for up to `patience`: after a
// `kill -9`, the kernel's asynchronous io_uring teardown holds the dead process's listening
// sockets for some tens of milliseconds. A live holder still gets the error, a second later.
unique_fd bind_probe(const std::string& address, const socket_address& where, std::chrono::milliseconds patience) {
  const auto give_up = std::chrono::steady_clock::now() + patience;
  for (;;) {
    unique_fd fd(::socket(where.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) fail(address, "socket", errno);
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), where.get(), where.length) == 0) return fd;
    int err = errno;
    if (err != EADDRINUSE || std::chrono::steady_clock::now() >= give_up) fail(address, "bind", err);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // start-up: no shard runs yet
  }
}

void set_port(socket_address& a, int port) {
  if (a.storage.ss_family == AF_INET)
    reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(uint16_t(port));
  else
    reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_port = htons(uint16_t(port));
}

}  // namespace

std::vector<unique_fd> listen_tcp(const std::string& address, unsigned count) {
  socket_address where;
  try {
    where = resolve_tcp_address(address);
  } catch (const std::runtime_error& e) {
    throw listen_error("listen (" + address + ") failed - listen tcp " + e.what());
  }
  // The probe: without SO_REUSEPORT it fails if anyone holds the address.
  {
    unique_fd probe = bind_probe(address, where, std::chrono::seconds(1));
    if (local_port(probe.get()) > 0) set_port(where, local_port(probe.get()));
  }
  std::vector<unique_fd> fds;
  for (unsigned i = 0; i < count; ++i) {
    fds.push_back(bind_one(address, where, true));
    if (::listen(fds.back().get(), 4096) != 0) fail(address, "listen", errno);
  }
  return fds;
}

bool is_unix_address(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return true;  // missing port in address
  const std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return false;
  return host.find(':') != std::string::npos || host.find('[') != std::string::npos ||
         host.find(']') != std::string::npos;  // too many colons, or a stray bracket
}

std::vector<unique_fd> listen_unix(const std::string& path, unsigned count) {
  auto failed = [&](const char* step, int err) -> listen_error {
    return listen_error("listen (" + path + ") failed - listen unix " + path + ": " + step + ": " + go::errno_text(err));
  };
  sockaddr_un where{};
  where.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof where.sun_path) throw failed("bind", EINVAL);
  std::memcpy(where.sun_path, path.data(), path.size());
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw failed("socket", errno);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&where), sizeof where) != 0) throw failed("bind", errno);
  if (::listen(fd.get(), 4096) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    throw failed("listen", err);
  }
  std::vector<unique_fd> fds;
  fds.push_back(std::move(fd));
  for (unsigned i = 1; i < count; ++i) {
    unique_fd copy(::fcntl(fds.front().get(), F_DUPFD_CLOEXEC, 0));
    if (!copy) {
      const int err = errno;
      ::unlink(path.c_str());
      throw failed("dup", err);
    }
    fds.push_back(std::move(copy));
  }
  return fds;
}

std::vector<unique_fd> listen_stream(const std::string& address, unsigned count) {
  return is_unix_address(address) ? listen_unix(address, count) : listen_tcp(address, count);
}

int local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return -1;
}

std::string peer_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  char host[INET6_ADDRSTRLEN] = {};
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  if (ss.ss_family == AF_UNIX) {
    // As Go shows it: the peer's path, or "@" and its abstract name ("@" alone: unbound).
    const auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
    const std::size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    if (n == 0 || un->sun_path[0] == '\0') return "@" + std::string(n > 1 ? un->sun_path + 1 : "", n > 1 ? n - 1 : 0);
    return std::string(un->sun_path, ::strnlen(un->sun_path, n));
  }
  return "";
}

}  // namespace nsqd::net
