#define BOOST_TEST_MODULE http_codec
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "net/http_codec.hpp"
#include "net/http_router.hpp"

using namespace std::string_literals;
using namespace std::string_view_literals;
namespace net = nsqd::net;
using net::http_error_kind;
using net::http_event;
using net::http_route_outcome;

namespace {

constexpr std::string_view date = "Mon, 02 Jan 2006 15:04:05 GMT";

// Optionals as text for readable failures: the value, or "<none>".
template <class T>
std::string show(const std::optional<T>& v) {
  if (!v) return "<none>";
  if constexpr (std::is_arithmetic_v<T>) return std::to_string(*v);
  else return std::string(*v);
}

// A connection as the server drives the reader: bytes arrive in pieces into a buffer; the
// reader consumes what it uses; every complete request is taken out.
struct connection_sim {
  net::http_request_reader reader;
  std::string buffer;
  std::vector<net::http_request> requests;
  std::vector<std::string> heads;  // path seen at each `header` event
  std::optional<net::http_parse_error> error;
  std::uint64_t body_limit;
  bool limit_refused = false;

  explicit connection_sim(std::uint64_t limit = 1 << 20, net::http_limits limits = {})
      : reader(limits), body_limit(limit) {}

  void arrive(std::string_view bytes) {
    buffer.append(bytes);
    while (!error && !limit_refused) {
      const auto [used, event] = reader.parse(buffer);
      BOOST_REQUIRE_LE(used, buffer.size());
      buffer.erase(0, used);
      if (event == http_event::need_more) return;
      if (event == http_event::header) {
        heads.push_back(reader.request().path());
        if (!reader.set_body_limit(body_limit)) limit_refused = true;
      } else if (event == http_event::request) {
        requests.push_back(reader.take());
      } else {
        error = reader.error();
      }
    }
  }
};

connection_sim feed(std::string_view stream, std::uint64_t limit = 1 << 20) {
  connection_sim c(limit);
  c.arrive(stream);
  return c;
}

std::string respond(const net::http_response& resp, std::string_view request_bytes,
                    bool close = false, bool* keep = nullptr) {
  auto c = feed(request_bytes);
  BOOST_REQUIRE_EQUAL(c.requests.size(), 1u);
  std::string out;
  const bool k = net::write_http_response(out, resp, c.requests[0], date, close);
  if (keep) *keep = k;
  return out;
}

std::string error_bytes(std::string_view stream, net::http_limits limits = {}) {
  connection_sim c(1 << 20, limits);
  c.arrive(stream);
  BOOST_REQUIRE(c.error.has_value());
  std::string out;
  net::write_http_error(out, *c.error, date);
  return out;
}

constexpr std::string_view go_error_tail =
    "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n";

// Three pipelined requests: a GET, a POST with Content-Length, a chunked POST.
const std::string pipeline =
    "GET /stats?format=json&topic=t1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n"
    "POST /pub?topic=t1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 12\r\n\r\nhello\r\nworld"
    "POST /mpub?topic=t1 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;ext=1\r\nab\ncd\r\n3\r\n\nef\r\n0\r\nX-Trailer: yes\r\n\r\n";

void check_pipeline(const connection_sim& c) {
  BOOST_REQUIRE(!c.error.has_value());
  BOOST_REQUIRE_EQUAL(c.requests.size(), 3u);
  BOOST_TEST(c.buffer.empty());
  BOOST_TEST(c.heads == (std::vector<std::string>{"/stats", "/pub", "/mpub"}));
  BOOST_TEST(c.requests[0].method() == "GET");
  BOOST_TEST(c.requests[0].raw_query() == "format=json&topic=t1");
  BOOST_TEST(c.requests[0].header("user-agent") == "test");
  BOOST_TEST(c.requests[0].body().empty());
  BOOST_TEST(c.requests[1].method() == "POST");
  BOOST_TEST(c.requests[1].body() == "hello\r\nworld");
  BOOST_TEST(show(c.requests[1].content_length()) == "12");
  BOOST_TEST(c.requests[2].body() == "ab\ncd\nef");
  BOOST_TEST(c.requests[2].chunked());
  BOOST_TEST(!c.requests[2].content_length().has_value());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(reader)

BOOST_AUTO_TEST_CASE(simple_get_exposes_the_request) {
  auto c = feed(
      "GET /config/msg_timeout?a=1 HTTP/1.1\r\nHost: h:4151\r\nX-Two: 1\r\nx-two: 2\r\n\r\n");
  BOOST_REQUIRE_EQUAL(c.requests.size(), 1u);
  const auto& r = c.requests[0];
  BOOST_TEST(r.method() == "GET");
  BOOST_TEST(r.target() == "/config/msg_timeout?a=1");
  BOOST_TEST(r.path() == "/config/msg_timeout");
  BOOST_TEST(r.raw_query() == "a=1");
  BOOST_TEST(r.version() == 11u);
  BOOST_TEST(r.keep_alive());
  BOOST_TEST(r.header("HOST") == "h:4151");
  BOOST_TEST(r.header("x-two") == "1");  // the first of repeated values
  BOOST_TEST(r.has_header("X-Two"));
  BOOST_TEST(!r.has_header("Content-Length"));
  BOOST_TEST(r.header("absent").empty());
  BOOST_TEST(r.headers().size() == 3u);
  BOOST_TEST(r.headers()[2].first == "x-two");
  BOOST_TEST(!r.expects_continue());
}

BOOST_AUTO_TEST_CASE(events_in_order_and_consumed_counts) {
  net::http_request_reader reader;
  BOOST_TEST(reader.idle());
  const std::string req = "POST /pub HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  const auto head_len = req.size() - 3;
  auto r = reader.parse(std::string_view(req).substr(0, 10));
  BOOST_TEST(r.consumed == 0u);  // a head is parsed only once it is all there
  BOOST_TEST((r.event == http_event::need_more));
  BOOST_TEST(!reader.idle());
  r = reader.parse(std::string_view(req).substr(0, head_len + 1));
  BOOST_TEST(r.consumed == head_len);
  BOOST_TEST((r.event == http_event::header));
  BOOST_TEST(reader.request().path() == "/pub");
  BOOST_TEST(reader.set_body_limit(3));
  r = reader.parse("a");
  BOOST_TEST(r.consumed == 1u);  // body bytes are used as they come
  BOOST_TEST((r.event == http_event::need_more));
  r = reader.parse("bcGET");
  BOOST_TEST(r.consumed == 2u);
  BOOST_TEST((r.event == http_event::request));
  r = reader.parse("GET");  // repeats until take()
  BOOST_TEST(r.consumed == 0u);
  BOOST_TEST((r.event == http_event::request));
  const auto taken = reader.take();
  BOOST_TEST(taken.body() == "abc");
  BOOST_TEST(reader.idle());
  BOOST_CHECK_THROW(reader.take(), std::logic_error);  // nothing complete to take
}

BOOST_AUTO_TEST_CASE(pipelined_requests_in_one_buffer) { check_pipeline(feed(pipeline)); }

BOOST_AUTO_TEST_CASE(split_at_every_byte_boundary) {
  for (std::size_t cut = 0; cut <= pipeline.size(); ++cut) {
    BOOST_TEST_CONTEXT("cut at " << cut) {
      connection_sim c;
      c.arrive(std::string_view(pipeline).substr(0, cut));
      c.arrive(std::string_view(pipeline).substr(cut));
      check_pipeline(c);
    }
  }
}

BOOST_AUTO_TEST_CASE(one_byte_at_a_time) {
  connection_sim c;
  for (const char ch : pipeline) c.arrive(std::string_view(&ch, 1));
  check_pipeline(c);
}

BOOST_AUTO_TEST_CASE(keep_alive_rules) {
  const auto keep = [](std::string_view version, std::string_view connection) {
    std::string req = "GET / "s + std::string(version) + "\r\nHost: x\r\n";
    if (!connection.empty()) req += "Connection: " + std::string(connection) + "\r\n";
    auto c = feed(req + "\r\n");
    BOOST_REQUIRE_EQUAL(c.requests.size(), 1u);
    return c.requests[0].keep_alive();
  };
  BOOST_TEST(keep("HTTP/1.1", ""));
  BOOST_TEST(keep("HTTP/1.1", "keep-alive"));
  BOOST_TEST(!keep("HTTP/1.1", "close"));
  BOOST_TEST(!keep("HTTP/1.1", "Upgrade, CLOSE"));
  BOOST_TEST(!keep("HTTP/1.0", ""));
  BOOST_TEST(keep("HTTP/1.0", "Keep-Alive"));
  BOOST_TEST(!keep("HTTP/1.0", "keep-alive, close"));
}

BOOST_AUTO_TEST_CASE(http10_needs_no_host) {
  auto c = feed("GET /ping HTTP/1.0\r\n\r\n");
  BOOST_REQUIRE_EQUAL(c.requests.size(), 1u);
  BOOST_TEST(c.requests[0].version() == 10u);
}

BOOST_AUTO_TEST_CASE(content_length_body_is_binary_safe) {
  const std::string body("\0\r\n\xff\x01"s);
  auto c = feed("POST /pub HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n" + body);
  BOOST_REQUIRE_EQUAL(c.requests.size(), 1u);
  BOOST_TEST(c.requests[0].body() == body);
  // The body can be moved out by a handler.
  std::string moved = std::move(c.requests[0].body());
  BOOST_TEST(moved == body);
}

BOOST_AUTO_TEST_CASE(chunked_body_with_extensions_and_trailer) {
  auto c = feed(
      "POST /pub HTTP/1.1\r\nHost: x\r\ntransfer-encoding: Chunked\r\n\r\n"
      "A\r\n0123456789\r\n1;name=\"v\"\r\n!\r\n0\r\nTrailer-A: 1\r\n\r\n");
  BOOST_REQUIRE_EQUAL(c.requests.size(), 1u);
  BOOST_TEST(c.requests[0].body() == "0123456789!");
  BOOST_TEST(c.requests[0].chunked());
  BOOST_TEST(!c.requests[0].has_header("Trailer-A"));  // trailers are not headers
  BOOST_TEST(c.requests[0].headers().size() == 2u);
}

BOOST_AUTO_TEST_CASE(empty_bodies) {
  auto c = feed(
      "POST /pub HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
      "POST /pub HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  BOOST_REQUIRE_EQUAL(c.requests.size(), 2u);
  BOOST_TEST(c.requests[0].body().empty());
  BOOST_TEST(c.requests[1].body().empty());
}

BOOST_AUTO_TEST_CASE(content_length_over_the_limit_is_refused_before_the_body) {
  const std::string req = "POST /pub HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello";
  auto c = feed(req, 10);
  BOOST_TEST(c.limit_refused);
  BOOST_TEST(c.requests.empty());
  BOOST_TEST(c.reader.request().path() == "/pub");  // the endpoint can answer its own 413
  BOOST_TEST(c.buffer == "hello");                  // no body byte was read
  // Parsing on anyway reports the same thing.
  const auto r = c.reader.parse(c.buffer);
  BOOST_TEST((r.event == http_event::error));
  BOOST_TEST((c.reader.error().kind == http_error_kind::body_too_large));
  BOOST_TEST(c.reader.error().status() == 413u);
}

BOOST_AUTO_TEST_CASE(body_exactly_at_the_limit_is_fine) {
  auto c = feed("POST /pub HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", 10);
  BOOST_REQUIRE_EQUAL(c.requests.size(), 1u);
  auto d = feed("POST /pub HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", 10);
  BOOST_REQUIRE_EQUAL(d.requests.size(), 1u);
  BOOST_TEST(d.requests[0].body() == "0123456789");
}

BOOST_AUTO_TEST_CASE(chunked_body_over_the_limit) {
  auto c = feed("POST /pub HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\n01234\r\n6\r\n567890\r\n0\r\n\r\n", 10);
  BOOST_TEST(!c.limit_refused);  // nothing declared up front
  BOOST_REQUIRE(c.error.has_value());
  BOOST_TEST((c.error->kind == http_error_kind::body_too_large));
  BOOST_TEST(c.reader.request().path() == "/pub");
}

BOOST_AUTO_TEST_CASE(default_body_limit_applies_when_the_server_sets_none) {
  net::http_request_reader reader({.header_limit = 4096, .body_limit = 4});
  const std::string req = "POST /pub HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  auto r = reader.parse(req);
  BOOST_TEST((r.event == http_event::header));
  r = reader.parse(std::string_view(req).substr(r.consumed));
  BOOST_TEST((r.event == http_event::error));
  BOOST_TEST((reader.error().kind == http_error_kind::body_too_large));
}

BOOST_AUTO_TEST_CASE(expect_100_continue) {
  auto c = feed("POST /pub HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n"
                "Content-Length: 1\r\n\r\na"
                "POST /pub HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n"
                "POST /pub HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\na");
  BOOST_REQUIRE_EQUAL(c.requests.size(), 3u);
  BOOST_TEST(c.requests[0].expects_continue());
  BOOST_TEST(!c.requests[1].expects_continue());  // no body to wait for
  BOOST_TEST(!c.requests[2].expects_continue());  // HTTP/1.0
  std::string out;
  net::write_http_continue(out);
  BOOST_TEST(out == "HTTP/1.1 100 Continue\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(crlf_after_a_post_is_skipped_as_go_does) {
  auto c = feed("POST /pub HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na\r\n"
                "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_REQUIRE_EQUAL(c.requests.size(), 2u);
  BOOST_TEST(c.requests[1].path() == "/ping");
  // Not after a GET: Go reads the empty line as a malformed request.
  auto d = feed("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(d.requests.size() == 1u);
  BOOST_REQUIRE(d.error.has_value());
  BOOST_TEST((d.error->kind == http_error_kind::bad_request));
}

BOOST_AUTO_TEST_CASE(target_forms) {
  auto c = feed(
      "GET /st%61ts/a%2Fb+c?x=%41+b HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET http://Example.com:4151/stats/?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /stats? HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_REQUIRE_EQUAL(c.requests.size(), 4u);
  BOOST_TEST(c.requests[0].path() == "/stats/a/b+c");  // decoded; '+' stays in a path
  BOOST_TEST(c.requests[0].raw_query() == "x=%41+b");
  BOOST_TEST(c.requests[1].path() == "/stats/");
  BOOST_TEST(c.requests[1].raw_query() == "x=1");
  BOOST_TEST(c.requests[1].redirect_url("/stats") == "http://Example.com:4151/stats?x=1");
  BOOST_TEST(c.requests[2].path() == "*");
  BOOST_TEST(c.requests[3].path() == "/stats");
  BOOST_TEST(c.requests[3].redirect_url("/x") == "/x?");  // Go's ForceQuery
}

BOOST_AUTO_TEST_CASE(leftover_bytes_stay_with_the_caller) {
  net::http_request_reader reader;
  const std::string two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HT";
  auto r = reader.parse(two);
  BOOST_TEST((r.event == http_event::header));
  const auto first = r.consumed;
  r = reader.parse(std::string_view(two).substr(first));
  BOOST_TEST((r.event == http_event::request));
  BOOST_TEST(r.consumed == 0u);
  BOOST_TEST(reader.take().path() == "/a");
  r = reader.parse(std::string_view(two).substr(first));
  BOOST_TEST((r.event == http_event::need_more));
  BOOST_TEST(r.consumed == 0u);  // "GET /b HT" kept for later
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(malformed_requests_get_go_s_400) {
  const std::string expected = "HTTP/1.1 400 Bad Request"s + std::string(go_error_tail) +
                               "400 Bad Request";
  for (const std::string_view bad : {
           "GARBAGE\r\n\r\n"sv,
           "GET /\r\n\r\n"sv,                                   // no version
           "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n"sv,         // junk after the version
           "GET  / HTTP/1.1\r\nHost: x\r\n\r\n"sv,              // empty target
           "GET / HTTP/1.1\r\nNo colon here\r\n\r\n"sv,         // bad field
           "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n"sv,           // space in a name
           "GET stats HTTP/1.1\r\nHost: x\r\n\r\n"sv,           // not a request URI
           "GET :x HTTP/1.1\r\nHost: x\r\n\r\n"sv,              // missing protocol scheme
           "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n"sv,            // bad escape in the path
           "GET /% HTTP/1.1\r\nHost: x\r\n\r\n"sv,
           "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"sv,    // two Host headers
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
           "Transfer-Encoding: chunked\r\n\r\n"sv,
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"sv,
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           "2\r\nabXY\r\n0\r\n\r\n"sv,
       }) {
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST(error_bytes(bad) == expected); }
  }
}

BOOST_AUTO_TEST_CASE(host_problems_carry_go_s_reason) {
  const auto expect = [](std::string_view reason) {
    const std::string line = "400 Bad Request: " + std::string(reason);
    return "HTTP/1.1 " + line + std::string(go_error_tail) + line;
  };
  BOOST_TEST(error_bytes("GET / HTTP/1.1\r\n\r\n") == expect("missing required Host header"));
  BOOST_TEST(error_bytes("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == expect("malformed Host header"));
}

BOOST_AUTO_TEST_CASE(unsupported_version_is_505) {
  const std::string line = "505 HTTP Version Not Supported: unsupported protocol version";
  BOOST_TEST(error_bytes("GET / HTTP/2.0\r\nHost: x\r\n\r\n") ==
             "HTTP/1.1 " + line + std::string(go_error_tail) + line);
  BOOST_TEST(error_bytes("GET / HTTP/0.9\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 505 "));
}

BOOST_AUTO_TEST_CASE(unknown_transfer_encoding_is_501) {
  const std::string expected = "HTTP/1.1 501 Not Implemented"s + std::string(go_error_tail) +
                               "Unsupported transfer encoding";
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ";
  BOOST_TEST(error_bytes(head + "gzip\r\n\r\n") == expected);
  BOOST_TEST(error_bytes(head + "gzip, chunked\r\n\r\n") == expected);
}

BOOST_AUTO_TEST_CASE(unknown_expectation_is_417) {
  BOOST_TEST(error_bytes("POST / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n") ==
             "HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: "s + std::string(date) +
                 "\r\nContent-Length: 0\r\n\r\n");
  BOOST_TEST(error_bytes("POST / HTTP/1.0\r\nExpect: magic\r\n\r\n").starts_with("HTTP/1.0 417 "));
}

BOOST_AUTO_TEST_CASE(oversized_headers_are_431) {
  const std::string expected = "HTTP/1.1 431 Request Header Fields Too Large"s +
                               std::string(go_error_tail) + "431 Request Header Fields Too Large";
  // Go's default: 1 MiB of headers plus 4096 bytes of slack.
  const std::string huge = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') +
                           std::string(4096, 'b') + "\r\n\r\n";
  BOOST_TEST(error_bytes(huge) == expected);
  // Just under the limit is fine.
  const std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') +
                          "\r\n\r\n";
  auto c = feed(big);
  BOOST_REQUIRE_EQUAL(c.requests.size(), 1u);
  BOOST_TEST(c.requests[0].header("x-big").size() == std::size_t{1} << 20);
  // A smaller limit, and a head that never ends.
  BOOST_TEST(error_bytes("GET / HTTP/1.1\r\nHost: x\r\nX-A: " + std::string(100, 'a'),
                         {.header_limit = 64, .body_limit = 0}) == expected);
}

BOOST_AUTO_TEST_CASE(an_endless_chunk_line_is_refused) {
  connection_sim c(1 << 20, {.header_limit = 64, .body_limit = 1 << 20});
  c.arrive("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  BOOST_TEST(!c.error.has_value());
  c.arrive("5;" + std::string(100, 'x'));
  BOOST_REQUIRE(c.error.has_value());
  BOOST_TEST((c.error->kind == http_error_kind::bad_request));
}

BOOST_AUTO_TEST_CASE(a_failed_reader_stays_failed) {
  net::http_request_reader reader;
  auto r = reader.parse("BAD\r\n\r\n");
  BOOST_TEST((r.event == http_event::error));
  r = reader.parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST((r.event == http_event::error));
  BOOST_TEST(r.consumed == 0u);
}

BOOST_AUTO_TEST_CASE(body_too_large_fallback_answer) {
  net::http_parse_error err{http_error_kind::body_too_large, {}, 11};
  std::string out;
  net::write_http_error(out, err, date);
  BOOST_TEST(out == "HTTP/1.1 413 Request Entity Too Large"s + std::string(go_error_tail) +
                        "413 Request Entity Too Large");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(responses)

constexpr std::string_view get11 = "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n";

BOOST_AUTO_TEST_CASE(v1_json_bytes) {
  bool keep = false;
  BOOST_TEST(respond(net::v1_json(R"({"a":1})"), get11, false, &keep) ==
             "HTTP/1.1 200 OK\r\n"
             "Content-Type: application/json; charset=utf-8\r\n"
             "X-Nsq-Content-Type: nsq; version=1.0\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 7\r\n"
             "\r\n"
             R"({"a":1})");
  BOOST_TEST(keep);
}

BOOST_AUTO_TEST_CASE(v1_text_is_sniffed_after_content_length) {
  BOOST_TEST(respond(net::v1_text("OK"), get11) ==
             "HTTP/1.1 200 OK\r\n"
             "X-Nsq-Content-Type: nsq; version=1.0\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 2\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "\r\n"
             "OK");
  // Binary bytes sniff as octet-stream, HTML as HTML (Go's DetectContentType).
  BOOST_TEST(respond(net::v1_text("\x01\x02"s), get11)
                 .find("Content-Type: application/octet-stream\r\n") != std::string::npos);
  BOOST_TEST(respond(net::v1_text("  <html>x"), get11)
                 .find("Content-Type: text/html; charset=utf-8\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(v1_empty_success) {
  BOOST_TEST(respond(net::v1_text(""), get11) ==
             "HTTP/1.1 200 OK\r\n"
             "X-Nsq-Content-Type: nsq; version=1.0\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 0\r\n"
             "\r\n");
}

BOOST_AUTO_TEST_CASE(v1_error_bytes) {
  BOOST_TEST(respond(net::v1_error(400, "MISSING_ARG_TOPIC"), get11) ==
             "HTTP/1.1 400 Bad Request\r\n"
             "Content-Type: application/json; charset=utf-8\r\n"
             "X-Nsq-Content-Type: nsq; version=1.0\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 31\r\n"
             "\r\n"
             R"({"message":"MISSING_ARG_TOPIC"})");
  // Go's JSON escaping (HTML-safe) applies to the message.
  BOOST_TEST(net::v1_error(500, "a\"<b>").body == R"({"message":"a\"\u003cb\u003e"})");
  BOOST_TEST(respond(net::v1_error(413, "MSG_TOO_BIG"), get11).starts_with(
      "HTTP/1.1 413 Request Entity Too Large\r\n"));
}

BOOST_AUTO_TEST_CASE(plain_text_has_no_nsq_header) {
  BOOST_TEST(respond(net::plain_text(200, "OK"), "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n") ==
             "HTTP/1.1 200 OK\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 2\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "\r\n"
             "OK");
}

BOOST_AUTO_TEST_CASE(connection_header_and_keep_alive) {
  bool keep = true;
  // HTTP/1.1 asking to close.
  auto out = respond(net::v1_text("OK"), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     false, &keep);
  BOOST_TEST(!keep);
  BOOST_TEST(
      out.ends_with("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nOK"));
  // The server closing (e.g. an unread body).
  out = respond(net::v1_text("OK"), get11, true, &keep);
  BOOST_TEST(!keep);
  BOOST_TEST(out.find("Connection: close\r\n") != std::string::npos);
  // HTTP/1.0 without keep-alive: closes, says nothing.
  out = respond(net::v1_text("OK"), "GET / HTTP/1.0\r\n\r\n", false, &keep);
  BOOST_TEST(!keep);
  BOOST_TEST(out.starts_with("HTTP/1.0 200 OK\r\n"));
  BOOST_TEST(out.find("Connection:") == std::string::npos);
  // HTTP/1.0 with keep-alive: kept, and said so.
  out = respond(net::v1_text("OK"), "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false,
                &keep);
  BOOST_TEST(keep);
  BOOST_TEST(out.ends_with(
      "Content-Type: text/plain; charset=utf-8\r\nConnection: keep-alive\r\n\r\nOK"));
  // A handler's own "Connection: close" closes without a second header.
  net::http_response r = net::v1_text("");
  r.set_header("connection", "close");
  out = respond(r, get11, false, &keep);
  BOOST_TEST(!keep);
  BOOST_TEST(out ==
             "HTTP/1.1 200 OK\r\n"
             "Connection: close\r\n"
             "X-Nsq-Content-Type: nsq; version=1.0\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 0\r\n"
             "\r\n");
}

BOOST_AUTO_TEST_CASE(head_gets_the_length_but_no_body) {
  const auto head_stats = "HEAD /stats HTTP/1.1\r\nHost: x\r\n\r\n"sv;
  BOOST_TEST(respond(net::v1_error(405, "METHOD_NOT_ALLOWED"), head_stats) ==
             "HTTP/1.1 405 Method Not Allowed\r\n"
             "Content-Type: application/json; charset=utf-8\r\n"
             "X-Nsq-Content-Type: nsq; version=1.0\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 32\r\n"
             "\r\n");
  BOOST_TEST(respond(net::v1_text(""), head_stats).find("Content-Length") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(handler_headers_sorted_and_canonical) {
  net::http_response r;
  r.status = 403;
  r.set_header("x-nsq-content-type", "nsq; version=1.0");
  r.set_header("allow", "GET");
  r.set_header("Allow", "PUT");  // Set replaces
  r.body = R"({"message": "TLS_REQUIRED", "https_port": 4152})";
  BOOST_TEST(r.header("ALLOW") == "PUT");
  BOOST_TEST(respond(r, get11) ==
             "HTTP/1.1 403 Forbidden\r\n"
             "Allow: PUT\r\n"
             "X-Nsq-Content-Type: nsq; version=1.0\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 47\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "\r\n"
             R"({"message": "TLS_REQUIRED", "https_port": 4152})");
}

BOOST_AUTO_TEST_CASE(status_lines) {
  BOOST_TEST(net::http_status_text(308) == "Permanent Redirect");
  BOOST_TEST(net::http_status_text(431) == "Request Header Fields Too Large");
  BOOST_TEST(net::http_status_text(599).empty());
  net::http_response r;
  r.status = 599;
  BOOST_TEST(respond(r, get11).starts_with("HTTP/1.1 599 status code 599\r\n"));
  r.status = 204;  // no body allowed: no Content-Length either
  r.body = "ignored";
  BOOST_TEST(respond(r, get11) ==
             "HTTP/1.1 204 No Content\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(date_format) {
  using namespace std::chrono;
  BOOST_TEST(net::http_date(system_clock::time_point{}) == "Thu, 01 Jan 1970 00:00:00 GMT");
  BOOST_TEST(net::http_date(system_clock::time_point{seconds{1136214245}}) == date);
  BOOST_TEST(net::http_date(system_clock::time_point{seconds{1795415197}}) ==
             "Mon, 23 Nov 2026 06:26:37 GMT");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(router)

enum class ep { ping, info, stats, pub, mpub, topic_create, config_get, config_put };

net::http_router<ep> nsqd_router() {
  net::http_router<ep> r;
  r.add("GET", "/ping", ep::ping)
      .add("GET", "/info", ep::info)
      .add("GET", "/stats", ep::stats)
      .add("POST", "/pub", ep::pub)
      .add("POST", "/mpub", ep::mpub)
      .add("POST", "/topic/create", ep::topic_create)
      .add("GET", "/config/:opt", ep::config_get)
      .add("PUT", "/config/:opt", ep::config_put);
  return r;
}

net::http_router<ep>::match route(std::string_view method, std::string_view target,
                                  std::string* bytes = nullptr) {
  static const auto router = nsqd_router();
  auto c = feed(std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_REQUIRE_EQUAL(c.requests.size(), 1u);
  auto m = router.route(c.requests[0]);
  if (bytes) net::write_http_response(*bytes, m.response, c.requests[0], date);
  return m;
}

BOOST_AUTO_TEST_CASE(matches_exact_paths_and_the_parameter) {
  auto m = route("GET", "/ping");
  BOOST_TEST((m.outcome == http_route_outcome::matched));
  BOOST_REQUIRE(m.handler != nullptr);
  BOOST_TEST((*m.handler == ep::ping));
  m = route("GET", "/config/msg_timeout?x=1");
  BOOST_TEST((*m.handler == ep::config_get));
  BOOST_TEST(m.param == "msg_timeout");
  m = route("PUT", "/config/log_level");
  BOOST_TEST((*m.handler == ep::config_put));
  BOOST_TEST(m.param == "log_level");
  m = route("GET", "/st%61ts");  // the decoded path is matched
  BOOST_TEST((*m.handler == ep::stats));
  m = route("GET", "/config/a%2Fb");  // %2F decodes into the segment: no longer one segment
  BOOST_TEST((m.outcome != http_route_outcome::matched));
}

BOOST_AUTO_TEST_CASE(trailing_slash_redirect_get_is_301) {
  std::string bytes;
  auto m = route("GET", "/stats/?format=json", &bytes);
  BOOST_TEST((m.outcome == http_route_outcome::redirect));
  BOOST_TEST(m.handler == nullptr);
  BOOST_TEST(bytes ==
             "HTTP/1.1 301 Moved Permanently\r\n"
             "Content-Type: text/html; charset=utf-8\r\n"
             "Location: /stats?format=json\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 53\r\n"
             "\r\n"
             "<a href=\"/stats?format=json\">Moved Permanently</a>.\n\n");
  BOOST_TEST(route("GET", "/config/foo/").response.header("Location") == "/config/foo");
}

BOOST_AUTO_TEST_CASE(trailing_slash_redirect_other_methods_is_308) {
  std::string bytes;
  auto m = route("POST", "/pub/?topic=a", &bytes);
  BOOST_TEST((m.outcome == http_route_outcome::redirect));
  BOOST_TEST(bytes ==
             "HTTP/1.1 308 Permanent Redirect\r\n"
             "Location: /pub?topic=a\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 0\r\n"
             "\r\n");
}

BOOST_AUTO_TEST_CASE(fixed_path_redirects) {
  BOOST_TEST(route("GET", "/STATS").response.header("Location") == "/stats");
  BOOST_TEST(route("GET", "//stats").response.header("Location") == "/stats");
  BOOST_TEST(route("GET", "/a/../Stats/").response.header("Location") == "/stats");
  BOOST_TEST(route("GET", "/Config/Foo").response.header("Location") == "/config/Foo");
  BOOST_TEST(route("POST", "/Topic/CREATE?topic=x").response.header("Location") ==
             "/topic/create?topic=x");
  BOOST_TEST(route("POST", "/Topic/CREATE").response.status == 308u);
  // httprouter's quirk: an empty parameter before a trailing slash still "recommends" it.
  BOOST_TEST(route("GET", "/config//").response.header("Location") == "/config/");
}

BOOST_AUTO_TEST_CASE(wrong_method_is_405_with_allow) {
  std::string bytes;
  auto m = route("POST", "/stats", &bytes);
  BOOST_TEST((m.outcome == http_route_outcome::method_not_allowed));
  BOOST_TEST(bytes ==
             "HTTP/1.1 405 Method Not Allowed\r\n"
             "Allow: GET, OPTIONS\r\n"
             "Content-Type: application/json; charset=utf-8\r\n"
             "X-Nsq-Content-Type: nsq; version=1.0\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 32\r\n"
             "\r\n"
             R"({"message":"METHOD_NOT_ALLOWED"})");
  BOOST_TEST(route("DELETE", "/config/x").response.header("Allow") == "GET, OPTIONS, PUT");
  BOOST_TEST(route("HEAD", "/stats").response.status == 405u);  // no HEAD routes upstream
  BOOST_TEST(route("get", "/stats").response.status == 405u);   // methods are case-sensitive
  // "*" as a path: every method that has routes.
  BOOST_TEST(route("GET", "*").response.header("Allow") == "GET, OPTIONS, POST, PUT");
}

BOOST_AUTO_TEST_CASE(automatic_options) {
  std::string bytes;
  auto m = route("OPTIONS", "/config/x", &bytes);
  BOOST_TEST((m.outcome == http_route_outcome::options));
  BOOST_TEST(bytes ==
             "HTTP/1.1 200 OK\r\n"
             "Allow: GET, OPTIONS, PUT\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 0\r\n"
             "\r\n");
  BOOST_TEST(route("OPTIONS", "/pub").response.header("Allow") == "OPTIONS, POST");
  BOOST_TEST(route("OPTIONS", "/nope").response.status == 404u);
  bytes.clear();
  m = route("OPTIONS", "*", &bytes);  // net/http's own answer
  BOOST_TEST((m.outcome == http_route_outcome::options));
  BOOST_TEST(bytes ==
             "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404) {
  std::string bytes;
  auto m = route("GET", "/nope", &bytes);
  BOOST_TEST((m.outcome == http_route_outcome::not_found));
  BOOST_TEST(bytes ==
             "HTTP/1.1 404 Not Found\r\n"
             "Content-Type: application/json; charset=utf-8\r\n"
             "X-Nsq-Content-Type: nsq; version=1.0\r\n"
             "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
             "Content-Length: 23\r\n"
             "\r\n"
             R"({"message":"NOT_FOUND"})");
  // POST has no /stats, GET has it only with a redirect: 404 (as httprouter).
  BOOST_TEST(route("POST", "/stats/").response.status == 404u);
  BOOST_TEST(route("GET", "/config/").response.status == 404u);       // empty parameter
  BOOST_TEST(route("GET", "/config/a/b").response.status == 404u);
  BOOST_TEST(route("GET", "/").response.status == 404u);
  BOOST_TEST(route("PATCH", "/nope").response.status == 404u);        // method without routes
}

BOOST_AUTO_TEST_CASE(bad_route_tables_are_refused) {
  net::http_route_table t;
  t.add("GET", "/config/:opt");
  BOOST_CHECK_THROW(t.add("GET", "/config/:other"), std::invalid_argument);
  BOOST_CHECK_THROW(t.add("GET", "/config/x"), std::invalid_argument);
  BOOST_CHECK_THROW(t.add("GET", "/config/:opt/more"), std::invalid_argument);
  BOOST_CHECK_THROW(t.add("GET", "/files/*path"), std::invalid_argument);
  BOOST_CHECK_THROW(t.add("GET", "stats"), std::invalid_argument);
  BOOST_CHECK_THROW(t.add("GET", "/x/:"), std::invalid_argument);
  BOOST_CHECK_NO_THROW(t.add("PUT", "/config/x"));  // another method
  BOOST_CHECK_NO_THROW(t.add("GET", "/config"));
  t.add("GET", "/stats");
  BOOST_CHECK_THROW(t.add("GET", "/stats"), std::invalid_argument);
  BOOST_TEST(t.size() == 4u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(url)

BOOST_AUTO_TEST_CASE(query_like_go_parse_query) {
  auto q = net::http_query::parse("topic=a+b&channel=%41%2b&topic=second&empty=&bare&&=v");
  BOOST_REQUIRE(q.has_value());
  BOOST_TEST(show(q->get("topic")) == "a b");  // the first value
  BOOST_TEST(show(q->get("channel")) == "A+");
  BOOST_TEST(show(q->get("empty")) == "");
  BOOST_TEST(show(q->get("bare")) == "");
  BOOST_TEST(show(q->get("")) == "v");
  BOOST_TEST(!q->get("missing").has_value());
  BOOST_TEST(q->has("bare"));
  BOOST_TEST(!q->has("Topic"));  // keys are case-sensitive
  BOOST_TEST(q->get_all("topic") == (std::vector<std::string_view>{"a b", "second"}));
  BOOST_TEST(q->pairs().size() == 6u);
  BOOST_TEST(net::http_query::parse("")->pairs().empty());
}

BOOST_AUTO_TEST_CASE(bad_queries_are_rejected) {
  for (const auto bad :
       {"topic=%zz"sv, "topic=%4"sv, "a=%"sv, "%=x"sv, "a=1;b=2"sv, "ok=1&bad=%g0"sv})
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST(!net::http_query::parse(bad).has_value()); }
}

BOOST_AUTO_TEST_CASE(unescaping) {
  BOOST_TEST(show(net::query_unescape("a+b%20c%2F")) == "a b c/");
  BOOST_TEST(show(net::path_unescape("a+b%20c")) == "a+b c");
  BOOST_TEST(show(net::query_unescape("%00")) == "\0"s);
  BOOST_TEST(!net::query_unescape("%").has_value());
  BOOST_TEST(!net::path_unescape("%x1").has_value());
}

BOOST_AUTO_TEST_CASE(escaping_paths_like_go) {
  BOOST_TEST(net::path_escape("/a b/c?d#é$&+,:;=@-_.~!*'()") ==
             "/a%20b/c%3Fd%23%C3%A9$&+,:;=@-_.~%21%2A%27%28%29");
}

BOOST_AUTO_TEST_CASE(clean_path_like_httprouter) {
  BOOST_TEST(net::clean_path("") == "/");
  BOOST_TEST(net::clean_path("stats") == "/stats");
  BOOST_TEST(net::clean_path("//stats//x") == "/stats/x");
  BOOST_TEST(net::clean_path("/a/./b/../c/") == "/a/c/");
  BOOST_TEST(net::clean_path("/a/.") == "/a/");
  BOOST_TEST(net::clean_path("/a/b/..") == "/a");
  BOOST_TEST(net::clean_path("/../..") == "/");
  BOOST_TEST(net::clean_path("/") == "/");
}

BOOST_AUTO_TEST_SUITE_END()
