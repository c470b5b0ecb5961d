#include "net/http_client.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/io.hpp"
#include "go/go_syntax.hpp"
#include "net/connection.hpp"
#include "net/dial.hpp"
#include "net/socket.hpp"

namespace nsqd::net {

namespace http = boost::beast::http;
using boost::beast::error_code;

namespace {

using core::clock;
using std::chrono::nanoseconds;

constexpr std::size_t response_header_limit = 1 << 20;
constexpr std::size_t read_chunk = 16 * 1024;
constexpr nanoseconds tls_handshake_timeout = std::chrono::seconds(10);  // Go's transport

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Go's url.Error prefix: `Get "http://..."`.
std::string go_method(std::string_view method) {
  std::string m = lower(method);
  if (!m.empty()) m[0] = char(std::toupper(static_cast<unsigned char>(m[0])));
  return m;
}

std::string errno_text(int negative_errno) {
  if (negative_errno == -ETIMEDOUT) return "i/o timeout";
  if (negative_errno == -ECANCELED) return "operation cancelled";
  return go::errno_text(negative_errno);
}

// The time left until `deadline` (none = unbounded); zero or less once it has passed.
std::optional<nanoseconds> left(const std::optional<clock::time_point>& deadline) {
  if (!deadline) return std::nullopt;
  return *deadline - clock::now();
}

std::vector<socket_address> resolve(const http_url& url, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::vector<socket_address> out;
  int rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found);
  if (rc != 0) {
    error = "lookup " + url.host + ": " + ::gai_strerror(rc);
    return out;
  }
  for (addrinfo* a = found; a; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    socket_address s;
    std::memcpy(&s.storage, a->ai_addr, a->ai_addrlen);
    s.length = socklen_t(a->ai_addrlen);
    out.push_back(s);
  }
  ::freeaddrinfo(found);
  if (out.empty()) error = "lookup " + url.host + ": no such host";
  return out;
}

std::string request_bytes(const http_client_request& req, const http_url& url) {
  std::string out = req.method + " " + url.target + " HTTP/1.1\r\n";
  out += "Host: " + url.authority + "\r\n";
  out += "User-Agent: Go-http-client/1.1\r\n";
  for (const auto& [name, value] : req.headers) out += name + ": " + value + "\r\n";
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT")
    out += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += req.body;
  return out;
}

using response_parser = http::response_parser<http::string_body>;

void configure(response_parser& p, std::uint64_t max_body) {
  p.header_limit(response_header_limit);
  p.body_limit(max_body);
  p.eager(true);
}

}  // namespace

std::optional<http_url> parse_http_url(std::string_view url, std::string& error) {
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    error = "unsupported protocol scheme \"\"";
    return std::nullopt;
  }
  http_url out;
  out.scheme = lower(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") {
    error = "unsupported protocol scheme \"" + out.scheme + "\"";
    return std::nullopt;
  }
  std::string_view rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));
  const std::size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);  // userinfo: not sent
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) {
      error = "missing ']' in host";
      return std::nullopt;
    }
    std::string_view after = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "invalid port \"" + std::string(after) + "\" after host";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      error = "invalid host \"" + std::string(authority) + "\"";
      return std::nullopt;
    }
  }
  if (host.empty()) {
    error = "no Host in request URL";
    return std::nullopt;
  }
  if (!all_digits(port) || port.size() > 5 || (!port.empty() && std::stoi(std::string(port)) > 65535)) {
    error = "invalid port \":" + std::string(port) + "\" after host";
    return std::nullopt;
  }
  out.host = std::string(host);
  out.port = !port.empty() ? std::string(port) : out.scheme == "https" ? "443" : "80";
  out.authority = std::string(authority);
  out.target = std::string(target);
  if (out.target.empty() || out.target.front() == '?') out.target.insert(0, "/");
  return out;
}

