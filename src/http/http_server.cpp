#include "http/http_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <optional>
#include <string>

#include "core/io.hpp"
#include "http/http_api.hpp"
#include "net/accept_loop.hpp"
#include "net/connection.hpp"
#include "net/http_codec.hpp"

namespace nsqd::http {

namespace {

constexpr std::size_t read_buffer_size = 4096;
// Buffered bytes past which a head still incomplete moves to the side buffer, so that the
// connection's own buffer never has to grow (it would, a byte at a time, when full).
constexpr std::size_t carry_threshold = read_buffer_size / 2;
// Answers to pipelined requests are sent once this much waits, not only when input runs out.
constexpr std::size_t flush_threshold = 64 * 1024;
// Buffers above this are given back after use instead of kept for the next request.
constexpr std::size_t keep_capacity = 64 * 1024;
// How long a kept-alive connection may wait for its next request. Upstream never closes idle
// connections; this is longer than HTTP clients keep theirs idle (Go's transport: 90 s), so a
// client rarely sends a request on a connection we are closing.
constexpr std::chrono::nanoseconds idle_timeout = std::chrono::minutes(5);
// After an answer that ends the connection: how long, and how many bytes, to read and drop
// before closing (net::connection::close_gently), so that the peer reads the answer.
constexpr std::chrono::nanoseconds close_linger = std::chrono::seconds(1);
constexpr std::size_t close_drain_limit = 64 * 1024 * 1024;
constexpr std::chrono::nanoseconds handshake_timeout = net::connection::server_handshake_timeout;

// Go's net/http: a TLS listener that receives a record header that reads like the start of
// an HTTP request answers this, plain, and closes.
bool looks_like_http(std::string_view first5) {
  for (std::string_view m : {"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"})
    if (first5 == m) return true;
  return false;
}
constexpr std::string_view http_to_https_answer =
    "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

void release(std::string& s) {
  if (s.capacity() > keep_capacity)
    std::string().swap(s);
  else
    s.clear();
}

// The bytes of one connection not parsed yet: the connection's buffer or, while a request head
// spans more than it comfortably holds, a side buffer (`carry`) that is let go once consumed.
class request_input {
 public:
  explicit request_input(net::connection& conn) : _conn(conn) {}

  std::string_view data() const {
    return _carry.empty() ? _conn.buffered() : std::string_view(_carry).substr(_carry_pos);
  }

  void consume(std::size_t n) {
    if (_carry.empty()) return _conn.consume(n);
    _carry_pos += n;
    if (_carry_pos == _carry.size()) {
      release(_carry);
      _carry_pos = 0;
    }
  }

  // Waits for more bytes; false when the peer closed, the read timed out or was cancelled.
  core::task<bool> more() {
    if (_carry.empty() && _conn.buffered().size() < carry_threshold) {
      const bool ok = co_await _conn.fill(_conn.buffered().size() + 1);
      co_return ok;
    }
    if (_carry_pos > 0) {
      _carry.erase(0, _carry_pos);
      _carry_pos = 0;
    }
    take_buffered();
    const bool ok = co_await _conn.fill(1);
    if (ok) take_buffered();
    co_return ok;
  }

 private:
  void take_buffered() {
    _carry.append(_conn.buffered());
    _conn.consume(_conn.buffered().size());
  }

