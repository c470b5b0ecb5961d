#pragma once
// client: one V2 connection's state after the magic (SPEC B.3, B.6), and its side as a
// broker::consumer.
//
// Owned by serve_client's frame for the connection's whole life, on the connection's shard.
// Two coroutines share it, both children of one task group:
//   - the reader (v2_commands.cpp) parses commands, changes the state and queues responses;
//   - the writer (write_loop) is the ONLY code that sends on the socket. Everything to send is
//     appended to one output buffer: response and error frames ask for an immediate send;
//     message frames (deliver()) wait, as upstream's buffered writer does, until the client
//     cannot take more (credit 0), the buffer reaches output_buffer_size, or
//     output_buffer_timeout has passed since the first unsent message. The writer also sends
//     `_heartbeat_` every heartbeat interval (publishers included) and bounds each send by the
//     heartbeat interval (the write deadline).
// The reader ends on EOF, read deadline (2 x heartbeat interval), fatal error or cancellation
// and calls reader_done(): the writer then sends what is left and ends. A failed or timed-out
// send cancels the group, which ends the reader. Afterwards serve_client calls leave().
//
// Invariant: the channel pointer is set while the client is in that channel's consumer list:
// from SUB until leave(), or until the channel is deleted (channel_closed(), which also ends
// the connection, as upstream closes such clients).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.hpp"
#include "broker/consumer.hpp"
#include "core/event.hpp"
#include "core/task.hpp"
#include "core/task_group.hpp"
#include "net/connection.hpp"
#include "protocol/v2_auth.hpp"
#include "protocol/v2_identify.hpp"
#include "protocol/v2_tls.hpp"
#include "protocol/v2_wake.hpp"

namespace nsqd::protocol {

// Upstream's client states, as /stats shows them (1 and 2 are unused by V2).
enum class client_state : int { init = 0, subscribed = 3, closing = 4 };

// What IDENTIFY told about the client (shown by /stats). Before any IDENTIFY, client_id and
// hostname are the remote host; an IDENTIFY replaces every field, absent ones with "".
struct client_identity {
  std::string client_id;
  std::string hostname;
  std::string user_agent;
  std::string topology_region;
  std::string topology_zone;
};

class client final : public broker::consumer {
 public:
  // `group` runs the reader and the writer; the client cancels it to end the connection.
  // `tls`: the contexts for IDENTIFY tls_v1 and for https auth servers.
  client(net::connection& conn, broker::broker_shard& broker, core::task_group& group, v2_tls tls);
  ~client() override;
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  net::connection& conn() const noexcept { return _conn; }
  broker::broker_shard& broker() const noexcept { return _broker; }
  const config::options& opts() const noexcept { return _broker.opts(); }
  const core::logger& log() const noexcept { return _broker.log(); }
  const std::string& remote_address() const noexcept { return _conn.remote_address(); }
  std::int64_t connect_ts() const noexcept { return _connect_ts; }  // unix seconds

  // ---- state (changed by the reader) ----
  client_state state() const noexcept { return _state; }
  const client_settings& settings() const noexcept { return _settings; }
  const client_identity& identity() const noexcept { return _identity; }
  // IDENTIFY: takes effect at once, the heartbeat schedule restarting from now (the last
  // IDENTIFY before SUB wins: quirk 6, fixed).
  void identify(client_identity id, const client_settings& s);
  // 2 x heartbeat interval, or 0 (none) when heartbeats are disabled.
  std::chrono::nanoseconds read_timeout() const noexcept { return 2 * _settings.heartbeat_interval; }

  // SUB succeeded: subscribed to `ch` (already in its consumer list).
  void subscribed(broker::channel& ch) noexcept;
  broker::channel* channel() const noexcept { return _channel; }
  std::int64_t ready_count() const noexcept { return _ready_count; }
  // RDY n (subscribed): lets the channel deliver up to the new window.
  void set_ready_count(std::int64_t n);
  // CLS: RDY 0, state closing (FIN/REQ/TOUCH still accepted; the client closes the socket).
  void start_close();

  // Auth (D.12): the AUTH secret and the auth server's last answer (v2_auth.hpp).
  auth_session& auth() noexcept { return _auth; }
  bool has_authorizations() const noexcept { return _auth.has_authorizations(); }
  // What the auth servers are told about this connection (AUTH's `secret` added).
  auth_params auth_request(std::string secret) const;

