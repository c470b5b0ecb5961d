// Responses: nsqd's V1 conventions, and their bytes as Go's net/http writes them (through
// Beast's serializer).
#include "net/http_codec.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <utility>

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/span_body.hpp>

#include "go/go_syntax.hpp"

namespace nsqd::net {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view v1_header_name = "X-Nsq-Content-Type";  // Go's spelling on the wire
constexpr std::string_view v1_header_value = "nsq; version=1.0";
constexpr std::string_view json_type = "application/json; charset=utf-8";
constexpr std::string_view text_type = "text/plain; charset=utf-8";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool has_token(std::string_view value, std::string_view token) {
  while (true) {
    const auto comma = value.find(',');
    auto item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

// textproto.CanonicalMIMEHeaderKey: "x-nsq-content-type" -> "X-Nsq-Content-Type"; a name with
// a byte that may not appear in a header name is left as it is.
std::string canonical_key(std::string_view name) {
  constexpr std::string_view token_extra = "!#$%&'*+-.^_`|~";
  const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           token_extra.find(c) != std::string_view::npos;
  });
  std::string key(name);
  if (!token) return key;
  bool upper = true;
  for (char& c : key) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    upper = c == '-';
  }
  return key;
}

// http.DetectContentType, for the signatures nsqd's bodies can meet: HTML and XML prefixes,
// then text vs binary.
std::string_view sniff(std::string_view body) {
  body = body.substr(0, 512);
  const auto ws = [](char c) {
    return c == '\t' || c == '\n' || c == '\x0c' || c == '\r' || c == ' ';
  };
  std::size_t first = 0;
  while (first < body.size() && ws(body[first])) ++first;
  const auto data = body.substr(first);

  static constexpr std::array<std::string_view, 17> html = {
      "<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME", "<H1", "<DIV", "<FONT", "<TABLE",
      "<A", "<STYLE", "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--"};
  for (const auto sig : html) {
    if (data.size() < sig.size() + 1) continue;
    bool match = true;
    for (std::size_t i = 0; i < sig.size() && match; ++i) {
      auto c = static_cast<unsigned char>(data[i]);
      if (sig[i] >= 'A' && sig[i] <= 'Z') c &= 0xDF;
      match = c == static_cast<unsigned char>(sig[i]);
    }
    if (match && (data[sig.size()] == ' ' || data[sig.size()] == '>'))
      return "text/html; charset=utf-8";
  }
  if (data.starts_with("<?xml")) return "text/xml; charset=utf-8";
  for (const char ch : data) {
    const auto b = static_cast<unsigned char>(ch);
    if (b <= 0x08 || b == 0x0B || (b >= 0x0E && b <= 0x1A) || (b >= 0x1C && b <= 0x1F))
      return "application/octet-stream";
  }
  return text_type;
}

