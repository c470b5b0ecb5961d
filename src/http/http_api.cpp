#include "http/http_api.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <variant>
#include <vector>

#include "core/cross_shard.hpp"
#include "go/duration.hpp"
#include "go/go_syntax.hpp"
#include "http/http_api_metrics.hpp"
#include "http/http_api_stats.hpp"
#include "model/names.hpp"
#include "net/big_endian.hpp"

namespace nsqd::http {

namespace {

using admin = broker::broker_shard::admin;
using go::json_string;

net::http_response ok_empty() { return net::v1_text({}); }

// Upstream's boolParams: "true"/"1" and "false"/"0"; nullopt for anything else.
std::optional<bool> bool_param(std::string_view v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return std::nullopt;
}

std::uint64_t limit_of(std::int64_t configured) {
  return configured < 0 ? 0 : static_cast<std::uint64_t>(configured);
}

// /mpub?binary=true's body: [int32 count]([int32 size][bytes])*, checked as upstream's readMPUB
// (the error is the TCP code without "E_"). Bytes after the last message are ignored.
std::variant<std::vector<std::string_view>, std::string_view> parse_binary_mpub(
    std::string_view body, std::int64_t max_msg_size, std::int64_t max_body_size) {
  if (body.size() < 4) return std::string_view("BAD_BODY");
  const std::int32_t count = net::get_i32(body.data());
  body.remove_prefix(4);
  if (count <= 0 || count > (max_body_size - 4) / 5) return std::string_view("BAD_BODY");
  std::vector<std::string_view> out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::int32_t i = 0; i < count; ++i) {
    if (body.size() < 4) return std::string_view("BAD_MESSAGE");
    const std::int32_t size = net::get_i32(body.data());
    body.remove_prefix(4);
    if (size <= 0 || size > max_msg_size) return std::string_view("BAD_MESSAGE");
    if (body.size() < static_cast<std::size_t>(size)) return std::string_view("BAD_MESSAGE");
    out.push_back(body.substr(0, static_cast<std::size_t>(size)));
    body.remove_prefix(static_cast<std::size_t>(size));
  }
  return out;
}

// The topic of /pub, /mpub and /topic/create (upstream's getTopicFromQuery, before it creates
// the topic): its name, or the error answer.
std::variant<std::string, net::http_response> topic_from_query(const net::http_request& req) {
  const auto query = net::http_query::parse(req.raw_query());
  if (!query) return net::v1_error(400, "INVALID_REQUEST");
  const auto topic = query->get("topic");
  if (!topic) return net::v1_error(400, "MISSING_ARG_TOPIC");
  if (!is_valid_topic_name(*topic)) return net::v1_error(400, "INVALID_TOPIC");
  return std::string(*topic);
}

// upstream's GetTopicChannelArgs: topic and channel, present and valid.
struct topic_channel {
  std::string topic;
  std::string channel;
};
std::variant<topic_channel, net::http_response> topic_channel_from_query(const net::http_request& req) {
  const auto query = net::http_query::parse(req.raw_query());
  if (!query) return net::v1_error(400, "INVALID_REQUEST");
  const auto topic = query->get("topic");
  if (!topic) return net::v1_error(400, "MISSING_ARG_TOPIC");
  if (!is_valid_topic_name(*topic)) return net::v1_error(400, "INVALID_ARG_TOPIC");
  const auto channel = query->get("channel");
  if (!channel) return net::v1_error(400, "MISSING_ARG_CHANNEL");
  if (!is_valid_channel_name(*channel)) return net::v1_error(400, "INVALID_ARG_CHANNEL");
  return topic_channel{std::string(*topic), std::string(*channel)};
}

}  // namespace

