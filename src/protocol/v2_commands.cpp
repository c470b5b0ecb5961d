#include "protocol/v2_commands.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/io.hpp"
#include "go/go_syntax.hpp"
#include "model/message.hpp"
#include "model/names.hpp"
#include "net/compression.hpp"
#include "protocol/command.hpp"
#include "protocol/frame.hpp"
#include "protocol/v2_auth.hpp"
#include "protocol/v2_identify.hpp"

namespace nsqd::protocol {

namespace {

using namespace std::string_literals;

// An error frame to send: "<code> <text>". Fatal ones close the connection after it.
struct client_error {
  std::string_view code;
  std::string text;
  bool fatal = true;
};
using outcome = std::optional<client_error>;

client_error fatal(std::string_view code, std::string text) { return {code, std::move(text), true}; }
client_error nonfatal(std::string_view code, std::string text) { return {code, std::move(text), false}; }

std::string str(std::int64_t v) { return std::to_string(v); }
std::string quoted(std::string_view name) { return go::quote(name); }

// ByteToBase10 as upstream reads counts and timeouts: digits only, and "" is 0 (upstream's
// loop over no digits). Past UINT64_MAX is an error here (upstream wraps).
std::optional<std::uint64_t> parse_number(std::string_view text) {
  if (text.empty()) return 0;
  return parse_base10(text);
}

// ---- reading bodies ---------------------------------------------------------------------------

// Bodies are read with connection::read_exact, under the read deadline read_loop sets.

// Without waiting: the int32 / body at the front of what is buffered, consumed; nullopt when
// not all of it has arrived (then read_i32 / read_body wait for it). PUB, DPUB and MPUB take
// most messages this way, with no coroutine frame per message.
std::optional<std::int32_t> take_i32(net::connection& conn) {
  std::string_view b = conn.buffered();
  if (b.size() < 4) return std::nullopt;
  std::int32_t v = net::get_i32(b.data());
  conn.consume(4);
  return v;
}

std::optional<message_body> take_body(net::connection& conn, std::int32_t size) {
  std::string_view b = conn.buffered();
  if (b.size() < std::size_t(size)) return std::nullopt;
  message_body body = message_body::copy_of(b.substr(0, std::size_t(size)));
  conn.consume(std::size_t(size));
  return body;
}

// A big-endian int32 (sizes and counts); nullopt if the stream ended first.
core::task<std::optional<std::int32_t>> read_i32(client& c) {
  bool filled = co_await c.conn().fill(4);
  if (!filled) co_return std::nullopt;
  co_return take_i32(c.conn());
}

core::task<std::optional<message_body>> read_body(client& c, std::int32_t size) {
  message_body body = message_body::allocate(std::size_t(size));
  bool ok = co_await c.conn().read_exact(body.mutable_data(), std::size_t(size));
  if (!ok) co_return std::nullopt;
  co_return body;
}

// IDENTIFY and AUTH bodies: size checks against --max-body-size, then the bytes.
core::task<outcome> read_small_body(client& c, std::string_view cmd, std::string& out) {
  const std::int64_t max = c.opts().max_body_size;
  std::optional<std::int32_t> size = co_await read_i32(c);
  if (!size) co_return fatal("E_BAD_BODY", std::string(cmd) + " failed to read body size");
  if (*size > max)
    co_return fatal("E_BAD_BODY", std::string(cmd) + " body too big " + str(*size) + " > " + str(max));
  if (*size <= 0) co_return fatal("E_BAD_BODY", std::string(cmd) + " invalid body size " + str(*size));
  out.resize(std::size_t(*size));
  bool ok = co_await c.conn().read_exact(out.data(), out.size());
  if (!ok) co_return fatal("E_BAD_BODY", std::string(cmd) + " failed to read body");
  co_return std::nullopt;
}

// PUB and DPUB: one message body, checked against --max-msg-size.
core::task<outcome> read_message(client& c, std::string_view cmd, message_body& out) {
  const std::int64_t max = c.opts().max_msg_size;
  std::optional<std::int32_t> size = take_i32(c.conn());
  if (!size) size = co_await read_i32(c);
  if (!size) co_return fatal("E_BAD_MESSAGE", std::string(cmd) + " failed to read message body size");
  if (*size <= 0)
    co_return fatal("E_BAD_MESSAGE", std::string(cmd) + " invalid message body size " + str(*size));
  if (*size > max)
    co_return fatal("E_BAD_MESSAGE", std::string(cmd) + " message too big " + str(*size) + " > " + str(max));
  std::optional<message_body> body = take_body(c.conn(), *size);
  if (!body) body = co_await read_body(c, *size);
  if (!body) co_return fatal("E_BAD_MESSAGE", std::string(cmd) + " failed to read message body");
  out = std::move(*body);
  co_return std::nullopt;
}

// ---- auth -------------------------------------------------------------------------------------

// PUB/MPUB/DPUB (channel "") and SUB when --auth-http-address is set (D.12). The answer of
// the auth servers is asked again once its ttl has run out.
core::task<outcome> check_auth(client& c, std::string_view cmd, std::string topic, std::string channel) {
  if (c.opts().auth_http_addresses.empty()) co_return std::nullopt;
  if (!c.has_authorizations()) co_return fatal("E_AUTH_FIRST", "AUTH required before "s + std::string(cmd));
  std::string error;
  auth_session::verdict v = co_await c.auth().authorize(c.opts(), c.client_tls(), topic, channel, error);
  if (v == auth_session::verdict::failed) {  // the details are for the log only
    c.log().warn("PROTOCOL(V2): [", c.remote_address(), "] AUTH failed - ", error);
    co_return fatal("E_AUTH_FAILED", "AUTH failed");
  }
  if (v == auth_session::verdict::unauthorized)
    co_return fatal("E_UNAUTHORIZED",
                    "AUTH failed for " + std::string(cmd) + " on " + quoted(topic) + " " + quoted(channel));
  co_return std::nullopt;
}

// ---- commands ---------------------------------------------------------------------------------
// Arguments are views into the connection's input buffer: copy them before reading a body.

core::task<outcome> do_identify(client& c) {
  if (c.state() != client_state::init) co_return fatal("E_INVALID", "cannot IDENTIFY in current state");
  std::string body;
  outcome bad = co_await read_small_body(c, "IDENTIFY", body);
  if (bad) co_return bad;
  std::optional<identify_request> req = parse_identify(body);
  if (!req) co_return fatal("E_BAD_BODY", "IDENTIFY failed to decode JSON body");
  client_settings settings = c.settings();
  if (std::optional<std::string> bad = apply_identify(*req, c.opts(), settings))
    co_return fatal("E_BAD_BODY", "IDENTIFY " + *bad);
  c.identify({req->client_id, req->hostname, req->user_agent, req->topology_region, req->topology_zone},
             settings);
  if (!req->feature_negotiation) {
    c.respond("OK");
    co_return std::nullopt;
  }
  negotiation n = negotiate(*req, c.opts(), c.tls_offered());
  if (n.conflict)
    co_return fatal("E_IDENTIFY_FAILED", "cannot enable both deflate and snappy compression");
  c.respond(negotiation_json(n, settings, c.opts()));
  // As upstream: the answer goes out plain; then TLS, its "OK" the first frame inside it;
  // then compression (inside TLS), its "OK" the first compressed frame.
  if (n.tls_v1) {
    bool flushed = co_await c.flush_output();
    if (!flushed) co_return std::nullopt;  // the connection is ending
    c.log().info("PROTOCOL(V2): [", c.remote_address(), "] upgrading connection to TLS");
    std::string failed = co_await c.start_tls();
    if (!failed.empty()) co_return fatal("E_IDENTIFY_FAILED", "IDENTIFY failed " + failed);
    c.respond("OK");
  }
  if (!n.snappy && !n.deflate) co_return std::nullopt;
  const bool snappy = n.snappy;
  std::unique_ptr<net::stream_decoder> decoder = snappy ? net::make_snappy_decoder() : net::make_deflate_decoder();
  std::unique_ptr<net::stream_encoder> encoder =
      snappy ? net::make_snappy_encoder() : net::make_deflate_encoder(n.deflate_level);
  if (!decoder || !encoder)
    co_return fatal("E_IDENTIFY_FAILED", snappy ? "IDENTIFY failed to set up snappy" : "IDENTIFY failed to set up deflate");
  bool flushed = co_await c.flush_output();
  if (!flushed) co_return std::nullopt;  // the connection is ending: nothing more can be sent
  c.log().info("PROTOCOL(V2): [", c.remote_address(), "] upgrading connection to ", snappy ? "snappy" : "deflate");
  c.start_compression(snappy ? client::compression::snappy : client::compression::deflate, std::move(decoder),
                      std::move(encoder));
  c.respond("OK");
  co_return std::nullopt;
}

core::task<outcome> do_auth(client& c, const command_line& cmd) {
  if (c.state() != client_state::init) co_return fatal("E_INVALID", "cannot AUTH in current state");
  if (cmd.arg_count() != 0) co_return fatal("E_INVALID", "AUTH invalid number of parameters");
  std::string secret;
  outcome bad = co_await read_small_body(c, "AUTH", secret);
  if (bad) co_return bad;
  if (c.has_authorizations()) co_return fatal("E_INVALID", "AUTH already set");
  if (c.opts().auth_http_addresses.empty()) co_return fatal("E_AUTH_DISABLED", "AUTH disabled");
  std::string error = co_await c.auth().authenticate(c.opts(), c.auth_request(std::move(secret)), c.client_tls());
  if (!error.empty()) {  // the details are for the log only
    c.log().warn("PROTOCOL(V2): [", c.remote_address(), "] AUTH failed ", error);
    co_return fatal("E_AUTH_FAILED", "AUTH failed");
  }
  if (!c.has_authorizations()) co_return fatal("E_UNAUTHORIZED", "AUTH no authorizations found");
  c.respond(auth_success_json(*c.auth().state()));
  co_return std::nullopt;
}

core::task<outcome> do_sub(client& c, const command_line& cmd) {
  if (c.state() != client_state::init) co_return fatal("E_INVALID", "cannot SUB in current state");
  if (c.settings().heartbeat_interval.count() <= 0)
    co_return fatal("E_INVALID", "cannot SUB with heartbeats disabled");
  if (cmd.arg_count() < 2) co_return fatal("E_INVALID", "SUB insufficient number of parameters");
  std::string topic(cmd.arg(0));
  std::string channel(cmd.arg(1));
  if (!is_valid_topic_name(topic))
    co_return fatal("E_BAD_TOPIC", "SUB topic name " + quoted(topic) + " is not valid");
  if (!is_valid_channel_name(channel))
    co_return fatal("E_BAD_CHANNEL", "SUB channel name " + quoted(channel) + " is not valid");
  outcome denied = co_await check_auth(c, "SUB", topic, channel);
  if (denied) co_return denied;
  // A channel deleted while we joined it: try once more after 100 ms, as upstream does for
  // exiting ephemeral channels.
  for (int attempt = 0;; ++attempt) {
    broker::channel* ch = co_await c.broker().get_channel(topic, channel);
    bool joined = co_await ch->subscribe(c);
    if (joined) {
      c.subscribed(*ch);
      c.respond("OK");
      co_return std::nullopt;
    }
    broker::topic* t = c.broker().find_topic(topic);
    const bool deleted = !t || t->find_channel(channel) != ch;
    if (!deleted)
      co_return fatal("E_SUB_FAILED", "SUB failed consumers for " + topic + ":" + channel +
                                          " exceeds limit of " + str(c.opts().max_channel_consumers));
    if (attempt > 0) co_return fatal("E_SUB_FAILED", "SUB failed to deleted topic/channel");
    int slept = co_await core::sleep_for(std::chrono::milliseconds(100));
    if (slept < 0) co_return fatal("E_SUB_FAILED", "SUB failed to deleted topic/channel");
  }
}

outcome do_rdy(client& c, const command_line& cmd) {
  if (c.state() == client_state::closing) {
    c.log().info("PROTOCOL(V2): [", c.remote_address(), "] ignoring RDY after CLS in state ClientStateV2Closing");
    return std::nullopt;
  }
  if (c.state() != client_state::subscribed) return fatal("E_INVALID", "cannot RDY in current state");
  std::int64_t count = 1;
  if (cmd.arg_count() > 0) {
    std::optional<std::uint64_t> n = parse_number(cmd.arg(0));
    if (!n) return fatal("E_INVALID", "RDY could not parse count " + std::string(cmd.arg(0)));
    count = std::int64_t(*n);  // as upstream's int64 conversion: huge values turn negative
  }
  const std::int64_t max = c.opts().max_rdy_count;
  if (count < 0 || count > max)
    return fatal("E_INVALID", "RDY count " + str(count) + " out of range 0-" + str(max));
  c.set_ready_count(count);
  return std::nullopt;
}

// FIN, REQ and TOUCH: state, parameter count and id checks. Sets `id` when all pass.
outcome check_id_command(client& c, const command_line& cmd, std::string_view name,
                         std::size_t needed_args, message_id& id) {
  if (c.state() != client_state::subscribed && c.state() != client_state::closing)
    return fatal("E_INVALID", "cannot " + std::string(name) + " in current state");
  if (cmd.arg_count() < needed_args)
    return fatal("E_INVALID", std::string(name) + " insufficient number of params");
  std::optional<message_id> parsed = message_id::from_bytes(cmd.arg(0));
  if (!parsed) return fatal("E_INVALID", "invalid message ID");
  id = *parsed;
  return std::nullopt;
}

// The channel's answer, or "not in flight" once the channel was deleted (the connection is
// closing then).
template <class Op>
broker::channel::result on_channel(client& c, Op op) {
  broker::channel* ch = c.channel();
  return ch ? op(*ch) : broker::channel::result::not_in_flight;
}

// E_FIN_FAILED / E_REQ_FAILED / E_TOUCH_FAILED: not fatal.
outcome id_failure(std::string_view code, std::string_view name, const message_id& id,
                   broker::channel::result r) {
  if (r == broker::channel::result::ok) return std::nullopt;
  std::string text(name);
  text += ' ';
  text += id.view();
  text += r == broker::channel::result::not_owner ? " failed client does not own message"
                                                  : " failed ID not in flight";
  return nonfatal(code, std::move(text));
}

// A message not in flight here may be in flight on another shard's part of the channel,
// delivered to a consumer there: then this client does not own it.
core::task<broker::channel::result> with_owner_check(client& c, const message_id& id,
                                                     broker::channel::result r) {
  broker::channel* ch = c.channel();
  if (r != broker::channel::result::not_in_flight || !ch || c.broker().shard_count() == 1) co_return r;
  bool elsewhere = co_await c.broker().in_flight_elsewhere(ch->owner().name(), ch->name(), id);
  co_return elsewhere ? broker::channel::result::not_owner : r;
}

core::task<outcome> do_fin(client& c, const command_line& cmd) {
  message_id id;
  if (outcome e = check_id_command(c, cmd, "FIN", 1, id)) co_return e;
  broker::channel::result r = on_channel(c, [&](broker::channel& ch) { return ch.finish(c, id); });
  r = co_await with_owner_check(c, id, r);
  co_return id_failure("E_FIN_FAILED", "FIN", id, r);
}

core::task<outcome> do_req(client& c, const command_line& cmd) {
  message_id id;
  if (outcome e = check_id_command(c, cmd, "REQ", 2, id)) co_return e;
  std::optional<std::uint64_t> ms = parse_number(cmd.arg(1));
  if (!ms) co_return fatal("E_INVALID", "REQ could not parse timeout " + std::string(cmd.arg(1)));
  const auto max = c.opts().max_req_timeout;
  const std::uint64_t max_ms = std::uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(max).count());
  std::chrono::nanoseconds delay = max;
  if (*ms > max_ms)
    c.log().info("PROTOCOL(V2): [", c.remote_address(), "] REQ timeout ", *ms, "ms out of range 0-", max_ms,
                 "ms. Setting to ", max_ms, "ms");
  else
    delay = std::chrono::milliseconds(*ms);
  broker::channel::result r = on_channel(c, [&](broker::channel& ch) { return ch.requeue(c, id, delay); });
  r = co_await with_owner_check(c, id, r);
  co_return id_failure("E_REQ_FAILED", "REQ", id, r);
}

core::task<outcome> do_touch(client& c, const command_line& cmd) {
  message_id id;
  if (outcome e = check_id_command(c, cmd, "TOUCH", 1, id)) co_return e;
  broker::channel::result r = on_channel(c, [&](broker::channel& ch) { return ch.touch(c, id); });
  r = co_await with_owner_check(c, id, r);
  co_return id_failure("E_TOUCH_FAILED", "TOUCH", id, r);
}

outcome do_cls(client& c) {
  if (c.state() != client_state::subscribed) return fatal("E_INVALID", "cannot CLS in current state");
  c.start_close();
  c.respond("CLOSE_WAIT");
  return std::nullopt;
}

// Answers a publish of `count` messages: OK once what went to a disk queue is written
// (fsynced with --durable-publish); a failed write is upstream's fatal E_PUB_FAILED ("PUB
// failed <err>"), E_MPUB_FAILED or E_DPUB_FAILED.
core::task<outcome> finish_publish(client& c, const std::string& topic, std::size_t count, const char* code,
                                   const char* command) {
  int rc = co_await c.broker().commit_unflushed();
  if (rc < 0) co_return fatal(code, std::string(command) + " failed " + go::errno_text(rc));
  c.published(topic, count);
  c.respond("OK");
  co_return std::nullopt;
}

// PUB and DPUB once their arguments are checked: the body, auth, the topic, the answer.
core::task<outcome> publish_one(client& c, const char* command, const char* fail_code, std::string topic,
                                std::uint64_t delay_ms) {
  message_body body;
  outcome bad = co_await read_message(c, command, body);
  if (bad) co_return bad;
  outcome denied = co_await check_auth(c, command, topic, "");
  if (denied) co_return denied;
  broker::topic* t = co_await c.broker().get_topic(topic);
  if (delay_ms == 0)
    t->publish(std::move(body));  // upstream: DPUB with a zero delay is a plain put
  else
    t->publish_deferred(std::move(body), std::chrono::milliseconds(delay_ms));
  outcome answer = co_await finish_publish(c, topic, 1, fail_code, command);
  co_return answer;
}

core::task<outcome> do_pub(client& c, const command_line& cmd) {
  if (cmd.arg_count() < 1) co_return fatal("E_INVALID", "PUB insufficient number of parameters");
  std::string topic(cmd.arg(0));
  if (!is_valid_topic_name(topic))
    co_return fatal("E_BAD_TOPIC", "PUB topic name " + quoted(topic) + " is not valid");
  outcome answer = co_await publish_one(c, "PUB", "E_PUB_FAILED", std::move(topic), 0);
  co_return answer;
}

core::task<outcome> do_dpub(client& c, const command_line& cmd) {
  if (cmd.arg_count() < 2) co_return fatal("E_INVALID", "DPUB insufficient number of parameters");
  std::string topic(cmd.arg(0));
  if (!is_valid_topic_name(topic))
    co_return fatal("E_BAD_TOPIC", "DPUB topic name " + quoted(topic) + " is not valid");
  std::optional<std::uint64_t> ms = parse_number(cmd.arg(1));
  if (!ms) co_return fatal("E_INVALID", "DPUB could not parse timeout " + std::string(cmd.arg(1)));
  const std::uint64_t max_ms =
      std::uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(c.opts().max_req_timeout).count());
  if (*ms > max_ms)  // rejected, where REQ clamps (quirk 11, reproduced)
    co_return fatal("E_INVALID", "DPUB timeout " + std::to_string(*ms) + " out of range 0-" + std::to_string(max_ms));
  outcome answer = co_await publish_one(c, "DPUB", "E_DPUB_FAILED", std::move(topic), *ms);
  co_return answer;
}

