#pragma once
// The client side of nsqd's TCP protocol V2 (SPEC B.1, B.2): a blocking connection that sends
// command bytes and hands back server frames one at a time.
//
// A `connection` belongs to one thread. Reads go through its own buffer (256 KiB, grown for a
// larger frame), so a burst of message frames costs one recv(). Send failures and the peer
// hanging up are reported by return value with `error()` explaining; opening a connection
// throws std::runtime_error (it is start-up).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/endian/conversion.hpp>
#include <openssl/types.h>

namespace nsqd::nsq_bench {

// --- big-endian helpers (unaligned) -------------------------------------------------------

inline void put_u32(char* out, std::uint32_t v) {
  boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(out), v);
}
inline void put_u64(char* out, std::uint64_t v) {
  boost::endian::store_big_u64(reinterpret_cast<unsigned char*>(out), v);
}
inline std::uint16_t get_u16(const char* in) {
  return boost::endian::load_big_u16(reinterpret_cast<const unsigned char*>(in));
}
inline std::uint32_t get_u32(const char* in) {
  return boost::endian::load_big_u32(reinterpret_cast<const unsigned char*>(in));
}
inline std::uint64_t get_u64(const char* in) {
  return boost::endian::load_big_u64(reinterpret_cast<const unsigned char*>(in));
}

// --- frames --------------------------------------------------------------------------------

enum class frame_type : std::int32_t { response = 0, error = 1, message = 2 };

// One server frame. `data` points into the connection's buffer: valid until its next read.
struct frame {
  frame_type type = frame_type::response;
  std::string_view data;
};

inline constexpr std::string_view heartbeat_data = "_heartbeat_";

// A message frame's data (SPEC B.2): 26-byte header, then the body.
inline constexpr std::size_t message_header_size = 26;
struct message_view {
  std::uint64_t timestamp_ns;  // set by nsqd at publish
  std::uint16_t attempts;
  std::string_view id;         // 16 hex chars
  std::string_view body;
};
// Splits a message frame's data; false if it is shorter than the header.
bool parse_message(std::string_view data, message_view& out);

// --- commands (appended to a caller-owned buffer) ------------------------------------------

void append_identify(std::string& out, std::string_view json);
void append_sub(std::string& out, std::string_view topic, std::string_view channel);
void append_rdy(std::string& out, unsigned count);
void append_fin(std::string& out, std::string_view id);
inline void append_nop(std::string& out) { out.append("NOP\n"); }
inline void append_cls(std::string& out) { out.append("CLS\n"); }
// PUB/MPUB are laid out by the publisher (publisher.cpp), which stamps bodies in place.

// --- TLS -----------------------------------------------------------------------------------

// A client context for --tls: any server certificate is accepted (a load generator, not a
// client to trust). Lives for the process.
SSL_CTX* insecure_tls_context();

// --- the connection ------------------------------------------------------------------------

class connection {
 public:
  enum class read_status { frame, timeout, closed };

  // Connects (TCP_NODELAY) and sends the "  V2" magic. Throws std::runtime_error.
  static connection open(const std::string& host, std::uint16_t port);
  // Takes ownership of a connected stream socket as is (tests use a socketpair).
  explicit connection(int fd);

  connection(connection&& other) noexcept;
  connection& operator=(connection&&) = delete;
  connection(const connection&) = delete;
  ~connection();

  // Writes every byte (blocking); false once the peer is gone.
  bool send_all(std::string_view bytes);

  // The client side of a TLS handshake (after IDENTIFY's tls_v1 answer, with nothing else
  // buffered); from then on every byte goes through TLS. False with error() set on failure.
  bool start_tls(SSL_CTX* context);

  // The next frame into `out`. Waits at most `timeout` for bytes when none is buffered
  // (0: do not wait at all). `closed` covers EOF, socket errors and malformed frames.
  read_status next_frame(frame& out, std::chrono::microseconds timeout);

  // Whether a whole frame is already buffered: next_frame() will not touch the socket.
  bool has_frame() const;

  // Why the last send_all/next_frame failed.
  const std::string& error() const { return _error; }

 private:
  bool fill(std::chrono::microseconds timeout, read_status& status);

  // One read into [dst, dst + cap): > 0 bytes, 0 at EOF, -1 with errno set (EAGAIN: timed
  // out, or nothing yet with `dont_wait`).
  long read_some(char* dst, std::size_t cap, bool dont_wait);

  int _fd = -1;
  SSL* _ssl = nullptr;  // after start_tls()
  std::vector<char> _buf;
  std::size_t _begin = 0;  // first unparsed byte
  std::size_t _end = 0;    // one past the last received byte
  long _timeout_us = -1;   // SO_RCVTIMEO currently set, microseconds (-1: none yet)
  std::string _error;
};

// Reads the answer to a handshake command (IDENTIFY, SUB, ...), skipping heartbeats, within
// `timeout`; false with `error` set on an error frame, a timeout or a closed connection.
bool await_response(connection& c, frame& f, std::string& error, std::chrono::microseconds timeout);

// After a feature-negotiating IDENTIFY whose answer is `answer`: with `tls`, checks that nsqd
// agreed to tls_v1, runs the handshake and reads its "OK". False with `error` set.
bool finish_identify(connection& c, std::string_view answer, SSL_CTX* tls, std::string& error,
                     std::chrono::microseconds timeout);

}  // namespace nsqd::nsq_bench
