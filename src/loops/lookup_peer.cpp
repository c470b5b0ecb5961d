#include "loops/lookup_peer.hpp"

#include <sys/socket.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <stdexcept>

#include "core/cancel.hpp"
#include "core/io.hpp"
#include "go/go_syntax.hpp"
#include "net/big_endian.hpp"
#include "net/dial.hpp"
#include "net/socket.hpp"

namespace nsqd::loops {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto io_timeout = 1s;         // upstream's dial timeout and per-read/write deadline
constexpr auto retry_spacing = 1s;      // between connection attempts made by changes
constexpr std::size_t batch_size = 256;  // commands in flight at once (their answers fit any buffer)

bool cancelled(const core::promise_context& ctx) { return ctx.cancel && ctx.cancel->cancelled(); }

}  // namespace

std::optional<lookupd_info> parse_lookupd_info(std::string_view json) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return std::nullopt;
  lookupd_info info;
  for (const auto& [key, value] : v.as_object()) {
    // Go's json.Unmarshal: a field of the wrong type is an error; unknown keys are ignored.
    if (key == "tcp_port" || key == "http_port") {
      if (!value.is_int64() && !value.is_uint64()) return std::nullopt;
      (key == "tcp_port" ? info.tcp_port : info.http_port) = value.to_number<std::int64_t>();
    } else if (key == "version" || key == "broadcast_address") {
      if (!value.is_string()) return std::nullopt;
      (key == "version" ? info.version : info.broadcast_address) = std::string(value.as_string());
    }
  }
  return info;
}

lookup_peer::lookup_peer(std::string address, std::string identify_body, snapshot_fn registrations,
                         const core::logger& log, std::int64_t max_body_size)
    : _address(std::move(address)),
      _identify_body(std::move(identify_body)),
      _registrations(std::move(registrations)),
      _log(log),
      _max_body_size(max_body_size) {}

void lookup_peer::command(std::string line, std::string_view branch) {
  if (_state != state::connected) {
    _wake.set();  // try to connect (that registers everything, this included)
    return;
  }
  _pending.push_back({std::move(line), std::string(branch) + " "});
  _wake.set();
}

void lookup_peer::tick() {
  if (_state == state::connected) {
    _log.debug("LOOKUPD(", _address, "): sending heartbeat");
    _pending.push_back({"PING", ""});
  }
  _last_attempt.reset();  // a tick may always try to connect
  _wake.set();
}

void lookup_peer::stop() {
  _stopping = true;
  // Ends a read or write under way at once instead of at its timeout.
  if (_conn) ::shutdown(_conn->fd(), SHUT_RDWR);
  _wake.set();
}

std::optional<std::string> lookup_peer::http_address() const {
  if (!_info || _info->broadcast_address.empty()) return std::nullopt;
  return go::join_host_port(_info->broadcast_address, _info->http_port);
}

core::task<void> lookup_peer::run() {
  const core::promise_context ctx = co_await core::this_context();
  bool wanted = true;  // something asks for a connection (the start, a tick, a change)
  while (!_stopping && !cancelled(ctx)) {
    if (_state == state::disconnected && wanted) {
      if (_last_attempt && clock::now() - *_last_attempt < retry_spacing) {
        const int slept = co_await core::sleep_for(*_last_attempt + retry_spacing - clock::now());
        if (slept == -ECANCELED) break;
        if (_stopping) break;
      }
      _last_attempt = clock::now();
      wanted = false;
      _wake.reset();
      const bool identified = co_await connect_and_identify();
      if (!identified) disconnect();
      continue;
    }
    if (_state == state::connected && !_pending.empty()) {
      const bool sent = co_await send_pending();
      if (!sent) disconnect();
      continue;
    }
    _wake.reset();
    const int woken = co_await _wake.wait();
    if (woken == -ECANCELED) break;
    wanted = true;
  }
  disconnect();
}

