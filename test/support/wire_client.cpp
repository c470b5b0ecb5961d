#include "test/support/wire_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace nsqd::test {

namespace {

using clock = std::chrono::steady_clock;

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// Milliseconds left until `deadline`, at least 0, rounded up so that we never spin.
int remaining_ms(clock::time_point deadline) {
  auto left = deadline - clock::now();
  if (left <= clock::duration::zero()) return 0;
  return int(std::chrono::ceil<milliseconds>(left).count());
}

milliseconds remaining(clock::time_point deadline) { return milliseconds(remaining_ms(deadline)); }

// Waits for `events` on fd until `deadline`; false on timeout.
bool wait_fd(int fd, short events, clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) throw wire_error(errno_text("poll"));
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Digits only, base `base` (10 or 16); throws wire_error on anything else.
std::size_t parse_size(std::string_view s, int base, const char* what) {
  s = trim(s);
  if (s.empty() || s.size() > 15) throw wire_error(std::string("bad ") + what + ": '" + std::string(s) + "'");
  std::size_t n = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else throw wire_error(std::string("bad ") + what + ": '" + std::string(s) + "'");
    n = n * std::size_t(base) + std::size_t(d);
  }
  return n;
}

std::uint32_t get_be32(const char* p) {
  std::uint32_t n;
  std::memcpy(&n, p, 4);
  return ntohl(n);
}

constexpr std::size_t max_frame_size = 64u << 20;  // far above anything nsqd may send

}  // namespace

std::ostream& operator<<(std::ostream& os, const frame& f) {
  return os << "frame{type " << f.type << ", \"" << f.data << "\"}";
}

milliseconds deadline::left() const { return remaining(_at); }

std::string be32(std::uint32_t n) {
  std::uint32_t be = htonl(n);
  return std::string(reinterpret_cast<const char*>(&be), 4);
}

std::uint64_t load_be(std::string_view s, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

std::optional<wire_message> parse_message(const frame& f) {
  if (f.type != frame_message || f.data.size() < 26) return std::nullopt;
  wire_message m;
  m.ts = std::int64_t(load_be(f.data, 0, 8));
  m.attempts = std::uint16_t(load_be(f.data, 8, 2));
  m.id = f.data.substr(10, 16);
  m.body = f.data.substr(26);
  return m;
}

std::optional<wire_message> next_message(wire_client& c, milliseconds timeout) {
  const frame heartbeat{frame_response, "_heartbeat_"};
  for (deadline d(timeout);;) {
    std::optional<frame> f = c.read_frame_within(d.left());
    if (!f) return std::nullopt;
    if (*f == heartbeat) {
      c.send_command("NOP");
      continue;
    }
    std::optional<wire_message> m = parse_message(*f);
    if (!m) {
      std::ostringstream what;
      what << "expected a message, got " << *f;
      throw wire_error(what.str());
    }
    return m;
  }
}

// ---- wire_client ---------------------------------------------------------------------------

wire_client::wire_client(std::uint16_t port, milliseconds timeout, const std::string& host) {
  _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (_fd < 0) throw wire_error(errno_text("socket"));
  int one = 1;
  ::setsockopt(_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    close();
    throw wire_error("bad IPv4 address " + host);
  }
  std::string where = host + ":" + std::to_string(port);
  if (::connect(_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      std::string e = errno_text(("connect " + where).c_str());
      close();
      throw wire_error(e);
    }
    if (!wait_fd(_fd, POLLOUT, clock::now() + timeout)) {
      close();
      throw wire_error("connect " + where + ": timed out");
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(_fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      close();
      throw wire_error("connect " + where + ": " + std::strerror(err));
    }
  }
}

wire_client wire_client::unix_socket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw wire_error(errno_text("socket"));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string e = errno_text(("connect " + path).c_str());
    ::close(fd);
    throw wire_error(e);
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  wire_client c;
  c._fd = fd;
  return c;
}

wire_client::~wire_client() { close(); }

wire_client::wire_client(wire_client&& other) noexcept
    : _fd(std::exchange(other._fd, -1)), _buffer(std::move(other._buffer)), _filter(std::move(other._filter)) {}

wire_client& wire_client::operator=(wire_client&& other) noexcept {
  if (this != &other) {
    close();
    _fd = std::exchange(other._fd, -1);
    _buffer = std::move(other._buffer);
    _filter = std::move(other._filter);
  }
  return *this;
}

void wire_client::close() {
  if (_fd >= 0) ::close(_fd);
  _fd = -1;
}

void wire_client::shutdown_send() {
  if (_fd >= 0) ::shutdown(_fd, SHUT_WR);
}

void wire_client::send(std::string_view bytes) {
  if (_filter) {
    const std::string sealed = _filter->seal(bytes);
    send_raw(sealed);
    return;
  }
  send_raw(bytes);
}

void wire_client::set_filter(std::unique_ptr<wire_filter> filter) {
  _filter = std::move(filter);
  // Even with nothing buffered: a TLS session may hold records that came with its handshake.
  std::string received;
  received.swap(_buffer);
  _buffer = _filter->adopt(received);
}

std::string wire_client::receive_raw(milliseconds timeout) {
  if (_fd < 0) throw wire_error("receive on a closed client");
  const auto deadline = clock::now() + timeout;
  for (;;) {
    if (!wait_fd(_fd, POLLIN, deadline)) return "";
    char chunk[65536];
    ssize_t n = ::recv(_fd, chunk, sizeof chunk, 0);
    if (n > 0) return std::string(chunk, std::size_t(n));
    if (n == 0 || errno == ECONNRESET) throw wire_error("connection closed");
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) throw wire_error(errno_text("recv"));
  }
}

