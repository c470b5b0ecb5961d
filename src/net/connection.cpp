#include "net/connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "core/io.hpp"

namespace nsqd::net {

namespace {

constexpr size_t compressed_recv_size = 16 * 1024;  // per recv into the decoder
constexpr size_t tls_recv_size = 16 * 1024 + 512;   // one TLS record with its overhead
constexpr size_t keep_capacity = 1024 * 1024;       // _packed shrinks back after a burst

// Go's words for a handshake that could not finish (what upstream logs).
std::string handshake_io_error(int rc) {
  if (rc == 0) return "EOF";
  if (rc == -ETIMEDOUT) return "i/o timeout";
  return std::strerror(-rc);
}

}  // namespace

connection::connection(unique_fd fd, size_t working_buffer)
    : _fd(std::move(fd)), _remote(peer_name(_fd.get())), _in_working(working_buffer) {}

void connection::consume(size_t n) noexcept {
  _begin += n;
  _scanned = _scanned > n ? _scanned - n : 0;
  if (_begin == _end) _begin = _end = _scanned = 0;
}

core::task<bool> connection::receive_more() {
  if (_in.empty()) {
    take_buffer();
  } else if (_recv_filled && _in.size() < _in_working) {
    _in.resize(_in.size() * 2);  // traffic: the last recv filled all it was offered
  }
  if (_end == _in.size()) {
    if (_begin > 0) {  // slide the unconsumed tail to the front
      std::memmove(_in.data(), _in.data() + _begin, _end - _begin);
      _end -= _begin;
      _begin = 0;
    } else {
      _in.resize(_in.size() * 2);  // a line longer than the buffer
    }
  }
  const size_t room = _in.size() - _end;
  if (_decoder) {
    size_t got = co_await decode_some(_in.data() + _end, room);
    if (got == 0) co_return false;
    _end += got;
    _recv_filled = got == room;
    co_return true;
  }
  int n;
  if (_tls)
    n = co_await receive_tls(_in.data() + _end, room);
  else
    n = co_await receive_plain();
  if (n <= 0) {
    _last_error = n == 0 ? 0 : -n;
    co_return false;
  }
  _end += size_t(n);
  _recv_filled = size_t(n) == room;
  co_return true;
}

core::task<int> connection::receive_plain() {
  const int fd = _fd.get();
  const auto timeout = _read_timeout;
  if (_end > _begin || (timeout.count() > 0 && timeout <= idle_after)) {
    int n;
    if (timeout.count() > 0)
      n = co_await core::recv(fd, _in.data() + _end, _in.size() - _end).timeout(timeout);
    else
      n = co_await core::recv(fd, _in.data() + _end, _in.size() - _end);
    co_return n;
  }
  // Nothing buffered: wait at most idle_after with the buffer (for a V2 client this linked
  // timer replaces the read timeout's, so it costs nothing more).
  _begin = _end = _scanned = 0;
  int n = co_await core::recv(fd, _in.data(), _in.size()).timeout(idle_after);
  if (n != -ETIMEDOUT) co_return n;
  // Quiet: the buffer goes back, and the wait goes on as a poll, which holds no memory.
  give_buffer_back();
  const auto until = core::clock::now() + (timeout - idle_after);
  for (;;) {
    int ready = -ETIMEDOUT;
    if (timeout.count() == 0)
      ready = co_await core::poll_in(fd);
    else if (const auto left = until - core::clock::now(); left.count() > 0)
      ready = co_await core::poll_in(fd).timeout(left);
    if (ready < 0) co_return ready;
    take_buffer();
    n = co_await core::recv(fd, _in.data(), _in.size(), MSG_DONTWAIT);
    if (n != -EAGAIN) co_return n;
    give_buffer_back();  // woken for nothing: wait on without it
  }
}

core::task<int> connection::receive_tls(char* dst, size_t cap) {
  for (;;) {
    const std::ptrdiff_t got = _tls->read(dst, cap);
    if (got > 0) co_return int(got);
    if (got == tls_session::closed) co_return 0;
    if (got == tls_session::failed) co_return -EPROTO;
    char* into = _tls_in.data();
    int n;
    if (_read_timeout.count() > 0)
      n = co_await core::recv(_fd.get(), into, _tls_in.size()).timeout(_read_timeout);
    else
      n = co_await core::recv(_fd.get(), into, _tls_in.size());
    if (n <= 0) co_return n;
    _tls->feed({into, size_t(n)});
  }
}

core::task<std::string> connection::start_tls(const tls_context& context, std::chrono::nanoseconds timeout,
                                              std::string_view server_name) {
  auto session = std::make_unique<tls_session>(context, server_name);
  if (_end > _begin) session->feed({_in.data() + _begin, _end - _begin});
  _begin = _end = _scanned = 0;
  const auto until = core::clock::now() + timeout;
  std::vector<char> in(tls_recv_size);
  for (;;) {
    const tls_handshake step = session->handshake();
    // What the session wrote (its flight, or the alert that says why it failed) goes first.
    while (!session->pending_output().empty()) {
      const std::string_view out = session->pending_output();
      const auto left = until - core::clock::now();
      int n = -ETIMEDOUT;
      if (left.count() > 0) n = co_await core::send(_fd.get(), out.data(), out.size()).timeout(left);
      if (n <= 0) co_return handshake_io_error(n == 0 ? -EPIPE : n);
      session->consume_output(size_t(n));
    }
    if (step == tls_handshake::done) break;
    if (step == tls_handshake::failed) co_return session->error();
    const auto left = until - core::clock::now();
    int n = -ETIMEDOUT;
    if (left.count() > 0) n = co_await core::recv(_fd.get(), in.data(), in.size()).timeout(left);
    if (n <= 0) co_return handshake_io_error(n);
    session->feed({in.data(), size_t(n)});
  }
  _tls = std::move(session);
  _tls_in = std::move(in);
  co_return std::string();
}

core::task<size_t> connection::decode_some(char* dst, size_t cap) {
  for (;;) {
    std::ptrdiff_t got = _decoder->read(dst, cap);
    if (got > 0) co_return size_t(got);
    if (got != stream_decoder::need_input) {
      _last_error = got == stream_decoder::corrupt ? EPROTO : 0;
      co_return 0;
    }
    char* into = _decoder->prepare(compressed_recv_size);
    int n;
    if (_tls)
      n = co_await receive_tls(into, compressed_recv_size);
    else if (_read_timeout.count() > 0)
      n = co_await core::recv(_fd.get(), into, compressed_recv_size).timeout(_read_timeout);
    else
      n = co_await core::recv(_fd.get(), into, compressed_recv_size);
    if (n <= 0) {
      _last_error = n == 0 ? 0 : -n;
      co_return 0;
    }
    _decoder->commit(size_t(n));
  }
}

core::task<bool> connection::fill(size_t n) {
  if (_in.empty()) take_buffer();
  if (_in.size() < n) {
    std::vector<char> bigger(n);
    std::memcpy(bigger.data(), _in.data() + _begin, _end - _begin);
    _end -= _begin;
    _begin = 0;
    _in.swap(bigger);
  } else if (_in.size() - _begin < n) {
    std::memmove(_in.data(), _in.data() + _begin, _end - _begin);
    _end -= _begin;
    _begin = 0;
  }
  // (GCC 12 miscompiles some coroutines with co_await inside a condition: keep it a statement.)
  while (_end - _begin < n) {
    bool more = co_await receive_more();
    if (!more) co_return false;
  }
  co_return true;
}

core::task<void> connection::close_gently(std::chrono::nanoseconds linger, size_t max_bytes) {
  ::shutdown(_fd.get(), SHUT_WR);
  const auto until = core::clock::now() + linger;
  size_t dropped = 0;
  for (;;) {
    dropped += _end - _begin;
    consume(_end - _begin);
    const auto now = core::clock::now();
    if (dropped >= max_bytes || now >= until) break;
    set_read_timeout(until - now);
    const bool more = co_await fill(1);
    if (!more) break;  // the peer closed (or the node is stopping)
  }
}

core::task<std::optional<std::string_view>> connection::read_line(size_t limit) {
  _too_long = false;
  for (;;) {
    size_t have = _end - _begin;
    size_t upto = have < limit ? have : limit;
    if (upto > _scanned) {
      const char* start = _in.data() + _begin;
      if (auto* nl = static_cast<const char*>(std::memchr(start + _scanned, '\n', upto - _scanned))) {
        _scanned = 0;
        co_return std::string_view(start, size_t(nl - start));
      }
      _scanned = upto;
    }
    if (have >= limit) {
      _too_long = true;
      co_return std::nullopt;
    }
    if (_in.empty()) take_buffer();
    if (_in.size() - _begin < limit && _end == _in.size()) {
      // Make room for a whole line before reading more.
      std::memmove(_in.data(), _in.data() + _begin, have);
      _begin = 0;
      _end = have;
      if (_in.size() < limit) _in.resize(limit);
    }
    bool more = co_await receive_more();
    if (!more) co_return std::nullopt;
  }
}

core::task<bool> connection::read_exact(char* dst, size_t n) {
  const size_t got_buffered = std::min(_end - _begin, n);
  if (got_buffered > 0) std::memcpy(dst, _in.data() + _begin, got_buffered);
  consume(got_buffered);
  size_t got = got_buffered;
  while (got < n) {
    if (_decoder) {
      size_t k = co_await decode_some(dst + got, n - got);
      if (k == 0) co_return false;
      got += k;
      continue;
    }
    int r;
    if (_tls)
      r = co_await receive_tls(dst + got, n - got);
    else if (_read_timeout.count() > 0)
      r = co_await core::recv(_fd.get(), dst + got, n - got).timeout(_read_timeout);
    else
      r = co_await core::recv(_fd.get(), dst + got, n - got);
    if (r <= 0) {
      _last_error = r == 0 ? 0 : -r;
      co_return false;
    }
    got += size_t(r);
  }
  co_return true;
}

void connection::set_compression(std::unique_ptr<stream_decoder> decoder,
                                 std::unique_ptr<stream_encoder> encoder) {
  _decoder = std::move(decoder);
  _encoder = std::move(encoder);
  if (_end > _begin) _decoder->feed({_in.data() + _begin, _end - _begin});
  _begin = _end = _scanned = 0;
}

std::string_view connection::wire_bytes(std::string_view data) {
  if (_encoder) {
    _packed.clear();
    if (_packed.capacity() > keep_capacity && data.size() < keep_capacity / 2) _packed.shrink_to_fit();
    _encoder->encode(data, _packed);
    data = _packed;
  }
  if (!_tls) return data;
  if (!_tls->write(data)) {  // the session failed: the reader ends the connection
    _last_error = EPROTO;
    return {};
  }
  _tls->take_output(_sealed);
  return _sealed;
}

core::task<bool> connection::flush() {
  const std::string_view data = wire_bytes(_out);
  size_t sent = 0;
  while (sent < data.size()) {
    int n = co_await core::send(_fd.get(), data.data() + sent, data.size() - sent);
    if (n <= 0) {
      _last_error = n == 0 ? EPIPE : -n;
      _out.clear();
      co_return false;
    }
    sent += size_t(n);
  }
  _out.clear();
  co_return true;
}

}  // namespace nsqd::net