std::string query_escape(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

core::task<http_client_result> http_fetch(http_client_request request, http_client_limits limits) {
  http_client_result out;
  const std::string prefix = go_method(request.method) + " \"" + request.url + "\": ";
  std::string error;
  std::optional<http_url> url = parse_http_url(request.url, error);
  if (!url) {
    out.error = prefix + error;
    co_return out;
  }
  std::optional<clock::time_point> deadline;
  if (limits.request_timeout.count() > 0) deadline = clock::now() + limits.request_timeout;

  // ---- connect: each resolved address in turn ----
  const std::string dial = "dial tcp " + url->host + ":" + url->port + ": ";
  std::vector<socket_address> addrs = resolve(*url, error);
  if (addrs.empty()) {
    out.error = prefix + dial + error;
    co_return out;
  }
  unique_fd fd;
  int r = -ECONNREFUSED;
  for (const socket_address& addr : addrs) {
    std::optional<nanoseconds> timeout = left(deadline);
    if (limits.connect_timeout.count() > 0 && (!timeout || *timeout > limits.connect_timeout))
      timeout = limits.connect_timeout;
    r = co_await connect_stream(addr, timeout, fd);
    if (r >= 0 || r == -ECANCELED) break;
  }
  if (r < 0) {
    out.error = prefix + dial + "connect: " + errno_text(r);
    co_return out;
  }

  connection conn(std::move(fd), read_chunk);
  if (url->scheme == "https") {
    if (!limits.tls) {
      out.error = prefix + "https is not configured";
      co_return out;
    }
    nanoseconds budget = tls_handshake_timeout;
    if (std::optional<nanoseconds> t = left(deadline)) budget = std::min(budget, *t);
    std::string failed = "i/o timeout";
    if (budget.count() > 0) failed = co_await conn.start_tls(*limits.tls, budget, url->host);
    if (!failed.empty()) {
      out.error = prefix + (failed == "i/o timeout" ? std::string("net/http: TLS handshake timeout") : failed);
      co_return out;
    }
  }

  // ---- send ----
  const std::string bytes = request_bytes(request, *url);
  const std::string_view wire = conn.wire_bytes(bytes);  // encrypted, on https
  for (std::size_t sent = 0; sent < wire.size();) {
    std::optional<nanoseconds> timeout = left(deadline);
    if (timeout && timeout->count() <= 0) {
      r = -ETIMEDOUT;
    } else if (timeout) {
      r = co_await core::send(conn.fd(), wire.data() + sent, wire.size() - sent).timeout(*timeout);
    } else {
      r = co_await core::send(conn.fd(), wire.data() + sent, wire.size() - sent);
    }
    if (r <= 0) {
      out.error = prefix + "write: " + (r == 0 ? std::string("connection closed") : errno_text(r));
      co_return out;
    }
    sent += std::size_t(r);
  }

  // ---- read the answer ----
  std::optional<response_parser> parser;
  parser.emplace();
  configure(*parser, limits.max_body_size);
  for (;;) {
    while (!conn.buffered().empty() && !parser->is_done()) {
      error_code ec;
      const std::string_view in = conn.buffered();
      const std::size_t used = parser->put(boost::asio::buffer(in.data(), in.size()), ec);
      conn.consume(used);
      if (ec == http::error::need_more) break;
      if (ec == http::error::body_limit) {
        out.error = prefix + "response body larger than " + std::to_string(limits.max_body_size) + " bytes";
        co_return out;
      }
      if (ec) {
        out.error = prefix + "malformed HTTP response: " + ec.message();
        co_return out;
      }
    }
    if (parser->is_done()) {
      const unsigned status = parser->get().result_int();
      if (status >= 100 && status < 200 && status != 101) {  // interim answer: skip it
        parser.emplace();
        configure(*parser, limits.max_body_size);
        continue;
      }
      out.status = status;
      out.reason = std::string(parser->get().reason());
      out.body = std::move(parser->get().body());
      co_return out;
    }
    std::optional<nanoseconds> timeout = left(deadline);
    if (timeout && timeout->count() <= 0) {
      r = -ETIMEDOUT;
    } else {
      conn.set_read_timeout(timeout.value_or(nanoseconds(0)));
      const bool more = co_await conn.fill(conn.buffered().size() + 1);
      r = more ? 1 : conn.last_error() == 0 ? 0 : -conn.last_error();
    }
    if (r < 0) {
      out.error = prefix + (r == -ETIMEDOUT ? std::string("request timeout awaiting the response")
                                            : "read: " + errno_text(r));
      co_return out;
    }
    if (r == 0) {  // EOF: completes a body delimited by the end of the stream, else too early
      error_code ec;
      if (parser->got_some()) parser->put_eof(ec);  // (Beast asserts it got something)
      if (ec || !parser->got_some() || !parser->is_done()) {
        out.error = prefix + "unexpected EOF";
        co_return out;
      }
      continue;
    }
  }
}

}  // namespace nsqd::net
