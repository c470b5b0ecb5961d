#include "protocol/v2_client.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/io.hpp"
#include "protocol/frame.hpp"

namespace nsqd::protocol {

namespace {

// Unsent output above which the reader stops taking commands until the writer catches up.
constexpr std::size_t output_high_water = 256 * 1024;
// Buffers that grew past this for a burst are given back once empty.
constexpr std::size_t keep_capacity = 1024 * 1024;

}  // namespace

client::client(net::connection& conn, broker::broker_shard& broker, core::task_group& group, v2_tls tls)
    : broker::consumer(broker.next_client_id()),
      _conn(conn),
      _broker(broker),
      _group(group),
      _connect_ts(broker::unix_now_ns() / 1'000'000'000),
      _settings(default_settings(broker.opts())),
      _tls(tls) {
  _identity.client_id = remote_ip_of(conn.remote_address());  // as upstream: the host part
  _identity.hostname = _identity.client_id;
}

client::~client() {
  leave();
  if (!_pub_counts.empty()) _broker.remove_producer(*this);
}

void client::identify(client_identity id, const client_settings& s) {
  _identity = std::move(id);
  _settings = s;
  _heartbeat_reset = true;
  _wake.notify();
}

void client::subscribed(broker::channel& ch) noexcept {
  _channel = &ch;
  _state = client_state::subscribed;
}

void client::set_ready_count(std::int64_t n) {
  if (n == _ready_count) return;  // upstream only acts on a change
  _ready_count = n;
  if (!_channel) return;
  if (credit() > 0)
    _channel->ready(*this);
  else if (_messages_waiting)
    urgent();  // the client cannot take more: what is buffered goes now
}

void client::start_close() {
  _ready_count = 0;
  _state = client_state::closing;
  if (_messages_waiting) urgent();
}

auth_params client::auth_request(std::string secret) const {
  auth_params p;
  p.remote_ip = remote_ip_of(remote_address());
  if (const net::tls_session* tls = _conn.tls()) {
    p.tls = true;
    p.common_name = tls->peer_certificate().common_name;
  }
  p.secret = std::move(secret);
  return p;
}

void client::published(const std::string& topic, std::uint64_t n) {
  if (_pub_counts.empty()) _broker.add_producer(*this);
  for (pub_count& p : _pub_counts)
    if (p.topic == topic) {
      p.count += n;
      return;
    }
  _pub_counts.push_back({topic, n});
}

void client::channel_closed() {
  // The channel is gone (deleted over HTTP): as upstream, the connection is closed at once.
  _channel = nullptr;
  _ending = true;
  log().info("PROTOCOL(V2): [", remote_address(), "] channel deleted, closing");
  _group.cancel();
}

void client::describe(broker::client_stats& out) const {
  out.client_id = _identity.client_id;
  out.hostname = _identity.hostname;
  out.version = "V2";
  out.remote_address = remote_address();
  out.state = int(_state);
  out.ready_count = _ready_count;
  out.connect_ts = _connect_ts;
  out.sample_rate = _settings.sample_rate;
  out.deflate = _compression == compression::deflate;
  out.snappy = _compression == compression::snappy;
  out.user_agent = _identity.user_agent;
  out.authed = has_authorizations();
  if (const auth_state* a = _auth.state()) {
    out.auth_identity = a->identity;
    out.auth_identity_url = a->identity_url;
  }
  out.topology_zone = _identity.topology_zone;
  out.topology_region = _identity.topology_region;
  out.pub_counts.clear();
  for (const pub_count& p : _pub_counts) out.pub_counts.push_back({p.topic, p.count});
  out.tls = false;
  if (const net::tls_session* tls = _conn.tls()) {
    out.tls = true;
    out.tls_version = tls->version();
    out.tls_cipher_suite = net::upstream_stats_cipher_suite(tls->cipher_suite_id());
    out.tls_negotiated_protocol = "";  // no ALPN, as upstream's V2
    out.tls_negotiated_protocol_is_mutual = true;  // Go reports it true since Go 1.16
  }
}

void client::leave() noexcept {
  _ending = true;
  if (_channel) {
    _channel->unsubscribe(*this);
    _channel = nullptr;
  }
}

// ---- consumer -------------------------------------------------------------------------------

std::int64_t client::credit() const noexcept {
  if (_ending || !_channel || _state != client_state::subscribed) return 0;
  return std::max<std::int64_t>(0, _ready_count - counters.in_flight);
}

void client::deliver(const message& m) {
  append_message_frame(_out, m);
  if (!_messages_waiting) {
    _messages_waiting = true;
    _flush_at = core::clock::now() + _settings.output_buffer_timeout;
    if (_settings.output_buffer_timeout.count() > 0) _wake.notify();  // arm the flush timer
  }
  if (_out.size() >= std::size_t(_settings.output_buffer_size) || credit() <= 0) urgent();
}

// ---- output ---------------------------------------------------------------------------------

void client::urgent() noexcept {
  _flush_now = true;
  _wake.notify();
}

void client::respond(std::string_view data) {
  append_response_frame(_out, data);
  urgent();
}

void client::send_error(std::string_view code, std::string_view text) {
  append_error_frame(_out, code, text);
  urgent();
}

core::task<void> client::wait_output_room() {
  while (!_ending && _out.size() >= output_high_water) {
    urgent();
    _drained.reset();
    int r = co_await _drained.wait();
    if (r < 0) co_return;
  }
}

core::task<bool> client::flush_output() {
  // _sending is not empty while the writer is sending it.
  while (!_ending && (!_out.empty() || !_sending.empty())) {
    urgent();
    _drained.reset();
    int r = co_await _drained.wait();
    if (r < 0) co_return false;
  }
  co_return !_ending;
}

core::task<std::string> client::start_tls() {
  _output_held = true;
  std::string failed = co_await _conn.start_tls(*_tls.server, net::connection::server_handshake_timeout);
  _output_held = false;
  _wake.notify();  // a heartbeat may have come due meanwhile
  co_return failed;
}

void client::start_compression(compression kind, std::unique_ptr<net::stream_decoder> decoder,
                               std::unique_ptr<net::stream_encoder> encoder) {
  _conn.set_compression(std::move(decoder), std::move(encoder));
  _compression = kind;
}

void client::reader_done() noexcept {
  _reader_done = true;
  _ending = true;
  _wake.notify();
}

core::task<bool> client::send_output() {
  _sending.swap(_out);
  _flush_now = false;
  _messages_waiting = false;
  const auto deadline = _settings.heartbeat_interval;  // upstream's write deadline
  const std::string_view data = _conn.wire_bytes(_sending);  // compressed, if negotiated
  std::size_t sent = 0;
  bool ok = true;
  while (sent < data.size()) {
    const char* p = data.data() + sent;
    const std::size_t n = data.size() - sent;
    int r;  // (no co_await inside ?: or conditions: GCC 12 miscompiles some of those)
    if (deadline.count() > 0)
      r = co_await core::send(_conn.fd(), p, n).timeout(deadline);
    else
      r = co_await core::send(_conn.fd(), p, n);
    if (r <= 0) {
      if (r != -ECANCELED)
        log().debug("PROTOCOL(V2): [", remote_address(), "] send failed - ",
                    r == 0 ? "connection closed" : std::strerror(-r));
      ok = false;
      break;
    }
    sent += std::size_t(r);
  }
  _sending.clear();
  if (_sending.capacity() > keep_capacity) _sending.shrink_to_fit();
  _sent_at = core::clock::now();
  _drained.set();
  co_return ok;
}

core::task<void> client::write_loop() {
  using core::clock;
  std::chrono::nanoseconds interval = _settings.heartbeat_interval;
  std::optional<clock::time_point> next_heartbeat;
  if (interval.count() > 0) next_heartbeat = clock::now() + interval;
  for (;;) {
    const auto now = clock::now();
    if (_heartbeat_reset) {  // IDENTIFY: a new ticker from now, as upstream makes one
      _heartbeat_reset = false;
      interval = _settings.heartbeat_interval;
      next_heartbeat.reset();
      if (interval.count() > 0) next_heartbeat = now + interval;
    }
    if (next_heartbeat && now >= *next_heartbeat && !_reader_done) {
      append_response_frame(_out, "_heartbeat_");
      _flush_now = true;
      *next_heartbeat += interval;
      if (*next_heartbeat <= now) *next_heartbeat = now + interval;
    }
    const bool timer_due = _messages_waiting && _settings.output_buffer_timeout.count() > 0 &&
                           now >= _flush_at;
    if (!_out.empty() && !_output_held && (_flush_now || timer_due || _reader_done)) {
      bool sent = co_await send_output();
      if (!sent) {
        _ending = true;
        _group.cancel();  // ends the reader
        co_return;
      }
      continue;
    }
    if (_reader_done) co_return;
    std::optional<clock::time_point> wake_at = next_heartbeat;
    if (holds_output_buffers()) {
      // Quiet since the last send: the buffers go back (a burst to a consumer left them as
      // large as the burst); until then, a wake-up to do so.
      const auto release_at = _sent_at + net::connection::idle_after;
      if (now >= release_at) {
        std::string().swap(_out);
        std::string().swap(_sending);
      } else {
        wake_at = wake_at ? std::min(*wake_at, release_at) : release_at;
      }
    }
    if (_messages_waiting && _settings.output_buffer_timeout.count() > 0)
      wake_at = wake_at ? std::min(*wake_at, _flush_at) : _flush_at;
    int r = co_await _wake.wait(wake_at);
    if (r == -ECANCELED) {
      _ending = true;
      co_return;
    }
  }
}

}  // namespace nsqd::protocol