http_api::http_api(broker::broker_shard& broker, http_shared& shared, bool over_tls)
    : _broker(broker), _shared(shared), _over_tls(over_tls) {
  _router.add("GET", "/ping", {&http_api::ping})
      .add("GET", "/info", {&http_api::info})
      .add("POST", "/pub", {&http_api::pub, body_use::message, false})
      .add("POST", "/mpub", {&http_api::mpub, body_use::batch, false})
      .add("GET", "/stats", {&http_api::stats})
      .add("POST", "/topic/create", {&http_api::topic_create})
      .add("POST", "/topic/delete", {&http_api::topic_delete})
      .add("POST", "/topic/empty", {&http_api::topic_empty})
      .add("POST", "/topic/pause", {&http_api::topic_pause})
      .add("POST", "/topic/unpause", {&http_api::topic_unpause})
      .add("POST", "/channel/create", {&http_api::channel_create})
      .add("POST", "/channel/delete", {&http_api::channel_delete})
      .add("POST", "/channel/empty", {&http_api::channel_empty})
      .add("POST", "/channel/pause", {&http_api::channel_pause})
      .add("POST", "/channel/unpause", {&http_api::channel_unpause})
      .add("GET", "/config/:opt", {&http_api::config_get})
      .add("PUT", "/config/:opt", {&http_api::config_put, body_use::config_value})
      .add("GET", "/metrics", {&http_api::metrics});
}

std::uint64_t http_api::body_limit(const net::http_request& req) const {
  const auto m = _router.route(req);
  if (m.outcome != net::http_route_outcome::matched) return ignored_body_limit;
  switch (m.handler->body) {
    case body_use::message:
    case body_use::config_value: return limit_of(opts().max_msg_size);
    case body_use::batch: return limit_of(opts().max_body_size);
    case body_use::ignored: break;
  }
  return ignored_body_limit;
}

core::task<net::http_response> http_api::handle(const net::http_request& req, std::string_view remote) {
  const auto start = std::chrono::steady_clock::now();
  // A plain-HTTP listener of a server that requires TLS refuses everything (upstream's
  // ServeHTTP, before routing; not logged).
  if (!_over_tls && opts().tls_required == config::tls_required::yes) co_return tls_required_response();
  auto m = _router.route(req);
  if (m.outcome != net::http_route_outcome::matched) {
    if (m.outcome == net::http_route_outcome::not_found ||
        m.outcome == net::http_route_outcome::method_not_allowed)
      log_request(m.response.status, req, remote, start);
    co_return std::move(m.response);
  }
  const endpoint& e = *m.handler;
  net::http_response resp;
  try {
    net::http_response r = co_await (this->*e.fn)(req, m.param);
    resp = std::move(r);
  } catch (const std::exception& ex) {
    log().error("panic in HTTP handler - ", ex.what());
    resp = net::v1_error(500, "INTERNAL_ERROR");
  }
  if (e.logged) log_request(resp.status, req, remote, start);
  co_return resp;
}

core::task<net::http_response> http_api::handle_oversized(const net::http_request& req,
                                                     std::string_view remote) {
  const auto start = std::chrono::steady_clock::now();
  if (!_over_tls && opts().tls_required == config::tls_required::yes) co_return tls_required_response();
  const auto m = _router.route(req);
  if (m.outcome == net::http_route_outcome::matched && m.handler->body != body_use::ignored) {
    net::http_response resp;
    switch (m.handler->body) {
      case body_use::message: resp = net::v1_error(413, "MSG_TOO_BIG"); break;
      case body_use::batch: resp = net::v1_error(413, "BODY_TOO_BIG"); break;
      default: resp = net::v1_error(413, "INVALID_VALUE"); break;
    }
    if (m.handler->logged) log_request(resp.status, req, remote, start);
    co_return resp;
  }
  net::http_response resp = co_await handle(req, remote);
  co_return resp;
}

void http_api::log_request(unsigned status, const net::http_request& req, std::string_view remote,
                           std::chrono::steady_clock::time_point start) const {
  if (!log().enabled(core::log_level::info)) return;
  const auto elapsed = std::chrono::steady_clock::now() - start;
  log().info(status, ' ', req.method(), ' ', req.target(), " (", remote, ") ",
             go::format_duration(elapsed));
}

net::http_response http_api::tls_required_response() const {
  net::http_response r = net::v1_json(R"({"message": "TLS_REQUIRED", "https_port": )" +
                            std::to_string(std::max(_shared.https_port, 0)) + "}");  // no HTTPS: 0, as upstream
  r.status = 403;
  return r;
}

// ---- endpoints ------------------------------------------------------------------------------

