#pragma once
// An outbound HTTP/1.1 client on our loop, for the few requests nsqd makes (auth servers):
// one request per connection, http or https (with a client TLS context), Go's http.Client
// timeouts.
//
//   http_client_request req{"GET", "http://127.0.0.1:4181/auth?secret=x", {{"Accept", "..."}}};
//   http_client_result r = co_await http_fetch(std::move(req), limits);
//   if (!r.error.empty()) ...          // could not get an answer: r.error says why
//   else if (r.status != 200) ...      // an answer: r.status, r.body
//
// The host is resolved with getaddrinfo at call time (blocking: instant for numeric
// addresses); each resolved address is tried in order until one connects. The response is
// read with Boost.Beast's parser (Content-Length, chunked, or until EOF) and 1xx interim
// answers are skipped. Nothing here throws on I/O failures; the awaiting coroutine's
// cancellation ends the request with an error.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/task.hpp"
#include "net/tls.hpp"

namespace nsqd::net {

// An absolute http URL taken apart. A value.
struct http_url {
  std::string scheme;  // "http" or "https" (lower-cased)
  std::string host;    // without brackets: "127.0.0.1", "::1", "auth.example"
  std::string port;    // "80" (https: "443") when the URL gives none
  std::string target;  // request-target: path (at least "/") and "?query" as written
  std::string authority;  // the Host header: host[:port] as written in the URL
};

// Parses "scheme://host[:port][/path][?query][#fragment]" (the fragment is dropped).
// nullopt with `error` set when the URL has no scheme or host, a bad port, or a scheme other
// than http and https.
std::optional<http_url> parse_http_url(std::string_view url, std::string& error);

// Go's url.QueryEscape: letters, digits and - _ . ~ kept, ' ' as '+', every other byte %XX.
std::string query_escape(std::string_view text);

// Bounds of one request. A zero duration means no limit, as in Go.
struct http_client_limits {
  std::chrono::nanoseconds connect_timeout{0};  // each connect (Go's dial timeout)
  std::chrono::nanoseconds request_timeout{0};  // the whole exchange, connect included
  std::uint64_t max_body_size = 5242880;         // response bodies larger than this fail
  // For https URLs: the client context (trusted roots, minimum version; it outlives the
  // request); the handshake (SNI and the certificate's name: the URL's host) counts in the
  // request timeout, and at most 10 s (Go's TLSHandshakeTimeout). Null: https fails.
  const tls_context* tls = nullptr;
};

struct http_client_request {
  std::string method = "GET";
  std::string url;  // absolute http URL
  // Extra headers, sent after Host and User-Agent (Content-Length is added for a body).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent when not empty
};

// What came back. `error` empty: `status` and `body` are the server's answer (any status).
// `error` set: no usable answer (resolve, connect, send or read failure, timeout, malformed
// or oversized response, cancellation); status is then 0.
struct http_client_result {
  std::string error;
  unsigned status = 0;
  std::string reason;  // the status line's reason phrase
  std::string body;
};

// One request on a fresh connection, closed afterwards. Never throws for I/O reasons.
core::task<http_client_result> http_fetch(http_client_request request, http_client_limits limits);

}  // namespace nsqd::net
