#pragma once
// connection: one accepted TCP socket as its protocol coroutine sees it.
//
// Owned by the connection's coroutine on the shard that accepted it, for its whole life.
// Input: bytes land in a buffer the protocol parses in place (no copy per command). A
// connection holds no buffer while it is idle: it takes a small one when it reads, which
// doubles up to its working size (16 KB) while recvs fill all the room they are offered, and
// beyond only for a longer line. It gives the buffer back when nothing was buffered for
// `idle_after` (the wait goes on as a poll, which holds no memory): 10,000 idle clients cost
// no 16 KB each. Output: the protocol appends frames to out() and
// flush() sends them with as few sends as the kernel allows. All reads obey the read
// timeout, if set, and the coroutine's cancellation (both end the connection: a peer that
// hangs up, times out or is cancelled is a normal end, not an error).
//
// Compression (V2 IDENTIFY upgrade): once set_compression() is called, received bytes pass
// through the decoder before they reach buffered() (the parser does not change), and
// wire_bytes() compresses what is about to be sent. Without it, reads land straight in the
// buffer or the caller's memory and wire_bytes() returns its input: no extra copy.
//
// TLS (V2 IDENTIFY tls_v1, HTTPS): start_tls() runs the server handshake; from then on TLS
// sits under compression: received records are decrypted before the decoder sees them, and
// wire_bytes() compresses, then encrypts. What the TLS session must send on its own after the
// handshake (a KeyUpdate answer) goes out with the next wire_bytes().

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/task.hpp"
#include "net/compression.hpp"
#include "net/socket.hpp"
#include "net/tls.hpp"

namespace nsqd::net {

class connection {
 public:
  explicit connection(unique_fd fd, size_t working_buffer = 16 * 1024);

  // How long a plain connection waits with an empty input buffer before it gives it back.
  static constexpr std::chrono::nanoseconds idle_after = std::chrono::seconds(1);
  // Bytes of input buffer held now (0 while idle). For tests.
  size_t input_capacity() const noexcept { return _in.capacity(); }

  int fd() const noexcept { return _fd.get(); }
  const std::string& remote_address() const noexcept { return _remote; }

  // 0 = no timeout. Applies to each recv.
  void set_read_timeout(std::chrono::nanoseconds t) noexcept { _read_timeout = t; }

  // ---- input ----
  // Bytes received and not yet consumed.
  std::string_view buffered() const noexcept {
    return {_in.data() + _begin, _end - _begin};
  }
  void consume(size_t n) noexcept;
  // Waits until at least n bytes are buffered. False when the peer closed, the read timed
  // out, the coroutine was cancelled or recv failed (last_error() tells which).
  core::task<bool> fill(size_t n);
  // Waits for a '\n' among the first `limit` buffered bytes and returns the line without it
  // (the caller consumes line.size() + 1 when done with it). nullopt when the stream ended
  // first, or when `limit` bytes are buffered without a '\n' (line_too_long() then says so).
  core::task<std::optional<std::string_view>> read_line(size_t limit);
  // Reads exactly n bytes into dst: the buffered ones first (consumed), then more (straight
  // from the socket into dst when not compressed). False as fill() is.
  core::task<bool> read_exact(char* dst, size_t n);
  bool line_too_long() const noexcept { return _too_long; }
  // Before closing after an answer that ends the connection while the peer may still be
  // sending (a V2 client on the HTTP port, a body refused from its Content-Length): shuts
  // down writing and reads and drops what comes, until the peer closes, `linger` passes or
  // `max_bytes` came. Closing with unread input would reset the connection, and the peer
  // could lose the answer.
  core::task<void> close_gently(std::chrono::nanoseconds linger, size_t max_bytes);
  // Why the last read or flush failed: 0 (peer closed or ended its compressed stream), the
  // errno of the failed recv/send (ETIMEDOUT, ECANCELED, ...), or EPROTO (corrupt
  // compressed stream).
  int last_error() const noexcept { return _last_error; }