core::task<net::http_response> http_api::ping(const net::http_request&, const std::string&) {
  const storage::node_health* health = _broker.health();
  if (health && !health->ok()) co_return net::plain_text(500, "NOK - " + health->error());
  co_return net::plain_text(200, "OK");
}

core::task<net::http_response> http_api::info(const net::http_request&, const std::string&) {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host) != 0) co_return net::v1_error(500, std::strerror(errno));
  const config::options& o = opts();
  const auto start = std::chrono::duration_cast<std::chrono::seconds>(
      _shared.start_time.time_since_epoch());
  std::string j = "{\"version\":" + json_string(nsqd_version);
  j += ",\"broadcast_address\":" + json_string(o.broadcast_address);
  j += ",\"hostname\":" + json_string(host);
  j += ",\"http_port\":" + std::to_string(_shared.http_port);
  j += ",\"tcp_port\":" + std::to_string(_shared.tcp_port);
  j += ",\"start_time\":" + std::to_string(start.count());
  j += ",\"max_heartbeat_interval\":" + std::to_string(o.max_heartbeat_interval.count());
  j += ",\"max_output_buffer_size\":" + std::to_string(o.max_output_buffer_size);
  j += ",\"max_output_buffer_timeout\":" + std::to_string(o.max_output_buffer_timeout.count());
  j += ",\"max_deflate_level\":" + std::to_string(o.max_deflate_level);
  j += ",\"topology_zone\":" + json_string(o.topology_zone);
  j += ",\"topology_region\":" + json_string(o.topology_region);
  co_return net::v1_json(j + "}");
}

core::task<net::http_response> http_api::pub(const net::http_request& req, const std::string&) {
  // The body first (its size was bounded by body_limit), then the topic, as upstream.
  if (req.body().empty()) co_return net::v1_error(400, "MSG_EMPTY");
  auto topic_name = topic_from_query(req);
  if (auto* err = std::get_if<net::http_response>(&topic_name)) co_return std::move(*err);
  const auto query = net::http_query::parse(req.raw_query());
  // Upstream creates the topic before it looks at `defer`.
  broker::topic* topic = co_await _broker.get_topic(std::move(std::get<std::string>(topic_name)));
  std::chrono::milliseconds delay{0};
  if (const auto d = query->get("defer")) {
    std::int64_t ms = 0;
    if (go::parse_int(*d, 10, ms) != go::num_error::none)
      co_return net::v1_error(400, "INVALID_DEFER");
    const auto max_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(opts().max_req_timeout).count();
    if (ms < 0 || ms > max_ms) co_return net::v1_error(400, "INVALID_DEFER");
    delay = std::chrono::milliseconds(ms);
  }
  message_body body = message_body::copy_of(req.body());
  if (delay.count() > 0)
    topic->publish_deferred(std::move(body), delay);
  else
    topic->publish(std::move(body));
  int stored = co_await _broker.commit_unflushed();  // messages on disk are written before OK
  if (stored < 0) co_return net::v1_error(503, "EXITING");
  co_return net::v1_text("OK");
}

core::task<net::http_response> http_api::mpub(const net::http_request& req, const std::string&) {
  auto topic_name = topic_from_query(req);
  if (auto* err = std::get_if<net::http_response>(&topic_name)) co_return std::move(*err);
  const auto query = net::http_query::parse(req.raw_query());
  bool binary = false;
  if (const auto b = query->get("binary")) {
    const auto flag = bool_param(*b);
    if (!flag) log().warn("deprecated value '", *b, "' used for /mpub binary param");
    binary = flag.value_or(true);
  }
  // Every message is checked before the topic is created or anything is queued (quirk 4).
  std::vector<std::string_view> messages;
  const std::string_view body = req.body();
  if (binary) {
    auto parsed = parse_binary_mpub(body, opts().max_msg_size, opts().max_body_size);
    if (auto* code = std::get_if<std::string_view>(&parsed)) co_return net::v1_error(413, *code);
    messages = std::move(std::get<std::vector<std::string_view>>(parsed));
  } else {
    std::size_t pos = 0;
    while (pos < body.size()) {
      const auto nl = body.find('\n', pos);
      const auto end = nl == std::string_view::npos ? body.size() : nl;
      const std::string_view line = body.substr(pos, end - pos);
      pos = end + 1;
      if (line.empty()) continue;  // upstream skips empty lines silently
      if (static_cast<std::int64_t>(line.size()) > opts().max_msg_size)
        co_return net::v1_error(413, "MSG_TOO_BIG");
      messages.push_back(line);
    }
  }
  broker::topic* topic = co_await _broker.get_topic(std::move(std::get<std::string>(topic_name)));
  for (const std::string_view m : messages) topic->publish(message_body::copy_of(m));
  int stored = co_await _broker.commit_unflushed();  // messages on disk are written before OK
  if (stored < 0) co_return net::v1_error(503, "EXITING");
  co_return net::v1_text("OK");
}