void wire_client::send_raw(std::string_view bytes) {
  if (_fd < 0) throw wire_error("send on a closed client");
  auto deadline = clock::now() + 5s;
  while (!bytes.empty()) {
    ssize_t n = ::send(_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(std::size_t(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_fd(_fd, POLLOUT, deadline)) throw wire_error("send: timed out (peer not reading)");
    } else if (errno != EINTR) {
      throw wire_error(errno_text("send"));
    }
  }
}

void wire_client::send_magic(std::string_view magic) { send(magic); }

void wire_client::send_command(std::string_view line, std::optional<std::string_view> body) {
  std::string out(line);
  out += '\n';
  if (body) {
    out += be32(std::uint32_t(body->size()));
    out += *body;
  }
  send(out);
}

wire_client::fill_result wire_client::fill(clock::time_point deadline) {
  if (_fd < 0) return fill_result::eof;
  for (;;) {
    if (!wait_fd(_fd, POLLIN, deadline)) return fill_result::timeout;
    char chunk[65536];
    ssize_t n = ::recv(_fd, chunk, sizeof chunk, 0);
    if (n > 0 && _filter) {
      bool eof = false;
      std::string plain = _filter->open({chunk, std::size_t(n)}, eof);
      _buffer += plain;
      if (!plain.empty()) return fill_result::data;
      if (eof) return fill_result::eof;
      continue;
    }
    if (n > 0) {
      _buffer.append(chunk, std::size_t(n));
      return fill_result::data;
    }
    if (n == 0 || errno == ECONNRESET) return fill_result::eof;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      throw wire_error(errno_text("recv"));
  }
}

std::string wire_client::read_exact(std::size_t n, milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (_buffer.size() < n) {
    switch (fill(deadline)) {
      case fill_result::data: break;
      case fill_result::eof:
        throw wire_error("connection closed after " + std::to_string(_buffer.size()) + " of " +
                         std::to_string(n) + " bytes");
      case fill_result::timeout:
        throw wire_error("timed out after " + std::to_string(_buffer.size()) + " of " +
                         std::to_string(n) + " bytes");
    }
  }
  std::string out = _buffer.substr(0, n);
  _buffer.erase(0, n);
  return out;
}

std::string wire_client::read_until(std::string_view delimiter, milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  std::size_t from = 0;
  for (;;) {
    auto at = _buffer.find(delimiter, from);
    if (at != std::string::npos) {
      std::string out = _buffer.substr(0, at + delimiter.size());
      _buffer.erase(0, at + delimiter.size());
      return out;
    }
    from = _buffer.size() >= delimiter.size() ? _buffer.size() - delimiter.size() + 1 : 0;
    switch (fill(deadline)) {
      case fill_result::data: break;
      case fill_result::eof: throw wire_error("connection closed before delimiter");
      case fill_result::timeout: throw wire_error("timed out waiting for delimiter");
    }
  }
}

std::string wire_client::read_to_eof(milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    switch (fill(deadline)) {
      case fill_result::data: break;
      case fill_result::eof: return std::exchange(_buffer, {});
      case fill_result::timeout: throw wire_error("timed out waiting for the peer to close");
    }
  }
}

frame wire_client::read_frame(milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  std::uint32_t size = get_be32(read_exact(4, timeout).data());
  if (size < 4 || size > max_frame_size)
    throw wire_error("bad frame size " + std::to_string(size));
  std::string rest = read_exact(size, remaining(deadline));
  frame f;
  f.type = std::int32_t(get_be32(rest.data()));
  f.data = rest.substr(4);
  return f;
}

