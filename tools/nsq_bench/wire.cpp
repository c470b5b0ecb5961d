#include "nsq_bench/wire.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <netdb.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace nsqd::nsq_bench {

namespace {

constexpr std::size_t initial_buffer = 256 * 1024;
constexpr std::uint32_t max_frame_size = 256u << 20;  // far beyond any nsqd limit
constexpr std::chrono::microseconds short_wait{20000};

}  // namespace

bool parse_message(std::string_view data, message_view& out) {
  if (data.size() < message_header_size) return false;
  out.timestamp_ns = get_u64(data.data());
  out.attempts = get_u16(data.data() + 8);
  out.id = data.substr(10, 16);
  out.body = data.substr(message_header_size);
  return true;
}

void append_identify(std::string& out, std::string_view json) {
  out.append("IDENTIFY\n");
  char size[4];
  put_u32(size, static_cast<std::uint32_t>(json.size()));
  out.append(size, 4);
  out.append(json);
}

void append_sub(std::string& out, std::string_view topic, std::string_view channel) {
  out.append("SUB ").append(topic).append(" ").append(channel).append("\n");
}

void append_rdy(std::string& out, unsigned count) {
  out.append("RDY ").append(std::to_string(count)).append("\n");
}

void append_fin(std::string& out, std::string_view id) {
  out.append("FIN ").append(id).append("\n");
}

connection connection::open(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    throw std::runtime_error("resolve " + host + ": " + gai_strerror(rc));
  std::string last = "no address";
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      last = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) throw std::runtime_error("connect " + host + ":" + service + ": " + last);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  connection c(fd);
  if (!c.send_all("  V2")) throw std::runtime_error("send magic: " + c.error());
  return c;
}

connection::connection(int fd) : _fd(fd), _buf(initial_buffer) {}

connection::connection(connection&& other) noexcept
    : _fd(other._fd),
      _buf(std::move(other._buf)),
      _begin(other._begin),
      _end(other._end),
      _timeout_us(other._timeout_us),
      _error(std::move(other._error)) {
  other._fd = -1;
}

connection::~connection() {
  if (_fd >= 0) ::close(_fd);
}

bool connection::send_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      _error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    bytes.remove_prefix(std::size_t(n));
  }
  return true;
}

// Receives more bytes after _end, making room first. False with `status` set when none came.
bool connection::fill(std::chrono::microseconds timeout, read_status& status) {
  if (_begin == _end) {
    _begin = _end = 0;
  } else if (_end == _buf.size() && _begin > 0) {
    std::memmove(_buf.data(), _buf.data() + _begin, _end - _begin);
    _end -= _begin;
    _begin = 0;
  }
  if (_end == _buf.size()) _buf.resize(_buf.size() * 2);

  // SO_RCVTIMEO is rounded up to whole jiffies (1-4 ms): fine for the 100 ms checks, not for a
  // publisher pacing sub-millisecond batches. Short waits go through ppoll (hrtimer) instead.
  int flags = 0;
  if (timeout.count() <= 0) {
    flags = MSG_DONTWAIT;
  } else if (timeout < short_wait) {
    pollfd p{_fd, POLLIN, 0};
    timespec ts{0, long(timeout.count()) * 1000};
    int rc = ::ppoll(&p, 1, &ts, nullptr);
    if (rc == 0 || (rc < 0 && errno == EINTR)) {
      status = read_status::timeout;
      return false;
    }
    flags = MSG_DONTWAIT;
  } else if (timeout.count() != _timeout_us) {
    timeval tv{timeout.count() / 1000000, timeout.count() % 1000000};
    ::setsockopt(_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    _timeout_us = timeout.count();
  }
  for (;;) {
    ssize_t n = ::recv(_fd, _buf.data() + _end, _buf.size() - _end, flags);
    if (n > 0) {
      _end += std::size_t(n);
      return true;
    }
    if (n == 0) {
      _error = "connection closed by nsqd";
      status = read_status::closed;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      status = read_status::timeout;
      return false;
    }
    _error = std::string("recv: ") + std::strerror(errno);
    status = read_status::closed;
    return false;
  }
}

bool connection::has_frame() const {
  std::size_t have = _end - _begin;
  return have >= 8 && have >= 4 + std::size_t(get_u32(_buf.data() + _begin));
}

connection::read_status connection::next_frame(frame& out, std::chrono::microseconds timeout) {
  read_status status = read_status::frame;
  for (;;) {
    std::size_t have = _end - _begin;
    if (have >= 8) {
      std::uint32_t size = get_u32(_buf.data() + _begin);
      if (size < 4 || size > max_frame_size) {
        _error = "malformed frame: size " + std::to_string(size);
        return read_status::closed;
      }
      if (have >= 4 + std::size_t(size)) {
        std::uint32_t type = get_u32(_buf.data() + _begin + 4);
        if (type > 2) {
          _error = "malformed frame: type " + std::to_string(type);
          return read_status::closed;
        }
        out.type = frame_type(type);
        out.data = std::string_view(_buf.data() + _begin + 8, size - 4);
        _begin += 4 + std::size_t(size);
        return read_status::frame;
      }
      // A frame larger than the whole buffer: grow so that fill() can complete it.
      if (4 + std::size_t(size) > _buf.size()) {
        std::vector<char> bigger(4 + std::size_t(size));
        std::memcpy(bigger.data(), _buf.data() + _begin, have);
        _buf.swap(bigger);
        _begin = 0;
        _end = have;
      }
    }
    if (!fill(timeout, status)) return status;
  }
}

}  // namespace nsqd::nsq_bench