core::task<net::http_response> http_api::stats(const net::http_request& req, const std::string&) {
  const auto query = net::http_query::parse(req.raw_query());
  if (!query) co_return net::v1_error(400, "INVALID_REQUEST");
  const auto param = [&](std::string_view key) { return std::string(query->get(key).value_or("")); };
  const std::string format = param("format");
  const std::string topic = param("topic");
  const std::string channel = param("channel");

  stats_document doc;
  doc.version = std::string(nsqd_version);
  doc.start_time = _shared.start_time;
  doc.include_clients = bool_param(param("include_clients")).value_or(true);
  if (bool_param(param("include_mem")).value_or(true)) doc.memory = read_memory_stats();
  doc.topics = co_await _broker.gather_stats(topic, channel, doc.include_clients);
  // A topic filter that names no topic gives `null`; one whose topic lacks the channel, `[]`.
  doc.topics_null = !topic.empty() && doc.topics.empty() &&
                    (channel.empty() || _broker.find_topic(topic) == nullptr);
  if (doc.include_clients) doc.producers = co_await _broker.gather_producers();
  doc.now = std::chrono::system_clock::now();
  if (format == "json") co_return net::v1_json(stats_json(doc));
  co_return net::v1_text(stats_text(doc, config::version_string()));
}

core::task<net::http_response> http_api::metrics(const net::http_request&, const std::string&) {
  metrics_snapshot m;
  m.version = std::string(nsqd_version);
  m.start_time = _shared.start_time;
  m.topics = co_await _broker.gather_stats({}, {}, false);
  for (unsigned n = 0; n < _broker.shard_count(); ++n) {
    broker::broker_shard* peer = _broker.peer(n);
    const core::reactor::counters c = co_await core::on_shard(
        n, [peer]() -> core::reactor::counters { return peer->reactor().stats(); });
    m.shards.push_back(c);
  }
  m.memory = read_memory_stats();
  net::http_response r;
  r.set_header("Content-Type", std::string(metrics_content_type));
  r.body = render_metrics(m);
  co_return r;
}

core::task<net::http_response> http_api::topic_create(const net::http_request& req, const std::string&) {
  auto topic_name = topic_from_query(req);
  if (auto* err = std::get_if<net::http_response>(&topic_name)) co_return std::move(*err);
  co_await _broker.get_topic(std::move(std::get<std::string>(topic_name)));
  co_return ok_empty();
}

core::task<net::http_response> http_api::topic_delete(const net::http_request& req, const std::string&) {
  return topic_state(req, admin::remove);
}

core::task<net::http_response> http_api::topic_empty(const net::http_request& req, const std::string&) {
  const auto query = net::http_query::parse(req.raw_query());
  if (!query) co_return net::v1_error(400, "INVALID_REQUEST");
  const auto topic = query->get("topic");
  if (!topic) co_return net::v1_error(400, "MISSING_ARG_TOPIC");
  if (!is_valid_topic_name(*topic)) co_return net::v1_error(400, "INVALID_TOPIC");
  const bool found = co_await _broker.topic_admin(std::string(*topic), admin::empty);
  if (!found) co_return net::v1_error(404, "TOPIC_NOT_FOUND");
  co_return ok_empty();
}

core::task<net::http_response> http_api::topic_pause(const net::http_request& req, const std::string&) {
  return topic_state(req, admin::pause);
}

core::task<net::http_response> http_api::topic_unpause(const net::http_request& req, const std::string&) {
  return topic_state(req, admin::unpause);
}

