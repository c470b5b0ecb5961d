#include "net/connection.hpp"

#include <cstring>

#include "core/io.hpp"

namespace nsqd::net {

connection::connection(unique_fd fd, size_t initial_buffer)
    : _fd(std::move(fd)), _remote(peer_name(_fd.get())), _in(initial_buffer) {}

void connection::consume(size_t n) noexcept {
  _begin += n;
  _scanned = _scanned > n ? _scanned - n : 0;
  if (_begin == _end) _begin = _end = _scanned = 0;
}

core::task<bool> connection::receive_more() {
  if (_end == _in.size()) {
    if (_begin > 0) {  // slide the unconsumed tail to the front
      std::memmove(_in.data(), _in.data() + _begin, _end - _begin);
      _end -= _begin;
      _begin = 0;
    } else {
      _in.resize(_in.size() * 2);
    }
  }
  int n;
  if (_read_timeout.count() > 0)
    n = co_await core::recv(_fd.get(), _in.data() + _end, _in.size() - _end).timeout(_read_timeout);
  else
    n = co_await core::recv(_fd.get(), _in.data() + _end, _in.size() - _end);
  if (n <= 0) {
    _last_error = n == 0 ? 0 : -n;
    co_return false;
  }
  _end += size_t(n);
  co_return true;
}

core::task<bool> connection::fill(size_t n) {
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

core::task<bool> connection::flush() {
  size_t sent = 0;
  while (sent < _out.size()) {
    int n = co_await core::send(_fd.get(), _out.data() + sent, _out.size() - sent);
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
