#include "net/http_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/beast/http.hpp>
#include <cstring>
#include <sstream>

#include "net/accept_loop.hpp"
#include "net/connection.hpp"

namespace nsqd::net {

namespace http = boost::beast::http;

namespace {

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

void append_response(std::string& out, response& res) {
  res.prepare_payload();
  std::ostringstream os;
  os << res;
  out.append(os.str());
}

response route(const request& req) {
  response res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/ping" && (req.method() == http::verb::get || req.method() == http::verb::head)) {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "OK";
    return res;
  }
  res.result(http::status::not_found);
  res.set(http::field::content_type, "application/json; charset=utf-8");
  res.set("X-NSQ-Content-Type", "nsq; version=1.0");
  res.body() = R"({"message":"NOT_FOUND"})";
  return res;
}

core::task<void> client(int fd, const broker::options* opts, const core::logger* log) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  connection conn{unique_fd(fd), 4096};
  // A stalled client is dropped after the client timeout, holding no more than its buffer.
  conn.set_read_timeout(opts->client_timeout);
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(1 << 20);
    parser.body_limit(std::uint64_t(opts->max_body_size) + 1);
    boost::beast::error_code ec;
    while (!parser.is_done()) {
      // Answers already made go out before waiting for more input.
      if (!conn.out().empty() && !co_await conn.flush()) co_return;
      if (conn.buffered().empty() && !co_await conn.fill(1)) co_return;
      auto in = conn.buffered();
      size_t used = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
      conn.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        if (!conn.out().empty() && !co_await conn.flush()) co_return;
        if (!co_await conn.fill(conn.buffered().size() + 1)) co_return;
        continue;
      }
      if (ec) {
        log->debug("HTTP: bad request from ", conn.remote_address(), ": ", ec.message());
        conn.out().append("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Connection: close\r\n\r\n400 Bad Request");
        co_await conn.flush();
        co_return;
      }
    }
    request req = parser.release();
    response res = route(req);
    append_response(conn.out(), res);
    // Pipelined requests already buffered are answered before one flush.
    if (!res.keep_alive()) {
      co_await conn.flush();
      co_return;
    }
    if (conn.buffered().empty() && !co_await conn.flush()) co_return;
  }
}

}  // namespace

core::task<void> serve_http(int listener_fd, const broker::options& opts, const core::logger& log) {
  co_await accept_loop(listener_fd, log, "HTTP", [&](int fd) { return client(fd, &opts, &log); });
}

}  // namespace nsqd::net
