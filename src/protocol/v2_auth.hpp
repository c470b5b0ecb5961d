#pragma once
// AUTH against --auth-http-address servers (SPEC B.5 AUTH, D.12): the request, the answer,
// and the per-client auth session.
//
// A client's auth_session lives in its protocol::client, on the client's shard, and is used only by
// the client's reader coroutine. AUTH calls authenticate() with the secret; PUB/MPUB/DPUB/SUB
// call authorize(), which asks the servers again (same secret) once the answer's ttl has run
// out. The servers are tried in a random rotation until one gives a valid answer; their
// errors are only logged (clients see E_AUTH_FAILED).
//
// Regular expressions are std::regex (ECMAScript) searched unanchored, as Go's MatchString;
// a leading "(?i)" is taken as case-insensitive matching. Other RE2-only syntax fails to
// compile, which makes the whole answer invalid.

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "config/options.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"
#include "net/tls.hpp"

namespace nsqd::protocol {

// One entry of an answer's "authorizations": a topic regex, channel regexes, permissions
// ("subscribe", "publish"). Built by parse_auth_response(), which compiles the regexes.
struct authorization {
  std::string topic;
  std::vector<std::string> channels;
  std::vector<std::string> permissions;
  std::regex topic_regex;
  std::vector<std::regex> channel_regexes;

  bool has_permission(std::string_view permission) const;
  // Upstream's IsAllowed: channel "" needs "publish", any other "subscribe"; then the topic
  // regex and at least one channel regex must match somewhere in the name.
  bool allows(std::string_view topic_name, std::string_view channel_name) const;
};

// A valid answer of an auth server.
struct auth_state {
  std::int64_t ttl = 0;  // seconds, > 0
  std::string identity;
  std::string identity_url;
  std::vector<authorization> authorizations;
  core::clock::time_point expires{};  // receive time + ttl

  bool expired(core::clock::time_point now) const noexcept { return expires < now; }
  // Some authorization allows this (channel "" for publishing).
  bool allows(std::string_view topic_name, std::string_view channel_name) const;
};

// An answer or why there is none (state unset, error says why).
struct auth_answer {
  std::optional<auth_state> state;
  std::string error;
};

// Reads a 200 answer's body as Go's json.Unmarshal into upstream's State would (keys matched
// case-insensitively, unknown keys ignored, null leaves a field empty, a wrong type is an
// error), then validates: unknown permission, a regex that does not compile, or ttl <= 0 is
// an error. `now` + ttl is the expiry.
auth_answer parse_auth_response(std::string_view body, core::clock::time_point now);

// What the servers are told about the client.
struct auth_params {
  std::string remote_ip;    // "" for unix sockets
  bool tls = false;
  std::string secret;
  std::string common_name;  // TLS peer certificate CN, or ""
};

// The address itself when it contains "://", else "http://<address>/auth".
std::string auth_endpoint(std::string_view address);
// url.Values.Encode of the parameters: common_name, remote_ip, secret, tls (sorted, escaped).
std::string auth_query(const auth_params& p);
// The JSON body of a "post" request: every value in an array, keys sorted, e.g.
// {"common_name":[""],"remote_ip":["1.2.3.4"],"secret":["s"],"tls":["false"]}.
std::string auth_post_body(const auth_params& p);

// One server: GET endpoint?query (or POST the JSON body, per --auth-http-request-method),
// Accept: application/vnd.nsq; version=1.0, the --http-client-* timeouts, the answer bounded
// by --max-body-size; https endpoints through `tls` (the client context: --tls-root-ca-file).
// As upstream's client, a 403 from a plain http endpoint is asked again over https, on the
// "https_port" its JSON body names (an nsqd-like server that requires TLS). Any other
// non-200 answer is an error.
core::task<auth_answer> query_auth_server(const config::options& opts, std::string address,
                                          auth_params params, const net::tls_context* tls);
// Every --auth-http-address in a rotation from a random start until one answers validly;
// the error names each failed server ("failed to auth against A - ...; failed to auth ...").
core::task<auth_answer> query_auth_servers(const config::options& opts, auth_params params,
                                           const net::tls_context* tls);
// The https endpoint a 403 body {"https_port": N} points at: `endpoint` (with an explicit
// port) with scheme https and port N, path and query kept. nullopt with `error` (Go's
// words) when the body or the endpoint does not allow it.
std::optional<std::string> https_endpoint(std::string_view endpoint, std::string_view body, std::string& error);

// The AUTH response frame: {"identity":…,"identity_url":…,"permission_count":N}.
std::string auth_success_json(const auth_state& state);

// "1.2.3.4:5" -> "1.2.3.4", "[::1]:5" -> "::1", "" -> "".
std::string remote_ip_of(std::string_view remote_address);

// One client's auth: the parameters (secret included) of its AUTH and the last valid answer
// (kept even when it has no authorizations, as upstream does).
class auth_session {
 public:
  // An answer with at least one authorization is held.
  bool has_authorizations() const noexcept { return _state && !_state->authorizations.empty(); }
  // The last valid answer, or nullptr.
  const auth_state* state() const noexcept { return _state ? &*_state : nullptr; }

  // AUTH: remembers `params` for later re-queries and asks the servers. Returns "" on
  // success (the answer is then held; check has_authorizations()), else the error.
  core::task<std::string> authenticate(const config::options& opts, auth_params params,
                                       const net::tls_context* tls);

  enum class verdict { allowed, unauthorized, failed };
  // PUB/MPUB/DPUB (channel "") or SUB: asks the servers again first if the answer expired;
  // `failed` (with `error` set) when that re-query fails; the old answer is then kept.
  core::task<verdict> authorize(const config::options& opts, const net::tls_context* tls,
                                std::string topic, std::string channel, std::string& error);

 private:
  auth_params _params;
  std::optional<auth_state> _state;
};

}  // namespace nsqd::protocol
