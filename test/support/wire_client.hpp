#pragma once
// Black-box test clients: a blocking TCP connection that speaks NSQ V2 frames, and a minimal
// HTTP/1.1 client on a kept-alive connection. Every read takes a timeout, so a silent or
// hung server fails a test instead of hanging it.
//
//   wire_client c(nsqd.tcp_port());
//   c.send_magic();
//   c.send_command("FOO");
//   BOOST_TEST(c.read_frame() == (frame{frame_error, "E_INVALID invalid command FOO"}));
//   BOOST_TEST(c.expect_closed());
//
//   http_client h(nsqd.http_port());
//   http_response r = h.get("/ping");   // r.status == 200, r.body == "OK"
//
// Failures the test did not ask for (timeouts in strict reads, EOF mid-frame, malformed
// responses) throw wire_error. Sockets are close-on-exec; sends use MSG_NOSIGNAL.
// Not thread-safe: one object, one thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nsqd::test {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

struct wire_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Frame types of the V2 protocol.
enum frame_type : std::int32_t { frame_response = 0, frame_error = 1, frame_message = 2 };

// One server->client frame: [int32 BE size][int32 BE type][data], size = 4 + data size.
struct frame {
  std::int32_t type = 0;
  std::string data;
  bool operator==(const frame&) const = default;
};
std::ostream& operator<<(std::ostream& os, const frame& f);  // for BOOST_TEST

// One time budget shared by many reads, so that a loop over many connections stays bounded
// when the server hangs:  deadline d(5s); for (auto& c : conns) c.read_frame(d.left());
class deadline {
 public:
  explicit deadline(milliseconds from_now) : _at(std::chrono::steady_clock::now() + from_now) {}
  milliseconds left() const;  // 0 once passed (a read then only takes what already arrived)
  bool passed() const { return std::chrono::steady_clock::now() >= _at; }

 private:
  std::chrono::steady_clock::time_point _at;
};

// [int32 BE n]
std::string be32(std::uint32_t n);
// The big-endian unsigned integer of `n` bytes at `at` of `s`.
std::uint64_t load_be(std::string_view s, std::size_t at, std::size_t n);

// A message frame's data: [int64 ts][uint16 attempts][16-byte id][body].
struct wire_message {
  std::int64_t ts = 0;
  std::uint16_t attempts = 0;
  std::string id;
  std::string body;
};
// nullopt unless `f` is a message frame of at least the 26 header bytes.
std::optional<wire_message> parse_message(const frame& f);

class wire_client;
// The next message on `c` (heartbeats answered with NOP), or nullopt after `timeout`. Throws
// wire_error on any other frame.
std::optional<wire_message> next_message(wire_client& c, milliseconds timeout);

// A blocking TCP connection to 127.0.0.1:port (or `host`), with a read buffer.
// A layer between frames and the socket (TLS, compression: test/support/tls_client.hpp).
class wire_filter {
 public:
  virtual ~wire_filter() = default;
  // The bytes that go on the wire for `plain`.
  virtual std::string seal(std::string_view plain) = 0;
  // The plaintext in `received` (maybe none yet); throws wire_error for a broken stream.
  // `eof` is set when the stream ended (TLS close_notify).
  virtual std::string open(std::string_view received, bool& eof) = 0;
  // Bytes received before the filter was set and not consumed (maybe none): by default
  // open()'s input. (A filter that replaces another gets what that one already opened.)
  virtual std::string adopt(std::string_view buffered) {
    bool eof = false;
    return open(buffered, eof);
  }
};

class wire_client {
 public:
  // A connection to the unix socket at `path`; throws wire_error if refused.
  static wire_client unix_socket(const std::string& path);

  // Connects (with `timeout`); throws wire_error if refused or timed out.
  explicit wire_client(std::uint16_t port, milliseconds timeout = 5s,
                       const std::string& host = "127.0.0.1");
  ~wire_client();
  wire_client(wire_client&& other) noexcept;
  wire_client& operator=(wire_client&& other) noexcept;
  wire_client(const wire_client&) = delete;
  wire_client& operator=(const wire_client&) = delete;

  int fd() const { return _fd; }

