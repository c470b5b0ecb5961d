#include "nsq_bench/wire.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
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
      _ssl(std::exchange(other._ssl, nullptr)),
      _buf(std::move(other._buf)),
      _begin(other._begin),
      _end(other._end),
      _timeout_us(other._timeout_us),
      _error(std::move(other._error)) {
  other._fd = -1;
}

connection::~connection() {
  if (_ssl) SSL_free(_ssl);
  if (_fd >= 0) ::close(_fd);
}

SSL_CTX* insecure_tls_context() {
  static SSL_CTX* const ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    if (!c) throw std::runtime_error("SSL_CTX_new failed");
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    return c;
  }();
  return ctx;
}

bool connection::start_tls(SSL_CTX* context) {
  _ssl = SSL_new(context);
  if (!_ssl || SSL_set_fd(_ssl, _fd) != 1 || SSL_connect(_ssl) != 1) {
    char text[256] = "TLS handshake failed";
    if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, text, sizeof text);
    _error = text;
    return false;
  }
  return true;
}

long connection::read_some(char* dst, std::size_t cap, bool dont_wait) {
  if (!_ssl) return ::recv(_fd, dst, cap, dont_wait ? MSG_DONTWAIT : 0);
  if (dont_wait && SSL_pending(_ssl) == 0) {
    pollfd p{_fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) {
      errno = EAGAIN;
      return -1;
    }
  }
  const int n = SSL_read(_ssl, dst, int(std::min<std::size_t>(cap, 1 << 30)));
  if (n > 0) return n;
  const int e = SSL_get_error(_ssl, n);
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  if (e == SSL_ERROR_WANT_READ) {
    errno = EAGAIN;  // SO_RCVTIMEO ran out mid-wait
    return -1;
  }
  if (e != SSL_ERROR_SYSCALL || errno == 0) errno = EPROTO;
  return -1;
}

bool connection::send_all(std::string_view bytes) {
  if (_ssl) {
    while (!bytes.empty()) {
      std::size_t written = 0;
      if (SSL_write_ex(_ssl, bytes.data(), bytes.size(), &written) != 1) {
        _error = "TLS write failed";
        return false;
      }
      bytes.remove_prefix(written);
    }
    return true;
  }
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
  if (timeout.count() <= 0 || (_ssl && SSL_pending(_ssl) > 0)) {  // (decrypted bytes wait in TLS)
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
    long n = read_some(_buf.data() + _end, _buf.size() - _end, flags == MSG_DONTWAIT);
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

bool await_response(connection& c, frame& f, std::string& error, std::chrono::microseconds timeout) {
  for (;;) {
    switch (c.next_frame(f, timeout)) {
      case connection::read_status::timeout:
        error = "no answer from nsqd within " + std::to_string(timeout.count() / 1000) + " ms";
        return false;
      case connection::read_status::closed:
        error = c.error();
        return false;
      case connection::read_status::frame:
        break;
    }
    if (f.type == frame_type::error) {
      error = "nsqd: " + std::string(f.data);
      return false;
    }
    if (f.type == frame_type::response && f.data != heartbeat_data) return true;
  }
}

bool finish_identify(connection& c, std::string_view answer, SSL_CTX* tls, std::string& error,
                     std::chrono::microseconds timeout) {
  if (!tls) return true;
  if (answer.find("\"tls_v1\":true") == std::string_view::npos) {
    error = "nsqd did not agree to TLS (tls_v1 false: no --tls-cert/--tls-key there?)";
    return false;
  }
  if (!c.start_tls(tls)) {
    error = c.error();
    return false;
  }
  frame f;
  if (!await_response(c, f, error, timeout)) return false;
  if (f.data != "OK") {
    error = "TLS upgrade answered '" + std::string(f.data) + "'";
    return false;
  }
  return true;
}

}  // namespace nsqd::nsq_bench