bool body_allowed(unsigned status) {
  return !(status >= 100 && status < 200) && status != 204 && status != 304;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

http_response& http_response::set_header(std::string_view name, std::string value) {
  std::string key = canonical_key(name);
  std::erase_if(headers, [&](const auto& h) { return h.first == key; });
  headers.emplace_back(std::move(key), std::move(value));
  return *this;
}

std::string_view http_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

http_response v1_json(std::string json) {
  http_response r;
  r.set_header("Content-Type", std::string(json_type));
  r.set_header(v1_header_name, std::string(v1_header_value));
  r.body = std::move(json);
  return r;
}

http_response v1_text(std::string body) {
  http_response r;
  r.set_header(v1_header_name, std::string(v1_header_value));
  r.body = std::move(body);
  return r;
}

http_response v1_error(unsigned status, std::string_view message) {
  http_response r = v1_json("{\"message\":" + go::json_string(message) + "}");
  r.status = status;
  return r;
}

http_response plain_text(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

bool write_http_response(std::string& out, const http_response& resp, const http_request& req,
                         std::string_view date, bool close) {
  const bool head = req.method() == "HEAD";
  const bool with_body = body_allowed(resp.status);

  std::vector<const std::pair<std::string, std::string>*> set;
  set.reserve(resp.headers.size());
  for (const auto& h : resp.headers) set.push_back(&h);
  std::stable_sort(set.begin(), set.end(), [](auto* a, auto* b) { return a->first < b->first; });

  bool has_date = false, has_length = false, has_type = false, has_connection = false;
  bool handler_closes = false;
  for (const auto* h : set) {
    has_date |= iequals(h->first, "Date");
    has_length |= iequals(h->first, "Content-Length");
    has_type |= iequals(h->first, "Content-Type");
    if (iequals(h->first, "Connection")) {
      has_connection = true;
      handler_closes |= has_token(h->second, "close");
    }
  }
  const bool keep = req.keep_alive() && !close && !handler_closes;

  http::response<http::span_body<const char>> msg;
  msg.version(req.version() >= 11 ? 11 : 10);
  msg.result(resp.status);
  const auto text = http_status_text(resp.status);
  msg.reason(text.empty() ? "status code " + std::to_string(resp.status) : std::string(text));
  for (const auto* h : set) msg.insert(h->first, h->second);
  if (!has_date) msg.insert(http::field::date, date);
  if (!has_length && with_body && (!head || !resp.body.empty()))
    msg.insert(http::field::content_length, std::to_string(resp.body.size()));
  if (!has_type && with_body && !resp.body.empty())
    msg.insert(http::field::content_type, sniff(resp.body));
  if (!has_connection) {
    if (req.version() < 11 && keep) msg.insert(http::field::connection, "keep-alive");
    if (req.version() >= 11 && !keep) msg.insert(http::field::connection, "close");
  }
  if (with_body && !head) msg.body() = {resp.body.data(), resp.body.size()};

  http::serializer<false, http::span_body<const char>> sr{msg};
  boost::beast::error_code ec;
  while (!ec && !sr.is_done()) {
    sr.next(ec, [&](boost::beast::error_code&, const auto& buffers) {
      std::size_t n = 0;
      for (const auto& b : boost::beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      sr.consume(n);
    });
  }
  return keep;
}

void write_http_continue(std::string& out) { out += "HTTP/1.1 100 Continue\r\n\r\n"; }

void write_http_error(std::string& out, const http_parse_error& err, std::string_view date) {
  constexpr std::string_view tail =
      "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n";
  const unsigned status = err.status();
  switch (err.kind) {
    case http_error_kind::expectation_failed:
      out += err.version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
      out += "417 Expectation Failed\r\nConnection: close\r\nDate: ";
      out += date;
      out += "\r\nContent-Length: 0\r\n\r\n";
      return;
    case http_error_kind::unsupported_transfer_encoding:
      out += "HTTP/1.1 501 Not Implemented";
      out += tail;
      out += "Unsupported transfer encoding";
      return;
    default: {
      std::string line = std::to_string(status) + " " + std::string(http_status_text(status));
      if (!err.detail.empty()) line += ": " + err.detail;
      out += "HTTP/1.1 ";
      out += line;
      out += tail;
      out += line;
      return;
    }
  }
}

unsigned http_parse_error::status() const noexcept {
  switch (kind) {
    case http_error_kind::bad_request: return 400;
    case http_error_kind::header_too_large: return 431;
    case http_error_kind::body_too_large: return 413;
    case http_error_kind::expectation_failed: return 417;
    case http_error_kind::unsupported_transfer_encoding: return 501;
    case http_error_kind::version_not_supported: return 505;
  }
  return 400;
}

std::string http_date(std::chrono::system_clock::time_point t) {
  static constexpr std::string_view days = "SunMonTueWedThuFriSat";
  static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  const auto two = [](int v) { return std::string{static_cast<char>('0' + v / 10 % 10),
                                                  static_cast<char>('0' + v % 10)}; };
  const int year = tm.tm_year + 1900;
  std::string out;
  out.reserve(29);
  out += days.substr(static_cast<std::size_t>(tm.tm_wday) * 3, 3);
  out += ", " + two(tm.tm_mday) + " ";
  out += months.substr(static_cast<std::size_t>(tm.tm_mon) * 3, 3);
  out += " " + two(year / 100) + two(year % 100) + " ";
  out += two(tm.tm_hour) + ":" + two(tm.tm_min) + ":" + two(tm.tm_sec) + " GMT";
  return out;
}

std::string_view http_status_text(unsigned status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return {};
  }
}

}  // namespace nsqd::net
