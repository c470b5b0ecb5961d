#pragma once
// Routing as nsqd's router (julienschmidt/httprouter v1.3.0, with nsqd's NotFound and
// MethodNotAllowed handlers) answers, SPEC C:
//
//  - a route is a method and a path: "/stats", or a prefix ending in one named parameter
//    segment, "/config/:opt" (the value is one non-empty path segment, matched on the decoded
//    path, Go's URL.Path);
//  - no route, and the method has routes of its own (path not "/", method not CONNECT):
//      * the path with its trailing '/' removed (or one added) has a route: redirect there
//        ("GET /stats/" -> 301 "Location: /stats"; other methods 308);
//      * else the cleaned path (httprouter's CleanPath) matches a route ignoring ASCII case,
//        with a trailing '/' fixed as above: redirect there ("/STATS", "//stats" -> "/stats");
//    the Location keeps the query, as Go's http.Redirect writes it; GET answers carry its
//    little HTML body;
//  - then OPTIONS: 200 with "Allow:" when other methods have the path (automatic OPTIONS);
//    "OPTIONS *" is answered by net/http itself: 200, "Content-Length: 0";
//  - then 405 {"message":"METHOD_NOT_ALLOWED"} with "Allow:" when other methods have the path;
//  - else 404 {"message":"NOT_FOUND"}; both V1 errors (with X-NSQ-Content-Type).
// Allow lists the other methods that have the path, plus OPTIONS, sorted, ", "-separated
// ("GET, OPTIONS, PUT"); for the path "*" every method with routes.
// Case-insensitive matching is ASCII-only (httprouter folds Unicode too).
//
// The table is declared once by the server at start-up and only read afterwards.

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http_codec.hpp"

namespace nsqd::net {

enum class http_route_outcome : std::uint8_t {
  matched,             // a route's handler answers
  redirect,            // 301 / 308 (upstream does not log these)
  options,             // 200 with Allow (or "OPTIONS *")
  method_not_allowed,  // 405 with Allow
  not_found,           // 404
};

// The routes without their handlers: matching and the answers of httprouter itself.
class http_route_table {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  struct result {
    http_route_outcome outcome = http_route_outcome::not_found;
    std::size_t route = npos;  // matched: the index add() returned
    std::string param;         // matched: the parameter segment's value ("" without one)
    unsigned status = 404;     // the answer's status (200 for matched)
    std::string location;      // redirect: the path to go to (before escaping)
    std::string allow;         // options, method_not_allowed: the Allow header
  };

  // Adds a route; returns its index (0, 1, ... in order of addition). Throws
  // std::invalid_argument for a pattern not starting with '/', a parameter that is not the
  // last segment or has no name, or a method+pattern that conflicts with an earlier one.
  std::size_t add(std::string_view method, std::string_view pattern);

  // Routes `method` + `path` (the request's decoded path).
  result lookup(std::string_view method, std::string_view path) const;

  std::size_t size() const noexcept { return _routes.size(); }

 private:
  struct route {
    std::string method;
    std::string prefix;  // the whole path, or the part before ":name"
    bool has_param = false;
  };

  // The route of `method` matching `path` (ASCII case ignored if `fold`), and its parameter.
  std::size_t find(std::string_view method, std::string_view path, bool fold,
                   std::string* param) const;
  bool has_method(std::string_view method) const;
  std::string allowed(std::string_view path, std::string_view method) const;

  std::vector<route> _routes;
};

// The complete answer for every outcome but `matched`.
http_response route_response(const http_route_table::result& r, const http_request& req);

// A route table with a handler per route. Handler is any copyable or movable type (a function
// pointer, a member-function pointer, a small struct); the router only stores and returns it.
template <class Handler>
class http_router {
 public:
  struct match {
    http_route_outcome outcome = http_route_outcome::not_found;
    const Handler* handler = nullptr;  // matched: the route's handler
    std::string param;                 // matched: the parameter segment's value
    http_response response;            // every other outcome: the answer to send
  };

  // Adds a route (see http_route_table::add); returns *this to chain.
  http_router& add(std::string_view method, std::string_view pattern, Handler handler) {
    [[maybe_unused]] const std::size_t index = _table.add(method, pattern);
    assert(index == _handlers.size());
    _handlers.push_back(std::move(handler));
    return *this;
  }

  match route(const http_request& req) const {
    match m;
    if (req.method() == "OPTIONS" && req.target() == "*") {  // net/http's own answer
      m.outcome = http_route_outcome::options;
      m.response.status = 200;
      m.response.set_header("Content-Length", "0");
      return m;
    }
    auto r = _table.lookup(req.method(), req.path());
    m.outcome = r.outcome;
    if (r.outcome == http_route_outcome::matched) {
      m.handler = &_handlers[r.route];
      m.param = std::move(r.param);
    } else {
      m.response = route_response(r, req);
    }
    return m;
  }

  const http_route_table& table() const noexcept { return _table; }

 private:
  http_route_table _table;
  std::vector<Handler> _handlers;
};

}  // namespace nsqd::net