  net::connection& _conn;
  std::string _carry;
  std::size_t _carry_pos = 0;
};

// Sends all of conn.out() (each send bounded by `timeout`) and empties it. False if the peer
// is gone or does not read.
core::task<bool> send_output(net::connection& conn, std::chrono::nanoseconds timeout) {
  std::string& out = conn.out();
  const std::string_view data = conn.wire_bytes(out);  // encrypted, on HTTPS
  std::size_t sent = 0;
  bool ok = true;
  while (sent < data.size()) {
    const int n = co_await core::send(conn.fd(), data.data() + sent, data.size() - sent).timeout(timeout);
    if (n <= 0) {
      ok = false;
      break;
    }
    sent += static_cast<std::size_t>(n);
  }
  release(out);
  co_return ok;
}

std::string now_date() { return net::http_date(std::chrono::system_clock::now()); }

// The server handshake of an HTTPS connection; false when it ended the connection.
core::task<bool> start_https(net::connection& conn, const net::tls_context& tls, const core::logger& log) {
  conn.set_read_timeout(handshake_timeout);
  const bool got = co_await conn.fill(5);
  if (!got) co_return false;
  if (looks_like_http(conn.buffered().substr(0, 5))) {
    co_await core::send(conn.fd(), http_to_https_answer.data(), http_to_https_answer.size()).timeout(handshake_timeout);
    co_return false;
  }
  const std::string failed = co_await conn.start_tls(tls, handshake_timeout);
  if (failed.empty()) co_return true;
  log.warn("http: TLS handshake error from ", conn.remote_address(), ": ", failed);  // as Go's ErrorLog
  co_return false;
}

core::task<void> serve_connection(int fd, http_api* api, const net::tls_context* tls) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  net::connection conn{net::unique_fd(fd), read_buffer_size};
  if (tls) {
    const bool secure = co_await start_https(conn, *tls, api->log());
    if (!secure) co_return;
  }
  request_input in(conn);
  net::http_request_reader reader;
  // A client in the middle of a request (or not reading our answers) is dropped after this.
  const std::chrono::nanoseconds timeout = api->opts().client_timeout;
  const std::string& remote = conn.remote_address();
  std::optional<core::clock::time_point> head_deadline;  // set while a head is arriving
  bool in_body = false;

  for (;;) {
    const auto [used, event] = reader.parse(in.data());
    in.consume(used);

    if (event == net::http_event::need_more) {
      // Answers already made go out before waiting for more input.
      if (!conn.out().empty()) {
        const bool sent = co_await send_output(conn, timeout);
        if (!sent) co_return;
      }
      std::chrono::nanoseconds wait = in_body ? timeout : idle_timeout;
      if (!reader.idle() && !in_body) {
        const auto now = core::clock::now();
        if (!head_deadline) head_deadline = now + timeout;
        if (now >= *head_deadline) co_return;  // a head trickling in: drop it
        wait = *head_deadline - now;
      }
      conn.set_read_timeout(wait);
      const bool more = co_await in.more();
      if (!more) co_return;  // hung up, stalled or shutting down
      continue;
    }

    if (event == net::http_event::header) {
      head_deadline.reset();
      in_body = true;
      const net::http_request& req = reader.request();
      if (!reader.set_body_limit(api->body_limit(req))) {
        // Refused from Content-Length alone: the body is never read.
        net::http_response resp = co_await api->handle_oversized(req, remote);
        net::write_http_response(conn.out(), resp, req, now_date(), true);
        break;
      }
      if (req.expects_continue()) net::write_http_continue(conn.out());
      continue;
    }

    if (event == net::http_event::request) {
      in_body = false;
      const net::http_request req = reader.take();
      const net::http_response resp = co_await api->handle(req, remote);
      if (!net::write_http_response(conn.out(), resp, req, now_date())) break;
      if (conn.out().size() >= flush_threshold) {
        const bool sent = co_await send_output(conn, timeout);
        if (!sent) co_return;
      }
      continue;
    }

    // http_event::error: the stream cannot go on.
    const net::http_parse_error& err = reader.error();
    if (err.kind == net::http_error_kind::body_too_large) {
      const net::http_request& req = reader.request();
      net::http_response resp = co_await api->handle_oversized(req, remote);
      net::write_http_response(conn.out(), resp, req, now_date(), true);
    } else {
      api->log().debug("HTTP: ", err.status(), " for malformed request from ", remote);
      net::write_http_error(conn.out(), err, now_date());
    }
    break;
  }
  const bool sent = co_await send_output(conn, timeout);
  if (sent) co_await conn.close_gently(close_linger, close_drain_limit);
}

}  // namespace

core::task<void> serve_http(int listener_fd, broker::broker_shard& broker, http_shared& shared,
                            const net::tls_context* tls) {
  http_api api(broker, shared, tls != nullptr);
  co_await net::accept_loop(listener_fd, broker.log(), tls ? "HTTPS" : "HTTP",
                            [&api, tls](int fd) { return serve_connection(fd, &api, tls); });
}

}  // namespace nsqd::http