// MPUB reads every message before touching the topic, so a bad body creates nothing and
// queues nothing (quirk 4, fixed). As upstream, it reads as many messages as the count says,
// whatever the declared body size (which is only range-checked).
core::task<outcome> do_mpub(client& c, const command_line& cmd) {
  if (cmd.arg_count() < 1) co_return fatal("E_INVALID", "MPUB insufficient number of parameters");
  std::string topic(cmd.arg(0));
  if (!is_valid_topic_name(topic))
    co_return fatal("E_BAD_TOPIC", "E_BAD_TOPIC MPUB topic name " + quoted(topic) + " is not valid");
  outcome denied = co_await check_auth(c, "MPUB", topic, "");
  if (denied) co_return denied;

  const std::int64_t max_body = c.opts().max_body_size;
  const std::int64_t max_msg = c.opts().max_msg_size;
  std::optional<std::int32_t> size = co_await read_i32(c);
  if (!size) co_return fatal("E_BAD_BODY", "MPUB failed to read body size");
  if (*size <= 0) co_return fatal("E_BAD_BODY", "MPUB invalid body size " + str(*size));
  if (*size > max_body) co_return fatal("E_BAD_BODY", "MPUB body too big " + str(*size) + " > " + str(max_body));

  std::optional<std::int32_t> count = co_await read_i32(c);
  if (!count) co_return fatal("E_BAD_BODY", "MPUB failed to read message count");
  if (*count <= 0 || *count > (max_body - 4) / 5)
    co_return fatal("E_BAD_BODY", "MPUB invalid message count " + str(*count));

  std::vector<message_body> bodies;
  bodies.reserve(std::size_t(std::min<std::int32_t>(*count, 1024)));
  for (std::int32_t i = 0; i < *count; ++i) {
    std::optional<std::int32_t> len = take_i32(c.conn());
    if (!len) len = co_await read_i32(c);
    if (!len) co_return fatal("E_BAD_MESSAGE", "MPUB failed to read message(" + str(i) + ") body size");
    if (*len <= 0)
      co_return fatal("E_BAD_MESSAGE", "MPUB invalid message(" + str(i) + ") body size " + str(*len));
    if (*len > max_msg)
      co_return fatal("E_BAD_MESSAGE", "MPUB message too big " + str(*len) + " > " + str(max_msg));
    std::optional<message_body> body = take_body(c.conn(), *len);
    if (!body) body = co_await read_body(c, *len);
    if (!body) co_return fatal("E_BAD_MESSAGE", "MPUB failed to read message body");
    bodies.push_back(std::move(*body));
  }

  broker::topic* t = co_await c.broker().get_topic(topic);
  for (message_body& b : bodies) t->publish(std::move(b));
  outcome answer = co_await finish_publish(c, topic, bodies.size(), "E_MPUB_FAILED", "MPUB");
  co_return answer;
}