// Delete, pause and unpause take the name as given: an invalid one simply does not exist.
core::task<net::http_response> http_api::topic_state(const net::http_request& req, admin op) {
  const auto query = net::http_query::parse(req.raw_query());
  if (!query) co_return net::v1_error(400, "INVALID_REQUEST");
  const auto topic = query->get("topic");
  if (!topic) co_return net::v1_error(400, "MISSING_ARG_TOPIC");
  // TODO(durability): upstream persists nsqd.dat after pause/unpause and after a delete.
  const bool found = co_await _broker.topic_admin(std::string(*topic), op);
  if (!found) co_return net::v1_error(404, "TOPIC_NOT_FOUND");
  co_return ok_empty();
}

core::task<net::http_response> http_api::channel_create(const net::http_request& req, const std::string&) {
  auto args = topic_channel_from_query(req);
  if (auto* err = std::get_if<net::http_response>(&args)) co_return std::move(*err);
  auto& [topic, channel] = std::get<topic_channel>(args);
  // The topic must exist already (on every shard: creation reaches them all before it returns).
  if (!_broker.find_topic(topic)) co_return net::v1_error(404, "TOPIC_NOT_FOUND");
  co_await _broker.get_channel(std::move(topic), std::move(channel));
  co_return ok_empty();
}

core::task<net::http_response> http_api::channel_delete(const net::http_request& req, const std::string&) {
  return channel_op(req, admin::remove);
}

core::task<net::http_response> http_api::channel_empty(const net::http_request& req, const std::string&) {
  return channel_op(req, admin::empty);
}

core::task<net::http_response> http_api::channel_pause(const net::http_request& req, const std::string&) {
  return channel_op(req, admin::pause);
}

core::task<net::http_response> http_api::channel_unpause(const net::http_request& req, const std::string&) {
  return channel_op(req, admin::unpause);
}

core::task<net::http_response> http_api::channel_op(const net::http_request& req, admin op) {
  auto args = topic_channel_from_query(req);
  if (auto* err = std::get_if<net::http_response>(&args)) co_return std::move(*err);
  auto& [topic, channel] = std::get<topic_channel>(args);
  if (!_broker.find_topic(topic)) co_return net::v1_error(404, "TOPIC_NOT_FOUND");
  const bool found = co_await _broker.channel_admin(std::move(topic), std::move(channel), op);
  if (!found) co_return net::v1_error(404, "CHANNEL_NOT_FOUND");
  co_return ok_empty();
}

core::task<net::http_response> http_api::config_get(const net::http_request&, const std::string& opt) {
  co_return config_value(opt);
}

core::task<net::http_response> http_api::config_put(const net::http_request& req, const std::string& opt) {
  // The body's size was bounded by body_limit (--max-msg-size); empty is refused the same way.
  const std::string& body = req.body();
  if (body.empty()) co_return net::v1_error(413, "INVALID_VALUE");
  if (opt == "nsqlookupd_tcp_addresses") {
    auto addresses = config::parse_lookupd_addresses(body);
    if (!addresses) co_return net::v1_error(400, "INVALID_VALUE");
    _shared.settings.set_lookupd_tcp_addresses(std::move(*addresses));
    // The lookup loop reconciles its peers on shard 0.
    config::runtime_settings* settings = &_shared.settings;
    co_await core::on_shard(0, [settings] { settings->changed(); });
  } else if (opt == "log_level") {
    const auto level = config::parse_log_level(body);
    if (!level) co_return net::v1_error(400, "INVALID_VALUE");
    // One logger for every shard; its level is atomic.
    log().set_level(static_cast<core::log_level>(int(*level)));
  } else {
    co_return net::v1_error(400, "INVALID_OPTION");
  }
  co_return config_value(opt);
}

net::http_response http_api::config_value(const std::string& opt) const {
  // The two settings that change at run time are read where they live now.
  if (opt == "log_level") return net::v1_json(std::to_string(int(log().level())));
  if (opt == "nsqlookupd_tcp_addresses")
    return net::v1_json(config::lookupd_addresses_json(_shared.settings.lookupd_tcp_addresses()));
  const auto v = config::config_get(opts(), opt);
  if (!v) return net::v1_error(400, "INVALID_OPTION");
  return v->is_text ? net::v1_text(v->body) : net::v1_json(v->body);
}

}  // namespace nsqd::http
