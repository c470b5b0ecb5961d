#include "net/http_router.hpp"

#include <algorithm>
#include <cctype>

namespace nsqd::net {

namespace {

bool starts_with(std::string_view s, std::string_view prefix, bool fold) {
  if (s.size() < prefix.size()) return false;
  if (!fold) return s.substr(0, prefix.size()) == prefix;
  return std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

bool equals(std::string_view a, std::string_view b, bool fold) {
  return a.size() == b.size() && starts_with(a, b, fold);
}

// Go's hexEscapeNonASCII for the Location header.
std::string hex_escape_non_ascii(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 0xf];
    }
  }
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::size_t http_route_table::add(std::string_view method, std::string_view pattern) {
  if (method.empty()) throw std::invalid_argument("http route: empty method");
  if (pattern.empty() || pattern.front() != '/')
    throw std::invalid_argument("http route: path must begin with '/': " + std::string(pattern));
  if (pattern.find('*') != std::string_view::npos)
    throw std::invalid_argument("http route: catch-all parameters are not supported: " +
                                std::string(pattern));
  route r{std::string(method), std::string(pattern), false};
  if (const auto colon = pattern.find(':'); colon != std::string_view::npos) {
    const auto name = pattern.substr(colon + 1);
    if (name.empty() || name.find_first_of("/:") != std::string_view::npos)
      throw std::invalid_argument("http route: the parameter must be the last segment and named: " +
                                  std::string(pattern));
    r.prefix = std::string(pattern.substr(0, colon));
    r.has_param = true;
  }
  for (const auto& other : _routes) {
    if (other.method != r.method) continue;
    const bool conflict =
        (other.prefix == r.prefix && other.has_param == r.has_param) ||
        (other.has_param && r.prefix.size() > other.prefix.size() &&
         starts_with(r.prefix, other.prefix, false)) ||
        (r.has_param && other.prefix.size() > r.prefix.size() &&
         starts_with(other.prefix, r.prefix, false));
    if (conflict)
      throw std::invalid_argument("http route: " + r.method + " " + std::string(pattern) +
                                  " conflicts with an earlier route");
  }
  _routes.push_back(std::move(r));
  return _routes.size() - 1;
}

std::size_t http_route_table::find(std::string_view method, std::string_view path, bool fold,
                                   std::string* param) const {
  for (std::size_t i = 0; i < _routes.size(); ++i) {
    const auto& r = _routes[i];
    if (r.method != method) continue;
    if (!r.has_param) {
      if (equals(path, r.prefix, fold)) return i;
      continue;
    }
    if (!starts_with(path, r.prefix, fold)) continue;
    const auto value = path.substr(r.prefix.size());
    if (value.empty() || value.find('/') != std::string_view::npos) continue;
    if (param) *param = std::string(value);
    return i;
  }
  return npos;
}

bool http_route_table::has_method(std::string_view method) const {
  return std::any_of(_routes.begin(), _routes.end(),
                     [&](const route& r) { return r.method == method; });
}

std::string http_route_table::allowed(std::string_view path, std::string_view method) const {
  std::vector<std::string_view> methods;
  for (const auto& r : _routes) {
    if (r.method == "OPTIONS" ||
        std::find(methods.begin(), methods.end(), r.method) != methods.end())
      continue;
    if (path == "*" || (r.method != method && find(r.method, path, false, nullptr) != npos))
      methods.push_back(r.method);
  }
  if (methods.empty()) return {};
  methods.push_back("OPTIONS");
  std::sort(methods.begin(), methods.end());
  std::string allow;
  for (const auto m : methods) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  }
  return allow;
}

http_route_table::result http_route_table::lookup(std::string_view method,
                                                  std::string_view path) const {
  result out;
  if (has_method(method)) {
    if (const auto i = find(method, path, false, &out.param); i != npos) {
      out.outcome = http_route_outcome::matched;
      out.route = i;
      out.status = 200;
      return out;
    }
    if (method != "CONNECT" && path != "/") {
      const auto redirect = [&](std::string to) {
        out.outcome = http_route_outcome::redirect;
        out.status = method == "GET" ? 301 : 308;
        out.location = std::move(to);
        return out;
      };
      // Trailing slash: the same path without (or with) it has a route. A parameter route
      // P:name recommends P + v for any P + v + "/", even v empty (httprouter does).
      if (path.size() > 1 && path.back() == '/') {
        const auto bare = path.substr(0, path.size() - 1);
        for (const auto& r : _routes) {
          if (r.method != method) continue;
          if (r.has_param ? starts_with(bare, r.prefix, false) &&
                                bare.substr(r.prefix.size()).find('/') == std::string_view::npos
                          : bare == r.prefix)
            return redirect(std::string(bare));
        }
      } else if (find(method, std::string(path) + "/", false, nullptr) != npos) {
        return redirect(std::string(path) + "/");
      }
      // Fixed path: cleaned, ASCII case ignored, a trailing slash fixed the same way.
      const std::string clean = clean_path(path);
      std::string value;
      const bool slash = clean.size() > 1 && clean.back() == '/';
      const std::string_view bare(clean.data(), clean.size() - (slash ? 1 : 0));
      for (const auto& r : _routes) {
        if (r.method != method) continue;
        if (!r.has_param) {
          if (equals(clean, r.prefix, true) || (slash && equals(bare, r.prefix, true)) ||
              (!slash && equals(clean + "/", r.prefix, true)))
            return redirect(r.prefix);
          continue;
        }
        const std::string_view candidates[] = {clean, bare};
        for (std::size_t k = 0; k < (slash ? 2 : 1); ++k) {
          const auto p = candidates[k];
          if (!starts_with(p, r.prefix, true)) continue;
          const auto v = p.substr(r.prefix.size());
          if (v.find('/') != std::string_view::npos || (k == 0 && v.empty())) continue;
          return redirect(r.prefix + std::string(v));
        }
      }
    }
  }
  out.allow = allowed(path, method);
  if (!out.allow.empty()) {
    const bool options = method == "OPTIONS";
    out.outcome = options ? http_route_outcome::options : http_route_outcome::method_not_allowed;
    out.status = options ? 200 : 405;
    return out;
  }
  out.outcome = http_route_outcome::not_found;
  out.status = 404;
  return out;
}

http_response route_response(const http_route_table::result& r, const http_request& req) {
  switch (r.outcome) {
    case http_route_outcome::redirect: {
      http_response resp;
      resp.status = r.status;
      const std::string url = req.redirect_url(r.location);
      resp.set_header("Location", hex_escape_non_ascii(url));
      if (req.method() == "GET" || req.method() == "HEAD")
        resp.set_header("Content-Type", "text/html; charset=utf-8");
      if (req.method() == "GET")
        resp.body = "<a href=\"" + html_escape(url) + "\">" +
                    std::string(http_status_text(r.status)) + "</a>.\n\n";
      return resp;
    }
    case http_route_outcome::options: {
      http_response resp;
      resp.set_header("Allow", r.allow);
      return resp;
    }
    case http_route_outcome::method_not_allowed:
      return v1_error(405, "METHOD_NOT_ALLOWED").set_header("Allow", r.allow);
    case http_route_outcome::matched:
    case http_route_outcome::not_found:
      break;
  }
  return v1_error(404, "NOT_FOUND");
}

}  // namespace nsqd::net