  // ---- compression ----
  // Switches both directions to a compressed stream. Bytes already buffered and not consumed
  // are the start of the compressed stream (a client may pipeline after the upgrade command).
  // Call it only when no send is in progress.
  void set_compression(std::unique_ptr<stream_decoder> decoder, std::unique_ptr<stream_encoder> encoder);
  bool compressed() const noexcept { return _encoder != nullptr; }

  // ---- TLS ----
  // A TLS handshake over this socket, within `timeout` (upstream: 5 s): the server's with a
  // server context (bytes already buffered and not consumed are the start of the client's
  // handshake), the client's with a client context (`server_name`: SNI and the name the
  // certificate must carry). Call it only when no send is in progress and none starts until
  // it returns. On success the connection is TLS from now on, and "" is returned; else the
  // reason, in Go's words where Go has them (the alert, if any, was sent) and the connection
  // stays plain.
  core::task<std::string> start_tls(const tls_context& context, std::chrono::nanoseconds timeout,
                                    std::string_view server_name = {});
  // What a client is given for its handshake, on V2 and HTTPS alike (upstream's V2 deadline).
  static constexpr std::chrono::nanoseconds server_handshake_timeout = std::chrono::seconds(5);
  // The session once start_tls() succeeded (version, cipher, peer certificate), else null.
  const tls_session* tls() const noexcept { return _tls.get(); }

  // ---- output ----
  std::string& out() noexcept { return _out; }
  // Sends all of out() (compressed, if set) and clears it. False if the send failed.
  core::task<bool> flush();
  // What goes on the wire for `data`: `data` itself, or its compressed and/or encrypted form
  // (valid until the next call). Every byte sent on this connection must pass through here
  // exactly once, in order, once compression or TLS may be on. Empty (with last_error()
  // EPROTO) if the TLS session has failed.
  std::string_view wire_bytes(std::string_view data);

 private:
  // Plaintext from the TLS session into [dst, dst + cap), receiving records as needed (with
  // the read timeout): > 0 bytes, 0 at EOF or close_notify, -EPROTO for a broken TLS stream,
  // or -errno.
  core::task<int> receive_tls(char* dst, size_t cap);
  core::task<bool> receive_more();
  // A plain recv into the buffer (allocated here when it was given back), as receive_more()
  // uses it: when nothing is buffered and it stays quiet for idle_after, the buffer goes and
  // the wait goes on without it.
  core::task<int> receive_plain();
  void take_buffer() { _in.resize(std::min(first_buffer, _in_working)); }
  void give_buffer_back() noexcept {
    std::vector<char>().swap(_in);
    _begin = _end = _scanned = 0;
  }
  static constexpr size_t first_buffer = 512;
  // Decompresses at least one byte into dst, receiving as needed. > 0, or 0 with
  // _last_error set when the stream ended or failed.
  core::task<size_t> decode_some(char* dst, size_t cap);

  unique_fd _fd;
  std::string _remote;
  std::vector<char> _in;  // empty while given back
  size_t _in_working;     // the size it doubles to while recvs fill it
  bool _recv_filled = false;  // the last receive filled all the room it was offered
  size_t _begin = 0;
  size_t _end = 0;
  size_t _scanned = 0;  // bytes after _begin already searched for '\n'
  std::string _out;
  std::chrono::nanoseconds _read_timeout{0};
  int _last_error = 0;
  bool _too_long = false;
  std::unique_ptr<stream_decoder> _decoder;  // both set, or neither
  std::unique_ptr<stream_encoder> _encoder;
  std::string _packed;  // the last wire_bytes() result, when compressed
  std::unique_ptr<tls_session> _tls;  // set once start_tls() succeeded
  std::string _sealed;                // the last wire_bytes() result, under TLS
  std::vector<char> _tls_in;          // records received, before the session decrypts them
};

}  // namespace nsqd::net