  // A PUB/MPUB/DPUB of `n` messages to `topic` succeeded (pub_counts in /stats).
  void published(const std::string& topic, std::uint64_t n);

  // ---- output (from the reader) ----
  void respond(std::string_view data);                           // response frame, sent at once
  void send_error(std::string_view code, std::string_view text);  // error frame, sent at once
  // Back-pressure: returns once the unsent output is below a bound (or the connection is
  // ending), so a client that pipelines commands without reading cannot grow it forever.
  core::task<void> wait_output_room();
  // Sends everything queued now and waits until it is on the wire and no send is in
  // progress. False if the connection is ending. (IDENTIFY: the negotiation answer goes out
  // plain before the stream switches to compression.)
  core::task<bool> flush_output();

  // ---- TLS (IDENTIFY) ----
  // Whether this node offers TLS (--tls-cert and --tls-key).
  bool tls_offered() const noexcept { return _tls.server != nullptr; }
  // The client context for https auth servers (null: none).
  const net::tls_context* client_tls() const noexcept { return _tls.client; }
  // Whether the connection is TLS now (what --tls-required asks for).
  bool is_tls() const noexcept { return _conn.tls() != nullptr; }
  // After flush_output(): the server handshake, the writer holding its output (heartbeats)
  // until it is over, within upstream's 5 s. "" once the connection is TLS, else why not
  // (the connection stays plain, as upstream's after a failed upgrade).
  core::task<std::string> start_tls();

  // ---- compression (IDENTIFY) ----
  enum class compression { none, snappy, deflate };
  // Both directions switch to `kind` now (after flush_output()); /stats shows it.
  void start_compression(compression kind, std::unique_ptr<net::stream_decoder> decoder,
                         std::unique_ptr<net::stream_encoder> encoder);
  // The reader has ended: the writer sends what is queued and ends too.
  void reader_done() noexcept;
  // The connection is ending (writer failed or reader ended): no more deliveries.
  bool ending() const noexcept { return _ending; }

  // The single sender. Runs until reader_done() and the output is sent, or until a send fails
  // or times out (then cancels the group, ending the reader), or until cancelled.
  core::task<void> write_loop();

  // Leaves the channel, if subscribed. In-flight messages stay in flight until they time out.
  void leave() noexcept;

  // ---- broker::consumer ----
  std::int64_t credit() const noexcept override;
  std::chrono::nanoseconds msg_timeout() const noexcept override { return _settings.msg_timeout; }
  int sample_rate() const noexcept override { return _settings.sample_rate; }
  void deliver(const message& m) override;
  void channel_closed() override;
  void describe(broker::client_stats& out) const override;

 private:
  void urgent() noexcept;
  core::task<bool> send_output();

  struct pub_count {
    std::string topic;
    std::uint64_t count;
  };

  net::connection& _conn;
  broker::broker_shard& _broker;
  core::task_group& _group;
  std::int64_t _connect_ts;
  client_state _state = client_state::init;
  client_settings _settings;
  client_identity _identity;
  broker::channel* _channel = nullptr;
  std::int64_t _ready_count = 0;
  std::vector<pub_count> _pub_counts;  // in order of first publish
  auth_session _auth;
  compression _compression = compression::none;
  v2_tls _tls;
  bool _output_held = false;  // a TLS handshake is under way: the writer sends nothing

  std::string _out;      // appended to by the reader and deliver(); taken by the writer
  std::string _sending;  // what the writer is sending now
  core::clock::time_point _sent_at{};  // when the last send ended
  // Both empty, and one holds heap memory (more than a short string's room).
  bool holds_output_buffers() const noexcept {
    return _out.empty() && _sending.empty() &&
           std::max(_out.capacity(), _sending.capacity()) > std::string().capacity();
  }
  bool _flush_now = false;       // _out holds a response/error/heartbeat or must go now
  bool _messages_waiting = false;  // _out holds message frames not yet due
  core::clock::time_point _flush_at{};  // when waiting messages are due (timer on)
  bool _heartbeat_reset = false;  // IDENTIFY changed the interval: restart the schedule
  bool _reader_done = false;
  bool _ending = false;
  wake_signal _wake;      // wakes the writer
  core::event _drained;   // set by the writer after each send (reader back-pressure)
};

}  // namespace nsqd::protocol
