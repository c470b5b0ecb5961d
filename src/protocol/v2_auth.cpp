#include "protocol/v2_auth.hpp"

#include <algorithm>
#include <random>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "go/go_syntax.hpp"
#include "net/http_client.hpp"

namespace nsqd::protocol {

namespace {

namespace json = boost::json;

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

std::string_view view(const json::string& s) { return {s.data(), s.size()}; }
std::string_view view(json::string_view s) { return {s.data(), s.size()}; }  // keys

// Setters in json.Unmarshal's manner: false on a type mismatch; null leaves the field.
bool set(std::string& out, const json::value& v) {
  if (v.is_null()) return true;
  if (!v.is_string()) return false;
  out = std::string(view(v.get_string()));
  return true;
}
bool set(std::int64_t& out, const json::value& v) {
  if (v.is_null()) return true;
  if (!v.is_int64()) return false;  // fractions, exponents and > INT64_MAX do not fit Go's int
  out = v.get_int64();
  return true;
}
bool set(authorization& out, const json::value& v);
// A JSON array into a vector, element by element (null leaves it empty).
template <class T>
bool set(std::vector<T>& out, const json::value& v) {
  out.clear();
  if (v.is_null()) return true;
  if (!v.is_array()) return false;
  bool ok = true;
  for (const json::value& e : v.get_array()) {
    out.emplace_back();
    ok = set(out.back(), e) && ok;
  }
  return ok;
}
bool set(authorization& out, const json::value& v) {
  if (v.is_null()) return true;
  if (!v.is_object()) return false;
  bool ok = true;
  for (const auto& kv : v.get_object()) {
    const std::string_view key = view(kv.key());
    if (iequals(key, "topic"))
      ok = set(out.topic, kv.value()) && ok;
    else if (iequals(key, "channels"))
      ok = set(out.channels, kv.value()) && ok;
    else if (iequals(key, "permissions"))
      ok = set(out.permissions, kv.value()) && ok;
  }
  return ok;
}

// Compiles `pattern`; a leading "(?i)" (RE2's flag group) becomes icase. False on a bad
// pattern, with `error` set.
bool compile(const std::string& pattern, std::regex& out, std::string& error) {
  std::string_view p = pattern;
  auto flags = std::regex::ECMAScript;
  if (p.substr(0, 4) == "(?i)") {
    p.remove_prefix(4);
    flags |= std::regex::icase;
  }
  try {
    out = std::regex(p.begin(), p.end(), flags);
    return true;
  } catch (const std::regex_error& e) {
    error = e.what();
    return false;
  }
}

bool search(const std::regex& re, std::string_view text) {
  try {
    return std::regex_search(text.begin(), text.end(), re);
  } catch (const std::regex_error&) {  // too complex for std::regex: no match
    return false;
  }
}

}  // namespace

// ---- authorizations ---------------------------------------------------------------------------

bool authorization::has_permission(std::string_view permission) const {
  return std::find(permissions.begin(), permissions.end(), permission) != permissions.end();
}

bool authorization::allows(std::string_view topic_name, std::string_view channel_name) const {
  if (!has_permission(channel_name.empty() ? "publish" : "subscribe")) return false;
  if (!search(topic_regex, topic_name)) return false;
  return std::any_of(channel_regexes.begin(), channel_regexes.end(),
                     [&](const std::regex& re) { return search(re, channel_name); });
}

bool auth_state::allows(std::string_view topic_name, std::string_view channel_name) const {
  return std::any_of(authorizations.begin(), authorizations.end(),
                     [&](const authorization& a) { return a.allows(topic_name, channel_name); });
}

auth_answer parse_auth_response(std::string_view body, core::clock::time_point now) {
  auth_answer out;
  json::parse_options po;
  po.max_depth = 10000;          // Go's decoder nests this deep
  po.allow_invalid_utf8 = true;  // Go replaces bad bytes instead of failing
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec, {}, po);
  if (ec) {
    out.error = "failed to decode JSON body - " + ec.message();
    return out;
  }
  auth_state s;
  if (!doc.is_null()) {
    if (!doc.is_object()) {
      out.error = "failed to decode JSON body - not an object";
      return out;
    }
    bool ok = true;  // Go reports a type mismatch after decoding the rest: same outcome
    for (const auto& kv : doc.get_object()) {
      const std::string_view key = view(kv.key());
      if (iequals(key, "ttl"))
        ok = set(s.ttl, kv.value()) && ok;
      else if (iequals(key, "identity"))
        ok = set(s.identity, kv.value()) && ok;
      else if (iequals(key, "identity_url"))
        ok = set(s.identity_url, kv.value()) && ok;
      else if (iequals(key, "authorizations"))
        ok = set(s.authorizations, kv.value()) && ok;
    }
    if (!ok) {
      out.error = "failed to decode JSON body - a field has the wrong type";
      return out;
    }
  }
  for (authorization& a : s.authorizations) {
    for (const std::string& p : a.permissions)
      if (p != "subscribe" && p != "publish") {
        out.error = "unknown permission " + p;
        return out;
      }
    std::string why;
    if (!compile(a.topic, a.topic_regex, why)) {
      out.error = "unable to compile topic " + go::quote(a.topic) + " " + why;
      return out;
    }
    for (const std::string& c : a.channels) {
      a.channel_regexes.emplace_back();
      if (!compile(c, a.channel_regexes.back(), why)) {
        out.error = "unable to compile channel " + go::quote(c) + " " + why;
        return out;
      }
    }
  }
  if (s.ttl <= 0) {
    out.error = "invalid TTL " + std::to_string(s.ttl) + " (must be >0)";
    return out;
  }
  s.expires = now + std::chrono::seconds(s.ttl);
  out.state = std::move(s);
  return out;
}

