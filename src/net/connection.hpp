#pragma once
// connection: one accepted TCP socket as its protocol coroutine sees it.
//
// Owned by the connection's coroutine on the shard that accepted it, for its whole life.
// Input: bytes land in a buffer the protocol parses in place (no copy per command); the
// buffer grows only for a large body. Output: the protocol appends frames to out() and
// flush() sends them with as few sends as the kernel allows. All reads obey the read
// timeout, if set, and the coroutine's cancellation (both end the connection: a peer that
// hangs up, times out or is cancelled is a normal end, not an error).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/task.hpp"
#include "net/socket.hpp"

namespace nsqd::net {

class connection {
 public:
  explicit connection(unique_fd fd, size_t initial_buffer = 16 * 1024);

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
  bool line_too_long() const noexcept { return _too_long; }
  int last_error() const noexcept { return _last_error; }

  // ---- output ----
  std::string& out() noexcept { return _out; }
  // Sends all of out() and clears it. False if the send failed (peer gone).
  core::task<bool> flush();

 private:
  core::task<bool> receive_more();

  unique_fd _fd;
  std::string _remote;
  std::vector<char> _in;
  size_t _begin = 0;
  size_t _end = 0;
  size_t _scanned = 0;  // bytes after _begin already searched for '\n'
  std::string _out;
  std::chrono::nanoseconds _read_timeout{0};
  int _last_error = 0;
  bool _too_long = false;
};

}  // namespace nsqd::net