  // Writes all bytes; throws wire_error if the peer is gone (EPIPE, ECONNRESET).
  void send(std::string_view bytes);
  // The 4-byte protocol magic, "  V2" by default.
  void send_magic(std::string_view magic = "  V2");
  // `line` + "\n", then, if given, the body as [int32 BE size][bytes]; all in one write.
  void send_command(std::string_view line, std::optional<std::string_view> body = {});

  // The next frame; throws wire_error on timeout, EOF or a malformed size.
  frame read_frame(milliseconds timeout = 5s);
  // The next frame, or nullopt if none arrived within `timeout`; throws wire_error on EOF
  // (use it to check that the server stays silent and the connection stays open).
  std::optional<frame> read_frame_within(milliseconds timeout);
  // Exactly n bytes; throws wire_error on timeout or EOF.
  std::string read_exact(std::size_t n, milliseconds timeout = 5s);
  // Up to the first `delimiter` inclusive; throws wire_error on timeout or EOF.
  std::string read_until(std::string_view delimiter, milliseconds timeout = 5s);
  // Everything until the peer closes; throws wire_error on timeout.
  std::string read_to_eof(milliseconds timeout = 5s);

  // True once the peer has closed (read returns 0 or ECONNRESET) within `timeout`. False on
  // timeout, and also as soon as unread bytes are pending (they stay in pending()).
  bool expect_closed(milliseconds timeout = 5s);
  // Received bytes not consumed yet.
  const std::string& pending() const { return _buffer; }

  // From now on every send goes through `filter` and every byte received comes out of it.
  // Bytes received before and not consumed yet are handed to the filter first.
  void set_filter(std::unique_ptr<wire_filter> filter);
  std::unique_ptr<wire_filter> release_filter() { return std::move(_filter); }
  // Without the filter: all of `bytes` to the socket; what one recv brings within `timeout`
  // ("" on timeout; throws wire_error on EOF).
  void send_raw(std::string_view bytes);
  std::string receive_raw(milliseconds timeout);

  // Half-close: no more sends (shutdown SHUT_WR).
  void shutdown_send();
  void close();

 private:
  wire_client() = default;  // for unix_socket()
  enum class fill_result { data, eof, timeout };
  // One recv into _buffer, waiting until `deadline`.
  fill_result fill(std::chrono::steady_clock::time_point deadline);

  int _fd = -1;
  std::string _buffer;
  std::unique_ptr<wire_filter> _filter;
};

// One HTTP response as received.
struct http_response {
  int status = 0;
  std::string version;  // "HTTP/1.1"
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, as sent
  std::string body;     // de-chunked if it was chunked

  // Value of the first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

// A kept-alive HTTP/1.1 connection to 127.0.0.1:port. Requests carry Host and (with a body)
// Content-Length; responses are parsed by Content-Length, chunked encoding, or (with
// neither) until the server closes. An independent parser on purpose: it is strict where a
// shared codec could be forgiving.
class http_client {
 public:
  explicit http_client(std::uint16_t port, milliseconds timeout = 5s);

  // Raw bytes, e.g. several pipelined requests in one write.
  void send_raw(std::string_view bytes);
  // Writes one request; `extra_headers` are full lines without CRLF ("Connection: close").
  void send_request(std::string_view method, std::string_view target, std::string_view body = {},
                    const std::vector<std::string>& extra_headers = {});
  // Reads one response; `head` for responses to HEAD (no body). Throws wire_error.
  http_response read_response(milliseconds timeout = 5s, bool head = false);

  http_response request(std::string_view method, std::string_view target,
                        std::string_view body = {}, const std::vector<std::string>& extra_headers = {},
                        milliseconds timeout = 5s);
  http_response get(std::string_view target, milliseconds timeout = 5s);
  http_response post(std::string_view target, std::string_view body = {},
                     milliseconds timeout = 5s);

  bool expect_closed(milliseconds timeout = 5s) { return _conn.expect_closed(timeout); }
  wire_client& connection() { return _conn; }

 private:
  std::uint16_t _port;
  wire_client _conn;
};

// Serializes one request the way http_client sends it.
std::string http_request_bytes(std::string_view method, std::string_view target,
                               std::string_view host, std::string_view body,
                               const std::vector<std::string>& extra_headers);

// One-shot GET on a fresh connection ("Connection: close"). Throws wire_error.
http_response http_get(std::uint16_t port, std::string_view target, milliseconds timeout = 5s);

}  // namespace nsqd::test