// ---- the request ------------------------------------------------------------------------------

std::string auth_endpoint(std::string_view address) {
  if (address.find("://") != std::string_view::npos) return std::string(address);
  return "http://" + std::string(address) + "/auth";
}

std::string auth_query(const auth_params& p) {
  return "common_name=" + net::query_escape(p.common_name) + "&remote_ip=" + net::query_escape(p.remote_ip) +
         "&secret=" + net::query_escape(p.secret) + "&tls=" + (p.tls ? "true" : "false");
}

std::string auth_post_body(const auth_params& p) {
  using go::json_string;
  return "{\"common_name\":[" + json_string(p.common_name) + "],\"remote_ip\":[" +
         json_string(p.remote_ip) + "],\"secret\":[" + json_string(p.secret) + "],\"tls\":[\"" +
         (p.tls ? "true" : "false") + "\"]}";
}

std::optional<std::string> https_endpoint(std::string_view endpoint, std::string_view body, std::string& error) {
  boost::system::error_code ec;
  const json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec || !v.is_object()) {
    error = ec ? "invalid character in 403 response body: " + ec.message()
               : "json: cannot unmarshal 403 response body into Go value of type struct { HTTPSPort int }";
    return std::nullopt;
  }
  std::int64_t port = 0;
  for (const auto& [key, value] : v.get_object())
    if (iequals(view(key), "https_port") && !set(port, value)) {
      error = "json: cannot unmarshal https_port into Go struct field .https_port of type int";
      return std::nullopt;
    }
  std::optional<net::http_url> url = net::parse_http_url(endpoint, error);
  if (!url) return std::nullopt;
  const std::size_t colon = url->authority.rfind(':');
  const bool explicit_port = colon != std::string::npos && url->authority.find(']', colon) == std::string::npos;
  if (!explicit_port) {
    error = "address " + url->authority + ": missing port in address";
    return std::nullopt;
  }
  return "https://" + go::join_host_port(url->host, port) + url->target;
}

