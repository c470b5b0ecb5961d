#pragma once
// The HTTP API's endpoints (SPEC C): upstream's routes, parameters, answers, status codes and
// error bodies, plus GET /metrics (ours, http_api_metrics.hpp). The connection loop
// (http_server.cpp) parses requests and hands each complete one to handle().
//
// One http_api per shard, built by serve_http() and used by that shard's connections only.
// Endpoints act on the shard's broker part; the broker's global operations (topic_admin,
// channel_admin, gather_stats, get_topic) reach the other shards. `shared` (process facts,
// run-time settings) and the logger are shared by every shard.
//
// Routes: GET /ping /info /stats /metrics /config/:opt, POST /pub /mpub,
// POST /topic/{create,delete,empty,pause,unpause}, POST /channel/{...same}, PUT /config/:opt.
// Upstream's Go-runtime /debug/... endpoints are not offered (404, quirk 1).

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/broker.hpp"
#include "core/task.hpp"
#include "http/http_shared.hpp"
#include "net/http_codec.hpp"
#include "net/http_router.hpp"

namespace nsqd::http {

class http_api {
 public:
  // `over_tls`: this API answers an HTTPS listener (--tls-required=true refuses only plain
  // HTTP, as upstream's two httpServers).
  http_api(broker::broker_shard& broker, http_shared& shared, bool over_tls = false);
  http_api(const http_api&) = delete;
  http_api& operator=(const http_api&) = delete;

  const config::options& opts() const noexcept { return _broker.opts(); }
  const core::logger& log() const noexcept { return _broker.log(); }

  // Asked at a request's `header` event: the most body bytes its endpoint takes. /pub and
  // PUT /config: --max-msg-size; /mpub: --max-body-size; every other request (whose body
  // upstream reads and ignores): ignored_body_limit.
  std::uint64_t body_limit(const net::http_request& req) const;
  static constexpr std::uint64_t ignored_body_limit = std::uint64_t{1} << 20;

  // The answer to a complete request. Never throws: a handler that fails answers 500
  // {"message":"INTERNAL_ERROR"}, as upstream's panic handler. Logs upstream's INFO line
  // `<status> <method> <uri> (<remote>) <elapsed>` for every endpoint but /pub and /mpub
  // (and for 404/405 answers).
  core::task<net::http_response> handle(const net::http_request& req, std::string_view remote);

  // The answer to a request whose body went over body_limit() (the connection closes after
  // it): the endpoint's own 413 when it reads its body (/pub MSG_TOO_BIG, /mpub BODY_TOO_BIG,
  // PUT /config INVALID_VALUE); otherwise its usual answer, made without the body.
  core::task<net::http_response> handle_oversized(const net::http_request& req, std::string_view remote);

 private:
  using handler_fn = core::task<net::http_response> (http_api::*)(const net::http_request&,
                                                             const std::string& param);
  // What an endpoint does with its body.
  enum class body_use : std::uint8_t { ignored, message, batch, config_value };
  struct endpoint {
    handler_fn fn;
    body_use body = body_use::ignored;
    bool logged = true;
  };

  void log_request(unsigned status, const net::http_request& req, std::string_view remote,
                   std::chrono::steady_clock::time_point start) const;
  net::http_response tls_required_response() const;

  core::task<net::http_response> ping(const net::http_request&, const std::string&);
  core::task<net::http_response> info(const net::http_request&, const std::string&);
  core::task<net::http_response> pub(const net::http_request&, const std::string&);
  core::task<net::http_response> mpub(const net::http_request&, const std::string&);
  core::task<net::http_response> stats(const net::http_request&, const std::string&);
  core::task<net::http_response> metrics(const net::http_request&, const std::string&);
  core::task<net::http_response> topic_create(const net::http_request&, const std::string&);
  core::task<net::http_response> topic_delete(const net::http_request&, const std::string&);
  core::task<net::http_response> topic_empty(const net::http_request&, const std::string&);
  core::task<net::http_response> topic_pause(const net::http_request&, const std::string&);
  core::task<net::http_response> topic_unpause(const net::http_request&, const std::string&);
  core::task<net::http_response> channel_create(const net::http_request&, const std::string&);
  core::task<net::http_response> channel_delete(const net::http_request&, const std::string&);
  core::task<net::http_response> channel_empty(const net::http_request&, const std::string&);
  core::task<net::http_response> channel_pause(const net::http_request&, const std::string&);
  core::task<net::http_response> channel_unpause(const net::http_request&, const std::string&);
  core::task<net::http_response> config_get(const net::http_request&, const std::string& opt);
  core::task<net::http_response> config_put(const net::http_request&, const std::string& opt);

  // /topic/pause|unpause and /channel/{delete,empty,pause,unpause}.
  core::task<net::http_response> topic_state(const net::http_request& req, broker::broker_shard::admin op);
  core::task<net::http_response> channel_op(const net::http_request& req, broker::broker_shard::admin op);
  // GET /config/:opt's answer for `opt` (also after a PUT).
  net::http_response config_value(const std::string& opt) const;

  broker::broker_shard& _broker;
  http_shared& _shared;
  bool _over_tls;
  net::http_router<endpoint> _router;
};

}  // namespace nsqd::http
