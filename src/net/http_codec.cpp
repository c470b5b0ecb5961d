// http_request_reader over Beast's basic_parser, and the checks Go's net/http makes on a
// request head before a handler sees it.
#include "net/http_codec.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <stdexcept>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

namespace nsqd::net {

namespace http = boost::beast::http;
using boost::beast::error_code;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view view(boost::beast::string_view s) { return {s.data(), s.size()}; }

// Whether a comma-separated header value holds `token` (case-insensitive): Go's hasToken.
bool has_token(std::string_view value, std::string_view token) {
  while (true) {
    const auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

using header_list = std::vector<std::pair<std::string, std::string>>;

std::size_t count(const header_list& headers, std::string_view name) {
  return static_cast<std::size_t>(std::count_if(
      headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); }));
}

std::string_view first_value(const header_list& headers, std::string_view name) {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return {};
}

// Go's HeaderValuesContainsToken over every value of a header.
bool any_has_token(const header_list& headers, std::string_view name, std::string_view token) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) {
    return iequals(h.first, name) && has_token(h.second, token);
  });
}

// httpguts.ValidHostHeader: the bytes a Host value may hold.
bool valid_host(std::string_view host) {
  constexpr std::string_view extra = "!$%&'()*+,-.:;=[]_~";
  return std::all_of(host.begin(), host.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

// Go's url getScheme: "" when `target` has none; nullopt for "missing protocol scheme".
std::optional<std::string_view> scheme_of(std::string_view target) {
  for (std::size_t i = 0; i < target.size(); ++i) {
    const auto c = static_cast<unsigned char>(target[i]);
    if (std::isalpha(c)) continue;
    if (std::isdigit(c) || c == '+' || c == '-' || c == '.') {
      if (i == 0) return std::string_view{};
      continue;
    }
    if (c == ':') return i == 0 ? std::nullopt : std::optional(target.substr(0, i));
    return std::string_view{};
  }
  return std::string_view{};
}

// A request line ending in "HTTP/d.d" whose major digit is not 1 (Go answers 505 to those).
bool is_foreign_version(std::string_view in) {
  auto line = in.substr(0, in.find('\n'));
  if (line.size() == in.size()) return false;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto v = line.substr(line.rfind(' ') + 1);
  const auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  return v.size() == 8 && v.substr(0, 5) == "HTTP/" && digit(v[5]) && v[6] == '.' &&
         digit(v[7]) && v[5] != '1';
}

struct head_problem {
  http_error_kind kind;
  std::string detail;
};

}  // namespace

namespace detail {

// Beast's parser engine writing straight into an http_request.
class request_sink final : public http::basic_parser<true> {
 public:
  explicit request_sink(http_request& req) : _req(req) {}

  // Once the head is parsed: what Go's readRequest and conn.serve check and derive before a
  // handler runs, in their order. nullopt when the request may proceed.
  std::optional<head_problem> finish_head() {
    auto& f = _req._fields;
    if (!parse_target()) return head_problem{http_error_kind::bad_request, {}};
    const std::size_t hosts = count(f, "Host");
    if (hosts > 1) return head_problem{http_error_kind::bad_request, {}};
    if (_req._version >= 11) {  // Go ignores Transfer-Encoding on HTTP/1.0
      const std::size_t te = count(f, "Transfer-Encoding");
      if (te > 1 || (te == 1 && !iequals(first_value(f, "Transfer-Encoding"), "chunked")))
        return head_problem{http_error_kind::unsupported_transfer_encoding, {}};
      if (hosts == 0 && _req._method != "CONNECT")
        return head_problem{http_error_kind::bad_request, "missing required Host header"};
    }
    if (hosts == 1 && !valid_host(first_value(f, "Host")))
      return head_problem{http_error_kind::bad_request, "malformed Host header"};

    const bool close = any_has_token(f, "Connection", "close");
    _req._keep_alive = _req._version >= 11
                           ? !close
                           : !close && any_has_token(f, "Connection", "keep-alive");
    _req._content_length =
        content_length() ? std::optional<std::uint64_t>(*content_length()) : std::nullopt;
    _req._chunked = chunked();

    const auto expect = first_value(f, "Expect");
    if (has_token(expect, "100-continue")) {
      _req._expects_continue =
          _req._version >= 11 && (_req._chunked || _req._content_length.value_or(0) != 0);
    } else if (!expect.empty()) {
      return head_problem{http_error_kind::expectation_failed, {}};
    }
    return std::nullopt;
  }

 private:
  // Go's url.ParseRequestURI: path, query and origin from the target. False if invalid.
  bool parse_target() {
    const std::string_view target = _req._target;
    if (target == "*") {
      _req._path = "*";
      return true;
    }
    const auto scheme = scheme_of(target);
    if (!scheme) return false;
    std::string_view rest = target.substr(scheme->empty() ? 0 : scheme->size() + 1);
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
      _req._has_query = true;
      _req._raw_query = std::string(rest.substr(q + 1));
      rest = rest.substr(0, q);
    }
    if (rest.empty() || rest.front() != '/') return !scheme->empty();  // opaque URL: no path
    if (!scheme->empty() && rest.substr(0, 2) == "//") {
      const auto slash = rest.find('/', 2);
      std::string origin(*scheme);
      std::transform(origin.begin(), origin.end(), origin.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      _req._origin = origin + "://" + std::string(rest.substr(2, slash - 2));
      rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    }
    auto path = path_unescape(rest);
    if (!path) return false;
    _req._path = std::move(*path);
    return true;
  }

  void on_request_impl(http::verb, boost::beast::string_view method,
                       boost::beast::string_view target, int version, error_code&) override {
    _req._method.assign(method.data(), method.size());
    _req._target.assign(target.data(), target.size());
    _req._version = static_cast<unsigned>(version);
  }
  void on_response_impl(int, boost::beast::string_view, int, error_code& ec) override {
    ec = http::error::bad_version;  // unreachable: this parser reads requests
  }
  void on_field_impl(http::field, boost::beast::string_view name,
                     boost::beast::string_view value, error_code&) override {
    if (is_header_done()) return;  // a chunked body's trailer: not headers (Go's req.Trailer)
    _req._fields.emplace_back(std::string(view(name)), std::string(trim(view(value))));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    if (length) _req._body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(boost::beast::string_view body, error_code&) override {
    _req._body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                 error_code&) override {
    _req._body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  http_request& _req;
};

}  // namespace detail

// ---------------------------------------------------------------------------------------------

namespace {

enum class phase : std::uint8_t { idle, head, header_ready, body, done, failed };

// Go drops up to 4 CR/LF bytes in front of the request that follows a POST.
constexpr int crlf_after_post = 4;

}  // namespace

struct http_request_reader::state {
  http_limits limits;
  phase at = phase::idle;
  http_request req;
  std::optional<detail::request_sink> sink;
  std::uint64_t body_limit = 0;
  int skippable_crlf = 0;
  http_parse_error err;

  explicit state(http_limits l) : limits(l) { start(); }

  void start() {
    req = http_request{};
    sink.emplace(req);
    sink->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(limits.header_limit, std::numeric_limits<std::uint32_t>::max())));
    sink->body_limit(boost::none);  // a body's limit is applied once the server chose it
    body_limit = limits.body_limit;
    at = phase::idle;
  }

  http_parse_result fail(std::size_t used, http_error_kind kind, std::string detail = {}) {
    err.kind = kind;
    err.detail = std::move(detail);
    err.version = req.version();
    at = phase::failed;
    return {used, http_event::error};
  }

  http_parse_result parse(std::string_view in) {
    std::size_t used = 0;
    switch (at) {
      case phase::failed:
        return {0, http_event::error};
      case phase::done:
        return {0, http_event::request};
      case phase::header_ready:
        if (req.content_length().value_or(0) > body_limit)
          return fail(0, http_error_kind::body_too_large);
        if (sink->is_done()) {
          at = phase::done;
          return {0, http_event::request};
        }
        if (req.chunked()) sink->body_limit(body_limit);
        sink->eager(true);
        at = phase::body;
        break;
      case phase::idle:
        while (skippable_crlf > 0 && used < in.size() && (in[used] == '\r' || in[used] == '\n')) {
          ++used;
          --skippable_crlf;
        }
        if (used == in.size()) return {used, http_event::need_more};
        skippable_crlf = 0;
        at = phase::head;
        break;
      case phase::head:
      case phase::body:
        break;
    }

    error_code ec;
    const std::string_view rest = in.substr(used);
    const std::size_t n = sink->put(boost::asio::const_buffer(rest.data(), rest.size()), ec);
    used += n;
    if (ec == http::error::need_more) {
      // A chunk-size line or trailer that cannot fit the buffer the server keeps.
      if (at == phase::body && n == 0 && rest.size() >= limits.header_limit)
        return fail(used, http_error_kind::bad_request);
      return {used, http_event::need_more};
    }
    if (ec == http::error::header_limit) return fail(used, http_error_kind::header_too_large);
    if (ec == http::error::body_limit) return fail(used, http_error_kind::body_too_large);
    if (ec == http::error::bad_version && is_foreign_version(rest))
      return fail(used, http_error_kind::version_not_supported, "unsupported protocol version");
    if (ec) return fail(used, http_error_kind::bad_request);

    if (at == phase::head) {
      if (!sink->is_header_done()) return {used, http_event::need_more};
      if (auto problem = sink->finish_head()) {
        return fail(used, problem->kind, std::move(problem->detail));
      }
      at = phase::header_ready;
      return {used, http_event::header};
    }
    if (sink->is_done()) {
      at = phase::done;
      return {used, http_event::request};
    }
    return {used, http_event::need_more};
  }
};

http_request_reader::http_request_reader(http_limits limits)
    : _s(std::make_unique<state>(limits)) {}
http_request_reader::~http_request_reader() = default;
http_request_reader::http_request_reader(http_request_reader&&) noexcept = default;
http_request_reader& http_request_reader::operator=(http_request_reader&&) noexcept = default;

http_parse_result http_request_reader::parse(std::string_view in) { return _s->parse(in); }

const http_request& http_request_reader::request() const noexcept { return _s->req; }

bool http_request_reader::set_body_limit(std::uint64_t max_bytes) {
  _s->body_limit = max_bytes;
  return _s->req.content_length().value_or(0) <= max_bytes;
}

http_request http_request_reader::take() {
  if (_s->at != phase::done)
    throw std::logic_error("http_request_reader::take: no complete request");
  const bool post = _s->req.method() == "POST";
  http_request out = std::move(_s->req);
  _s->start();
  _s->skippable_crlf = post ? crlf_after_post : 0;
  return out;
}

const http_parse_error& http_request_reader::error() const noexcept { return _s->err; }

bool http_request_reader::idle() const noexcept { return _s->at == phase::idle; }

// ---------------------------------------------------------------------------------------------

std::string_view http_request::header(std::string_view name) const {
  return first_value(_fields, name);
}

bool http_request::has_header(std::string_view name) const { return count(_fields, name) > 0; }

}  // namespace nsqd::net