core::task<bool> lookup_peer::connect_and_identify() {
  _state = state::connecting;
  _log.info("LOOKUP connecting to ", _address);
  net::socket_address to;
  try {
    to = net::resolve_tcp_address(_address);
  } catch (const std::runtime_error& e) {
    _log.error("LOOKUPD(", _address, "): connecting - dial tcp ", e.what());
    co_return false;
  }
  net::unique_fd fd;
  const int r = co_await net::connect_stream(to, std::chrono::nanoseconds(io_timeout), fd);
  if (r < 0) {
    if (r != -ECANCELED)
      _log.error("LOOKUPD(", _address, "): connecting - dial tcp ", _address, ": ",
                 r == -ETIMEDOUT ? std::string("i/o timeout") : go::errno_text(-r));
    co_return false;
  }
  _conn = std::make_unique<net::connection>(std::move(fd), 4096);
  _conn->set_read_timeout(io_timeout);
  if (_stopping) co_return false;

  std::string hello = "  V1IDENTIFY\n";
  net::append_u32(hello, std::uint32_t(_identify_body.size()));
  hello += _identify_body;
  std::optional<std::string> answer;
  const bool said_hello = co_await send_all(hello);
  if (said_hello) answer = co_await read_answer();
  if (!answer) {
    log_failure("IDENTIFY");
    co_return false;
  }
  if (*answer == "E_INVALID") {
    _log.info("LOOKUPD(", _address, "): lookupd returned ", *answer);
    co_return false;
  }
  std::optional<lookupd_info> info = parse_lookupd_info(*answer);
  if (!info) {
    _log.error("LOOKUPD(", _address, "): parsing response - ", *answer);
    co_return false;
  }
  _info = *info;
  _log.info("LOOKUPD(", _address, "): peer info {TCPPort:", info->tcp_port, " HTTPPort:", info->http_port,
            " Version:", info->version, " BroadcastAddress:", info->broadcast_address, "}");
  if (info->broadcast_address.empty()) _log.error("LOOKUPD(", _address, "): no broadcast address");

  // From here every change is queued after this snapshot of what exists.
  _state = state::connected;
  _pending.clear();
  for (std::string& line : _registrations()) _pending.push_back({std::move(line), ""});
  co_return true;
}

core::task<bool> lookup_peer::send_pending() {
  const std::size_t n = std::min(_pending.size(), batch_size);
  std::string bytes;
  for (std::size_t i = 0; i < n; ++i) {
    const pending_command& c = _pending[i];
    if (c.line != "PING") _log.info("LOOKUPD(", _address, "): ", c.log_prefix, c.line);
    bytes += c.line;
    bytes += '\n';
  }
  const bool sent = co_await send_all(bytes);
  if (!sent) {
    log_failure(_pending.front().line);
    co_return false;
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::optional<std::string> answer = co_await read_answer();
    const std::string line = _pending.front().line;
    _pending.pop_front();
    if (!answer) {
      log_failure(line);
      co_return false;
    }
    if (*answer != "OK") {  // nsqlookupd closes after its errors; anything else is garbage
      _log.error("LOOKUPD(", _address, "): ", line, " - ", *answer);
      co_return false;
    }
  }
  co_return true;
}

core::task<bool> lookup_peer::send_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const int n = co_await core::send(_conn->fd(), bytes.data(), bytes.size()).timeout(io_timeout);
    if (n <= 0) {
      _error = n == -ECANCELED ? ""
               : n == 0 ? "write: connection closed"
               : n == -ETIMEDOUT ? "write: i/o timeout"
                                 : "write: " + go::errno_text(-n);
      co_return false;
    }
    bytes.remove_prefix(std::size_t(n));
  }
  co_return true;
}

core::task<std::optional<std::string>> lookup_peer::read_answer() {
  auto failed = [this] {
    const int e = _conn->last_error();
    _error = e == ECANCELED ? ""
             : e == 0 ? "EOF" : e == ETIMEDOUT ? "read: i/o timeout" : "read: " + go::errno_text(e);
    return std::nullopt;
  };
  const bool have_size = co_await _conn->fill(4);
  if (!have_size) co_return failed();
  const std::int32_t size = net::get_i32(_conn->buffered().data());
  if (size < 0 || size > _max_body_size) {
    _error = "response body size (" + std::to_string(size) + ") is greater than limit (" +
             std::to_string(_max_body_size) + ")";
    co_return std::nullopt;
  }
  const bool have_data = co_await _conn->fill(4 + std::size_t(size));
  if (!have_data) co_return failed();
  std::string answer(_conn->buffered().substr(4, std::size_t(size)));
  _conn->consume(4 + std::size_t(size));
  co_return answer;
}

void lookup_peer::log_failure(std::string_view command) const {
  if (_error.empty() || _stopping) return;  // cancelled or stopped: not the peer's fault
  _log.error("LOOKUPD(", _address, "): ", command, " - ", _error);
}

void lookup_peer::disconnect() {
  _state = state::disconnected;
  _conn.reset();
  _pending.clear();
}

}  // namespace nsqd::loops