core::task<outcome> exec(client& c, const command_line& cmd) {
  const command_kind kind = cmd.kind();
  outcome r;
  if (kind == command_kind::identify) {
    r = co_await do_identify(c);
    co_return r;
  }
  // --tls-required (either kind): every command but IDENTIFY needs the TLS upgrade first.
  if (c.opts().tls_required != config::tls_required::no && !c.is_tls())
    co_return fatal("E_INVALID", "cannot " + std::string(cmd.name()) + " in current state (TLS required)");
  // (if/else rather than a switch around co_await: GCC 12 is fragile there)
  if (kind == command_kind::fin)
    r = co_await do_fin(c, cmd);
  else if (kind == command_kind::rdy)
    r = do_rdy(c, cmd);
  else if (kind == command_kind::req)
    r = co_await do_req(c, cmd);
  else if (kind == command_kind::pub)
    r = co_await do_pub(c, cmd);
  else if (kind == command_kind::mpub)
    r = co_await do_mpub(c, cmd);
  else if (kind == command_kind::dpub)
    r = co_await do_dpub(c, cmd);
  else if (kind == command_kind::nop)
    r = std::nullopt;
  else if (kind == command_kind::touch)
    r = co_await do_touch(c, cmd);
  else if (kind == command_kind::sub)
    r = co_await do_sub(c, cmd);
  else if (kind == command_kind::cls)
    r = do_cls(c);
  else if (kind == command_kind::auth)
    r = co_await do_auth(c, cmd);
  else
    r = fatal("E_INVALID", "invalid command " + std::string(cmd.name()));
  co_return r;
}

}  // namespace

core::task<void> read_loop(client& c) {
  net::connection& conn = c.conn();
  for (;;) {
    conn.set_read_timeout(c.read_timeout());
    std::optional<std::string_view> line = co_await conn.read_line(max_line_length);
    if (!line) {
      if (conn.line_too_long())
        c.log().error("[", c.remote_address(), "] failed to read command - line too long");
      else if (conn.last_error() == EPROTO)
        c.log().error("[", c.remote_address(), "] failed to read command - corrupt compressed stream");
      break;
    }
    const command_line cmd = command_line::parse(*line);
    conn.consume(line->size() + 1);  // the views in `cmd` stay valid until the next read
    outcome err = co_await exec(c, cmd);
    if (err) {
      c.log().error("[", c.remote_address(), "] - ", err->code, " ", err->text);
      c.send_error(err->code, err->text);
      if (err->fatal) break;
    }
    co_await c.wait_output_room();
    if (c.ending()) break;
  }
  c.reader_done();
}

}  // namespace nsqd::protocol