core::task<auth_answer> query_auth_server(const config::options& opts, std::string address,
                                          auth_params params, const net::tls_context* tls) {
  const bool post = opts.auth_http_request_method == "post";
  std::string url = auth_endpoint(address);
  if (!post) url += "?" + auth_query(params);
  net::http_client_limits limits;
  limits.connect_timeout = opts.http_client_connect_timeout;
  limits.request_timeout = opts.http_client_request_timeout;
  limits.max_body_size = std::uint64_t(std::max<std::int64_t>(0, opts.max_body_size));
  limits.tls = tls;
  auth_answer out;
  for (;;) {
    net::http_client_request req;
    req.url = url;
    if (post) {
      req.method = "POST";
      req.body = auth_post_body(params);
      req.headers.emplace_back("Content-Type", "application/json");
    } else {
      req.method = "GET";
    }
    req.headers.emplace_back("Accept", "application/vnd.nsq; version=1.0");
    net::http_client_result res = co_await net::http_fetch(std::move(req), limits);
    if (!res.error.empty()) {
      out.error = std::move(res.error);
      co_return out;
    }
    // A server that requires TLS says where its HTTPS is (Go: the prefix is case-sensitive).
    if (res.status == 403 && url.rfind("https", 0) != 0) {
      std::optional<std::string> secure = https_endpoint(url, res.body, out.error);
      if (!secure) co_return out;
      url = std::move(*secure);
      continue;
    }
    if (res.status != 200) {
      out.error = "got response " + std::to_string(res.status) + " " + res.reason + " " + go::quote(res.body);
      co_return out;
    }
    out = parse_auth_response(res.body, core::clock::now());
    co_return out;
  }
}

core::task<auth_answer> query_auth_servers(const config::options& opts, auth_params params,
                                           const net::tls_context* tls) {
  const std::vector<std::string>& addresses = opts.auth_http_addresses;
  auth_answer out;
  if (addresses.empty()) {
    out.error = "no auth server configured";
    co_return out;
  }
  std::random_device seed;
  const std::size_t start = std::uniform_int_distribution<std::size_t>(0, addresses.size() - 1)(seed);
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const std::string& address = addresses[(start + i) % addresses.size()];
    auth_answer a = co_await query_auth_server(opts, address, params, tls);
    if (a.state) co_return a;
    std::string e = "failed to auth against " + address + " - " + a.error;
    if (!out.error.empty()) e += "; " + out.error;
    out.error = std::move(e);
  }
  co_return out;
}

std::string auth_success_json(const auth_state& state) {
  using go::json_string;
  return "{\"identity\":" + json_string(state.identity) + ",\"identity_url\":" +
         json_string(state.identity_url) +
         ",\"permission_count\":" + std::to_string(state.authorizations.size()) + "}";
}

std::string remote_ip_of(std::string_view remote_address) {
  const std::size_t colon = remote_address.rfind(':');
  if (colon == std::string_view::npos) return "";  // Go's SplitHostPort fails: a unix socket's "@"
  std::string_view host = remote_address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return std::string(host);
}

// ---- the session ------------------------------------------------------------------------------

core::task<std::string> auth_session::authenticate(const config::options& opts, auth_params params,
                                                   const net::tls_context* tls) {
  _params = std::move(params);
  auth_answer a = co_await query_auth_servers(opts, _params, tls);
  if (!a.state) co_return a.error;
  _state = std::move(a.state);
  co_return std::string();
}

core::task<auth_session::verdict> auth_session::authorize(const config::options& opts,
                                                          const net::tls_context* tls, std::string topic,
                                                          std::string channel, std::string& error) {
  if (!_state) co_return verdict::unauthorized;
  if (_state->expired(core::clock::now())) {
    auth_answer a = co_await query_auth_servers(opts, _params, tls);
    if (!a.state) {
      error = std::move(a.error);
      co_return verdict::failed;
    }
    _state = std::move(a.state);
  }
  if (_state->allows(topic, channel)) co_return verdict::allowed;
  co_return verdict::unauthorized;
}

}  // namespace nsqd::protocol