std::optional<frame> wire_client::read_frame_within(milliseconds timeout) {
  if (_buffer.empty()) {
    switch (fill(clock::now() + timeout)) {
      case fill_result::data: break;
      case fill_result::eof: throw wire_error("connection closed while waiting for a frame");
      case fill_result::timeout: return std::nullopt;
    }
  }
  return read_frame(5s);  // the frame has begun: the rest must follow
}

bool wire_client::expect_closed(milliseconds timeout) {
  if (!_buffer.empty()) return false;
  return fill(clock::now() + timeout) == fill_result::eof;
}

// ---- HTTP ----------------------------------------------------------------------------------

std::optional<std::string> http_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

std::string http_request_bytes(std::string_view method, std::string_view target,
                               std::string_view host, std::string_view body,
                               const std::vector<std::string>& extra_headers) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(host).append("\r\n");
  for (const auto& h : extra_headers) out.append(h).append("\r\n");
  if (!body.empty() || method == "POST" || method == "PUT")
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append("\r\n").append(body);
  return out;
}

http_client::http_client(std::uint16_t port, milliseconds timeout)
    : _port(port), _conn(port, timeout) {}

void http_client::send_raw(std::string_view bytes) { _conn.send(bytes); }

void http_client::send_request(std::string_view method, std::string_view target,
                               std::string_view body, const std::vector<std::string>& extra_headers) {
  std::string host = "127.0.0.1:" + std::to_string(_port);
  _conn.send(http_request_bytes(method, target, host, body, extra_headers));
}

http_response http_client::read_response(milliseconds timeout, bool head) {
  auto deadline = clock::now() + timeout;
  std::string head_text = _conn.read_until("\r\n\r\n", timeout);
  http_response r;

  std::string_view rest(head_text);
  rest.remove_suffix(2);  // the empty line's CRLF; every line below ends in CRLF
  auto next_line = [&rest]() {
    auto eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    return line;
  };
  std::string_view status_line = next_line();
  auto sp1 = status_line.find(' ');
  if (sp1 == std::string_view::npos || !status_line.starts_with("HTTP/"))
    throw wire_error("bad status line '" + std::string(status_line) + "'");
  r.version = std::string(status_line.substr(0, sp1));
  std::string_view code = status_line.substr(sp1 + 1, 3);
  if (code.size() != 3) throw wire_error("bad status line '" + std::string(status_line) + "'");
  r.status = int(parse_size(code, 10, "status code"));
  if (status_line.size() > sp1 + 4) {
    if (status_line[sp1 + 4] != ' ') throw wire_error("bad status line '" + std::string(status_line) + "'");
    r.reason = std::string(status_line.substr(sp1 + 5));
  }
  while (!rest.empty()) {
    std::string_view line = next_line();
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      throw wire_error("bad header line '" + std::string(line) + "'");
    r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
  }

  if (head || r.status / 100 == 1 || r.status == 204 || r.status == 304) return r;
  auto te = r.header("Transfer-Encoding");
  if (te && te->find("chunked") != std::string::npos) {
    for (;;) {
      std::string size_line = _conn.read_until("\r\n", remaining(deadline));
      std::string_view sv(size_line);
      sv.remove_suffix(2);
      sv = sv.substr(0, sv.find(';'));
      std::size_t n = parse_size(sv, 16, "chunk size");
      if (n == 0) {
        while (_conn.read_until("\r\n", remaining(deadline)) != "\r\n") {
        }  // trailers
        return r;
      }
      r.body += _conn.read_exact(n, remaining(deadline));
      if (_conn.read_exact(2, remaining(deadline)) != "\r\n") throw wire_error("chunk without CRLF");
    }
  }
  if (auto cl = r.header("Content-Length")) {
    r.body = _conn.read_exact(parse_size(*cl, 10, "Content-Length"), remaining(deadline));
    return r;
  }
  r.body = _conn.read_to_eof(remaining(deadline));
  return r;
}

http_response http_client::request(std::string_view method, std::string_view target,
                                   std::string_view body, const std::vector<std::string>& extra_headers,
                                   milliseconds timeout) {
  send_request(method, target, body, extra_headers);
  return read_response(timeout, method == "HEAD");
}

http_response http_client::get(std::string_view target, milliseconds timeout) {
  return request("GET", target, {}, {}, timeout);
}

http_response http_client::post(std::string_view target, std::string_view body, milliseconds timeout) {
  return request("POST", target, body, {}, timeout);
}

http_response http_get(std::uint16_t port, std::string_view target, milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  http_client c(port, timeout);
  return c.request("GET", target, {}, {"Connection: close"}, remaining(deadline));
}

}  // namespace nsqd::test
