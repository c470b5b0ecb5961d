// URL pieces as Go's net/url, path and httprouter handle them: query decoding, path
// (un)escaping, path cleaning, redirect URLs.
#include "net/http_codec.hpp"

#include <cctype>
#include <string>
#include <vector>

namespace nsqd::net {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Go's unescape for the path and query-component modes.
std::optional<std::string> unescape(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

// path.Clean for a rooted path: no empty, "." or ".." elements; "/" when nothing is left.
std::string clean_rooted(std::string_view p) {
  std::vector<std::string_view> kept;
  std::size_t i = 0;
  while (i < p.size()) {
    while (i < p.size() && p[i] == '/') ++i;
    auto end = p.find('/', i);
    if (end == std::string_view::npos) end = p.size();
    const auto element = p.substr(i, end - i);
    if (element == "..") {
      if (!kept.empty()) kept.pop_back();
    } else if (!element.empty() && element != ".") {
      kept.push_back(element);
    }
    i = end;
  }
  if (kept.empty()) return "/";
  std::string out;
  for (const auto element : kept) {
    out += '/';
    out += element;
  }
  return out;
}

}  // namespace

std::optional<std::string> query_unescape(std::string_view text) { return unescape(text, true); }

std::optional<std::string> path_unescape(std::string_view text) { return unescape(text, false); }

std::string path_escape(std::string_view path) {
  static constexpr char hex[] = "0123456789ABCDEF";
  constexpr std::string_view kept = "-_.~$&+,/:;=@";
  std::string out;
  out.reserve(path.size());
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x80 && std::isalnum(u)) || kept.find(c) != std::string_view::npos) {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 0xf];
    }
  }
  return out;
}

std::string clean_path(std::string_view path) {
  if (path.empty()) return "/";
  std::string rooted = path.front() == '/' ? std::string(path) : "/" + std::string(path);
  const bool trailing = rooted.size() > 1 && (rooted.back() == '/' || rooted.ends_with("/."));
  std::string out = clean_rooted(rooted);
  if (trailing && out != "/") out += '/';
  return out;
}

std::string http_request::redirect_url(std::string_view path) const {
  std::string url = _origin;
  url += path == "*" ? std::string("*") : path_escape(path);
  if (_origin.empty() && !url.empty() && url.front() == '/') {
    // http.Redirect cleans a local URL's path, keeping a trailing '/'.
    const bool trailing = url.back() == '/';
    url = clean_rooted(url);
    if (trailing && url.back() != '/') url += '/';
  }
  if (_has_query) {
    url += '?';
    url += _raw_query;
  }
  return url;
}

std::optional<http_query> http_query::parse(std::string_view raw_query) {
  http_query q;
  bool valid = true;  // Go keeps going after a bad pair; nsqd rejects the query all the same
  while (!raw_query.empty()) {
    const auto amp = raw_query.find('&');
    const auto pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view{} : raw_query.substr(amp + 1);
    if (pair.find(';') != std::string_view::npos) {
      valid = false;
      continue;
    }
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = query_unescape(pair.substr(0, eq));
    auto value = query_unescape(eq == std::string_view::npos ? std::string_view{}
                                                             : pair.substr(eq + 1));
    if (!key || !value) {
      valid = false;
      continue;
    }
    q._pairs.emplace_back(std::move(*key), std::move(*value));
  }
  if (!valid) return std::nullopt;
  return q;
}

std::optional<std::string_view> http_query::get(std::string_view key) const {
  for (const auto& [k, v] : _pairs)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

std::vector<std::string_view> http_query::get_all(std::string_view key) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : _pairs)
    if (k == key) out.emplace_back(v);
  return out;
}

}  // namespace nsqd::net
