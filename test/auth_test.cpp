#define BOOST_TEST_MODULE auth
// AUTH against --auth-http-address servers (SPEC B.5 AUTH, D.12).
//
// - units: the auth answer's parsing and validation, the request's parameters, URLs;
// - http_client: http_fetch() on a reactor against a scripted server on a thread;
// - blackbox: the built nsqd (1 and 4 shards) against a tiny auth server on a thread: success,
//   permissions, ttl expiry and re-query, servers down, bad answers, empty authorizations,
//   the post method, full URLs, timeouts, /stats fields.

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "net/http_client.hpp"
#include "protocol/v2_auth.hpp"
#include "test/support/coro_test.hpp"
#include "test/support/nsqd_process.hpp"
#include "test/support/script_server.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
namespace net = nsqd::net;
namespace protocol = nsqd::protocol;
namespace bdata = boost::unit_test::data;
using steady = std::chrono::steady_clock;

namespace {

// ---- auth answers ------------------------------------------------------------------------------

std::string answer(int ttl, const std::string& authorizations, const std::string& identity = "alice",
                   const std::string& url = "https://example.invalid/alice") {
  return R"({"ttl":)" + std::to_string(ttl) + R"(,"identity":")" + identity + R"(","identity_url":")" + url +
         R"(","authorizations":)" + authorizations + "}";
}

// The conformance suite's table: good-secret (publish ^authok with channel .*, subscribe
// ^authok on ^allowed$), empty-secret (no authorizations), broken-secret (500), else 401.
const std::string good_authorizations =
    R"([{"topic":"^authok","channels":[".*"],"permissions":["publish"]},)"
    R"({"topic":"^authok","channels":["^allowed$"],"permissions":["subscribe"]}])";

reply by_secret(const seen_request& r) {
  std::string secret = r.query.count("secret") ? r.query.at("secret") : "";
  if (secret == "good-secret") return status(200, answer(3600, good_authorizations));
  if (secret == "empty-secret") return status(200, answer(3600, "[]", "bob", ""));
  if (secret == "broken-secret") return status(500, R"({"message":"auth backend down"})");
  return status(401, R"({"message":"unknown"})");
}



// ---- nsqd helpers ------------------------------------------------------------------------------

const frame ok_frame{frame_response, "OK"};
frame error_frame(const std::string& text) { return {frame_error, text}; }

wire_client connect(nsqd_process& srv) {
  wire_client c(srv.tcp_port());
  c.send_magic();
  return c;
}

void expect_fatal(wire_client& c, const std::string& text, milliseconds timeout = 5s) {
  BOOST_TEST(c.read_frame(timeout) == error_frame(text));
  BOOST_TEST(c.expect_closed(3s));
}

// A fresh connection that sent AUTH `secret`; returns it with the AUTH answer read.
wire_client authed(nsqd_process& srv, const std::string& secret, frame* answer_out = nullptr) {
  wire_client c = connect(srv);
  c.send_command("AUTH", secret);
  frame f = c.read_frame();
  if (answer_out) *answer_out = f;
  BOOST_TEST(f.type == frame_response, "AUTH answered " << f);
  return c;
}

void start(nsqd_process& srv, int cores, std::vector<std::string> args) {
  args.push_back("--cores=" + std::to_string(cores));
  srv.start(args);
}

std::string unique(const std::string& base, int cores) {
  static int seq = 0;
  return base + "-" + std::to_string(cores) + "-" + std::to_string(++seq);
}

const auto shard_counts = bdata::make({1, 4});

}  // namespace

// =================================================================================================
BOOST_AUTO_TEST_SUITE(units)

BOOST_AUTO_TEST_CASE(parse_valid_answer) {
  auto now = steady::now();
  protocol::auth_answer a = protocol::parse_auth_response(answer(60, good_authorizations), now);
  BOOST_REQUIRE_MESSAGE(a.state.has_value(), a.error);
  const protocol::auth_state& s = *a.state;
  BOOST_TEST(s.ttl == 60);
  BOOST_TEST(s.identity == "alice");
  BOOST_TEST(s.identity_url == "https://example.invalid/alice");
  BOOST_TEST(s.authorizations.size() == 2u);
  BOOST_TEST(!s.expired(now + std::chrono::seconds(59)));
  BOOST_TEST(s.expired(now + std::chrono::seconds(61)));
  // publish: channel "" must match a channel regex of a "publish" authorization
  BOOST_TEST(s.allows("authok-1", ""));
  BOOST_TEST(s.allows("x-authok", "") == false);  // "^authok" is anchored by the regex itself
  BOOST_TEST(s.allows("other", "") == false);
  // subscribe: only channel "allowed"
  BOOST_TEST(s.allows("authok-1", "allowed"));
  BOOST_TEST(s.allows("authok-1", "forbidden") == false);
  BOOST_TEST(s.allows("authok-1", "allowed2") == false);
  BOOST_TEST(protocol::auth_success_json(s) ==
             R"({"identity":"alice","identity_url":"https://example.invalid/alice","permission_count":2})");
}

BOOST_AUTO_TEST_CASE(unanchored_search_and_flags) {
  auto a = protocol::parse_auth_response(
      R"({"ttl":1,"authorizations":[{"topic":"ok","channels":["b"],"permissions":["subscribe","publish"]},)"
      R"({"topic":"(?i)^CASE$","channels":[""],"permissions":["publish"]}]})",
      steady::now());
  BOOST_REQUIRE_MESSAGE(a.state.has_value(), a.error);
  BOOST_TEST(a.state->allows("is-ok-here", "abc"));  // substring matches, as Go's MatchString
  BOOST_TEST(a.state->allows("is-ok-here", "") == false);  // "b" does not match ""
  BOOST_TEST(a.state->allows("case", ""));  // "" matches everything; (?i) is case-insensitive
  BOOST_TEST(a.state->allows("cases", "") == false);
  BOOST_TEST(a.state->identity == "");
}

BOOST_AUTO_TEST_CASE(go_json_rules) {
  auto now = steady::now();
  // keys case-insensitively, unknown keys ignored, null leaves fields empty
  auto a = protocol::parse_auth_response(
      R"({"TTL":5,"Identity":null,"extra":[1,2],"Authorizations":[null,{"Topic":"t","CHANNELS":null,"permissions":null}]})",
      now);
  BOOST_REQUIRE_MESSAGE(a.state.has_value(), a.error);
  BOOST_TEST(a.state->ttl == 5);
  BOOST_TEST(a.state->authorizations.size() == 2u);
  BOOST_TEST(a.state->allows("t", "") == false);  // no permissions, no channels
  // top-level null: every field zero, so ttl 0 is invalid
  BOOST_TEST(!protocol::parse_auth_response("null", now).state);
}

BOOST_AUTO_TEST_CASE(invalid_answers) {
  auto now = steady::now();
  auto error_of = [&](const std::string& body) {
    protocol::auth_answer a = protocol::parse_auth_response(body, now);
    BOOST_TEST(!a.state.has_value(), body);
    return a.error;
  };
  BOOST_TEST(error_of("not json").find("JSON") != std::string::npos);
  BOOST_TEST(error_of("[]").find("JSON") != std::string::npos);
  BOOST_TEST(error_of(R"({"ttl":1} trailing)").find("JSON") != std::string::npos);
  BOOST_TEST(error_of(R"({"ttl":"60","authorizations":[]})").find("JSON") != std::string::npos);
  BOOST_TEST(error_of(R"({"ttl":1.5,"authorizations":[]})").find("JSON") != std::string::npos);
  BOOST_TEST(error_of(R"({"ttl":1,"identity":7})").find("JSON") != std::string::npos);
  BOOST_TEST(error_of(R"({"ttl":1,"authorizations":{}})").find("JSON") != std::string::npos);
  BOOST_TEST(error_of(R"({"ttl":1,"authorizations":[{"channels":[1]}]})").find("JSON") != std::string::npos);
  BOOST_TEST(error_of(answer(0, "[]")) == "invalid TTL 0 (must be >0)");
  BOOST_TEST(error_of(answer(-5, "[]")) == "invalid TTL -5 (must be >0)");
  BOOST_TEST(error_of(answer(60, R"([{"topic":"t","channels":[".*"],"permissions":["publish","admin"]}])")) ==
             "unknown permission admin");
  BOOST_TEST(error_of(answer(60, R"([{"topic":"(","channels":[".*"],"permissions":["publish"]}])"))
                 .find("unable to compile topic \"(\"") == 0u);
  BOOST_TEST(error_of(answer(60, R"([{"topic":"t","channels":["[a"],"permissions":["publish"]}])"))
                 .find("unable to compile channel \"[a\"") == 0u);
}

BOOST_AUTO_TEST_CASE(request_parameters) {
  protocol::auth_params p{"1.2.3.4", false, "s e&c=r/t+", ""};
  BOOST_TEST(protocol::auth_query(p) == "common_name=&remote_ip=1.2.3.4&secret=s+e%26c%3Dr%2Ft%2B&tls=false");
  p.tls = true;
  p.common_name = "cn";
  BOOST_TEST(protocol::auth_post_body(p) ==
             R"({"common_name":["cn"],"remote_ip":["1.2.3.4"],"secret":["s e\u0026c=r/t+"],"tls":["true"]})");
  BOOST_TEST(protocol::auth_endpoint("127.0.0.1:4181") == "http://127.0.0.1:4181/auth");
  BOOST_TEST(protocol::auth_endpoint("http://h:1/custom") == "http://h:1/custom");
  BOOST_TEST(protocol::remote_ip_of("127.0.0.1:5555") == "127.0.0.1");
  BOOST_TEST(protocol::remote_ip_of("[::1]:5555") == "::1");
  BOOST_TEST(protocol::remote_ip_of("") == "");
  BOOST_TEST(protocol::remote_ip_of("@") == "");  // a unix socket's peer, as Go's SplitHostPort fails
  BOOST_TEST(net::query_escape("aZ9-_.~ /%") == "aZ9-_.~+%2F%25");
}

BOOST_AUTO_TEST_CASE(https_endpoint_of_a_403) {
  std::string err;
  const std::string body = R"({"message": "TLS_REQUIRED", "https_port": 4152})";
  BOOST_TEST(protocol::https_endpoint("http://127.0.0.1:4151/auth?secret=x&tls=false", body, err).value_or(err) ==
             "https://127.0.0.1:4152/auth?secret=x&tls=false");
  BOOST_TEST(protocol::https_endpoint("http://[::1]:80/a", body, err).value_or(err) == "https://[::1]:4152/a");
  // Go's url.Parse + net.SplitHostPort: the endpoint must name its port; the body must be JSON.
  BOOST_TEST(!protocol::https_endpoint("http://auth.example/auth", body, err));
  BOOST_TEST(err == "address auth.example: missing port in address");
  BOOST_TEST(!protocol::https_endpoint("http://h:1/auth", "forbidden", err));
  BOOST_TEST(!protocol::https_endpoint("http://h:1/auth", R"({"https_port":"x"})", err));
  // No https_port: port 0, as Go's zero value.
  BOOST_TEST(protocol::https_endpoint("http://h:1/auth", "{}", err).value_or(err) == "https://h:0/auth");
}

BOOST_AUTO_TEST_CASE(urls) {
  std::string err;
  auto u = net::parse_http_url("http://127.0.0.1:4181/auth?x=1#frag", err);
  BOOST_REQUIRE(u.has_value());
  BOOST_TEST(u->host == "127.0.0.1");
  BOOST_TEST(u->port == "4181");
  BOOST_TEST(u->target == "/auth?x=1");
  BOOST_TEST(u->authority == "127.0.0.1:4181");
  u = net::parse_http_url("HTTP://[::1]?q", err);
  BOOST_REQUIRE(u.has_value());
  BOOST_TEST(u->host == "::1");
  BOOST_TEST(u->port == "80");
  BOOST_TEST(u->target == "/?q");
  u = net::parse_http_url("http://user:pw@example.com", err);
  BOOST_REQUIRE(u.has_value());
  BOOST_TEST(u->host == "example.com");
  BOOST_TEST(u->target == "/");
  u = net::parse_http_url("https://h/auth", err);
  BOOST_REQUIRE(u.has_value());
  BOOST_TEST(u->scheme == "https");
  BOOST_TEST(u->port == "443");
  BOOST_TEST(!net::parse_http_url("ftp://h/", err));
  BOOST_TEST(err == "unsupported protocol scheme \"ftp\"");
  BOOST_TEST(!net::parse_http_url("h:1/auth", err));
  BOOST_TEST(!net::parse_http_url("http:///auth", err));
  BOOST_TEST(!net::parse_http_url("http://h:99999/", err));
  BOOST_TEST(!net::parse_http_url("http://h:x/", err));
  BOOST_TEST(!net::parse_http_url("http://a:b:c/", err));
}

BOOST_AUTO_TEST_SUITE_END()

// =================================================================================================
// http_fetch on a reactor against script_server.

namespace {

net::http_client_limits limits(milliseconds request = 2000ms, std::uint64_t max_body = 1 << 20) {
  net::http_client_limits l;
  l.connect_timeout = 1s;
  l.request_timeout = request;
  l.max_body_size = max_body;
  return l;
}

nsqd::core::task<net::http_client_result> get(std::string url, net::http_client_limits l = limits()) {
  net::http_client_request req;
  req.url = std::move(url);
  req.headers.emplace_back("Accept", "application/vnd.nsq; version=1.0");
  net::http_client_result r = co_await net::http_fetch(std::move(req), l);
  co_return r;
}

std::string raw_answer(const std::string& head_and_body) { return "HTTP/1.1 " + head_and_body; }

}  // namespace

BOOST_AUTO_TEST_SUITE(http_client)

CORO_TEST_CASE(get_with_content_length) {
  script_server s([](const seen_request&) { return status(200, "hello"); });
  net::http_client_result r = co_await get("http://" + s.address() + "/auth?a=b");
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.body == "hello");
  auto reqs = s.requests();
  BOOST_REQUIRE(reqs.size() == 1u);
  BOOST_TEST(reqs[0].method == "GET");
  BOOST_TEST(reqs[0].target == "/auth?a=b");
  BOOST_TEST(reqs[0].headers["host"] == s.address());
  BOOST_TEST(reqs[0].headers["accept"] == "application/vnd.nsq; version=1.0");
}

CORO_TEST_CASE(post_body) {
  script_server s([](const seen_request& r) { return status(201, r.body); });
  net::http_client_request req;
  req.method = "POST";
  req.url = "http://" + s.address() + "/p";
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = R"({"a":["b"]})";
  net::http_client_result r = co_await net::http_fetch(req, limits());
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.status == 201u);
  BOOST_TEST(r.body == req.body);
  auto reqs = s.requests();
  BOOST_REQUIRE(reqs.size() == 1u);
  BOOST_TEST(reqs[0].method == "POST");
  BOOST_TEST(reqs[0].headers["content-type"] == "application/json");
  BOOST_TEST(reqs[0].headers["content-length"] == std::to_string(req.body.size()));
}

CORO_TEST_CASE(chunked_eof_delimited_and_interim) {
  script_server s([](const seen_request& r) {
    reply rep;
    if (r.path == "/chunked")
      rep.raw = raw_answer("200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    else if (r.path == "/eof")
      rep.raw = raw_answer("200 OK\r\n\r\nuntil the end");
    else
      rep.raw = raw_answer("100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno");
    return rep;
  });
  net::http_client_result r = co_await get("http://" + s.address() + "/chunked");
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.body == "abcde");
  r = co_await get("http://" + s.address() + "/eof");
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.body == "until the end");
  r = co_await get("http://" + s.address() + "/interim");
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.status == 404u);
  BOOST_TEST(r.reason == "Not Found");
  BOOST_TEST(r.body == "no");
}

CORO_TEST_CASE(failures) {
  script_server s([](const seen_request& r) {
    reply rep;
    if (r.path == "/big") rep.body = std::string(2000, 'x');
    if (r.path == "/bigchunked")
      rep.raw = raw_answer("200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + std::string(2000, 'x') + "\r\n0\r\n\r\n");
    if (r.path == "/garbage") rep.raw = "SPDY/9 what\r\n\r\n";
    if (r.path == "/hangup") rep.hang_up = true;
    if (r.path == "/short") rep.raw = raw_answer("200 OK\r\nContent-Length: 10\r\n\r\nabc");
    if (r.path == "/slow") rep.delay = 1500ms;
    return rep;
  });
  const std::string base = "http://" + s.address();
  net::http_client_result r = co_await get(base + "/big", limits(2000ms, 1000));
  BOOST_TEST(r.error.find("larger than 1000") != std::string::npos, r.error);
  r = co_await get(base + "/bigchunked", limits(2000ms, 1000));
  BOOST_TEST(r.error.find("larger than 1000") != std::string::npos, r.error);
  r = co_await get(base + "/garbage");
  BOOST_TEST(r.error.find("malformed") != std::string::npos, r.error);
  r = co_await get(base + "/hangup");
  BOOST_TEST(r.error.find("unexpected EOF") != std::string::npos, r.error);
  BOOST_TEST(r.status == 0u);
  r = co_await get(base + "/short");
  BOOST_TEST(r.error.find("unexpected EOF") != std::string::npos, r.error);
  const auto t0 = steady::now();
  r = co_await get(base + "/slow", limits(300ms));
  BOOST_TEST(r.error.find("timeout") != std::string::npos, r.error);
  BOOST_TEST((steady::now() - t0 < 1400ms));  // did not wait for the answer
  BOOST_TEST(r.status == 0u);
  // nothing listens there
  r = co_await get("http://127.0.0.1:" + std::to_string(free_port()) + "/auth");
  BOOST_TEST(r.error.find("connection refused") != std::string::npos, r.error);
  r = co_await get("https://" + s.address() + "/auth");  // no client TLS context given
  BOOST_TEST(r.error.find("https is not configured") != std::string::npos, r.error);
  r = co_await get("http://no-such-host.invalid/auth");
  BOOST_TEST(r.error.find("lookup no-such-host.invalid") != std::string::npos, r.error);
}

BOOST_AUTO_TEST_SUITE_END()

// =================================================================================================
// The built nsqd against an auth server.

BOOST_AUTO_TEST_SUITE(blackbox)

BOOST_DATA_TEST_CASE(success_and_request, shard_counts, cores) {
  script_server auth(by_secret);
  nsqd_process srv;
  start(srv, cores, {"--auth-http-address=" + auth.address()});
  const std::string topic = unique("authok", cores);
  frame f;
  wire_client c = authed(srv, "good-secret", &f);
  BOOST_TEST(f.data == R"({"identity":"alice","identity_url":"https://example.invalid/alice","permission_count":2})");
  auto reqs = auth.requests();
  BOOST_REQUIRE(reqs.size() == 1u);
  BOOST_TEST(reqs[0].method == "GET");
  BOOST_TEST(reqs[0].path == "/auth");
  BOOST_TEST(reqs[0].query["secret"] == "good-secret");
  BOOST_TEST(reqs[0].query["tls"] == "false");
  BOOST_TEST(reqs[0].query["remote_ip"] == "127.0.0.1");
  BOOST_TEST(reqs[0].query.count("common_name") == 1u);
  BOOST_TEST(reqs[0].query["common_name"] == "");
  BOOST_TEST(reqs[0].headers["accept"] == "application/vnd.nsq; version=1.0");
  c.send_command("PUB " + topic, std::string_view("x"));
  BOOST_TEST(c.read_frame() == ok_frame);
  c.send_command("MPUB " + topic, be32(1) + be32(1) + "y");
  BOOST_TEST(c.read_frame() == ok_frame);
  c.send_command("DPUB " + topic + " 10", std::string_view("z"));
  BOOST_TEST(c.read_frame() == ok_frame);
  BOOST_TEST(auth.count() == 1u);  // cached for the ttl
  c.send_command("AUTH", std::string_view("good-secret"));
  expect_fatal(c, "E_INVALID AUTH already set");
  // every command kind is checked
  for (std::string line : {"PUB other", "DPUB other 10"}) {
    wire_client d = authed(srv, "good-secret");
    d.send_command(line, std::string_view("x"));
    expect_fatal(d, "E_UNAUTHORIZED AUTH failed for " + line.substr(0, line.find(' ')) + " on \"other\" \"\"");
  }
  wire_client m = authed(srv, "good-secret");
  m.send_command("MPUB other", be32(1) + be32(1) + "y");
  expect_fatal(m, R"(E_UNAUTHORIZED AUTH failed for MPUB on "other" "")");
}

BOOST_DATA_TEST_CASE(subscribe_permissions_and_stats, shard_counts, cores) {
  script_server auth(by_secret);
  nsqd_process srv;
  start(srv, cores, {"--auth-http-address=" + auth.address()});
  const std::string topic = unique("authok", cores);
  wire_client c = authed(srv, "good-secret");
  c.send_command("SUB " + topic + " allowed");
  BOOST_TEST(c.read_frame() == ok_frame);
  // /stats shows who the client is
  http_response r = http_get(srv.http_port(), "/stats?format=json&topic=" + topic);
  BOOST_REQUIRE(r.status == 200);
  boost::json::value doc = boost::json::parse(r.body);
  const auto& client = doc.at("topics").at(0).at("channels").at(0).at("clients").at(0);
  BOOST_TEST(client.at("authed").as_bool());
  BOOST_TEST(client.at("auth_identity").as_string() == "alice");
  BOOST_TEST(client.at("auth_identity_url").as_string() == "https://example.invalid/alice");

  wire_client d = authed(srv, "good-secret");
  d.send_command("SUB " + topic + " forbidden");
  expect_fatal(d, "E_UNAUTHORIZED AUTH failed for SUB on \"" + topic + "\" \"forbidden\"");
  wire_client e = authed(srv, "good-secret");
  e.send_command("SUB not-" + topic + " allowed");
  expect_fatal(e, "E_UNAUTHORIZED AUTH failed for SUB on \"not-" + topic + "\" \"allowed\"");

  // subscribe-only and publish-only authorizations; a publish channel regex that cannot
  // match "" allows no publishing
  auth.set_handler([](const seen_request&) {
    return always(answer(60, R"([{"topic":".*","channels":["c"],"permissions":["subscribe"]},)"
                             R"({"topic":"^pubonly","channels":["x"],"permissions":["publish"]}])"));
  });
  wire_client s = authed(srv, "any");
  s.send_command("PUB " + topic, std::string_view("x"));
  expect_fatal(s, "E_UNAUTHORIZED AUTH failed for PUB on \"" + topic + "\" \"\"");
  wire_client p = authed(srv, "any");
  p.send_command("PUB pubonly", std::string_view("x"));
  expect_fatal(p, R"(E_UNAUTHORIZED AUTH failed for PUB on "pubonly" "")");
  wire_client q = authed(srv, "any");
  q.send_command("SUB " + topic + " c");
  BOOST_TEST(q.read_frame() == ok_frame);
  BOOST_TEST(srv.running());
}

BOOST_DATA_TEST_CASE(ttl_expiry_requeries, shard_counts, cores) {
  script_server auth([](const seen_request&) { return always(answer(1, good_authorizations)); });
  nsqd_process srv;
  start(srv, cores, {"--auth-http-address=" + auth.address()});
  const std::string topic = unique("authok", cores);
  wire_client c = authed(srv, "s1");
  c.send_command("PUB " + topic, std::string_view("x"));
  BOOST_TEST(c.read_frame() == ok_frame);
  BOOST_TEST(auth.count() == 1u);
  std::this_thread::sleep_for(1100ms);
  // expired: asked again (same secret), still allowed
  c.send_command("PUB " + topic, std::string_view("x"));
  BOOST_TEST(c.read_frame() == ok_frame);
  auto reqs = auth.requests();
  BOOST_REQUIRE(reqs.size() == 2u);
  BOOST_TEST(reqs[1].query["secret"] == "s1");
  // the new answer takes away publishing
  auth.set_handler([](const seen_request&) {
    return always(answer(1, R"([{"topic":".*","channels":[".*"],"permissions":["subscribe"]}])"));
  });
  std::this_thread::sleep_for(1100ms);
  c.send_command("PUB " + topic, std::string_view("x"));
  expect_fatal(c, "E_UNAUTHORIZED AUTH failed for PUB on \"" + topic + "\" \"\"");

  // a failed re-query is E_AUTH_FAILED
  auth.set_handler([](const seen_request&) { return always(answer(1, good_authorizations)); });
  wire_client d = authed(srv, "s2");
  auth.set_handler([](const seen_request&) { return status(500, "down"); });
  std::this_thread::sleep_for(1100ms);
  d.send_command("SUB " + topic + " allowed");
  expect_fatal(d, "E_AUTH_FAILED AUTH failed");
}

BOOST_DATA_TEST_CASE(server_failures, shard_counts, cores) {
  script_server auth(by_secret);
  nsqd_process srv;
  start(srv, cores, {"--auth-http-address=" + auth.address(), "--max-body-size=4096",
                     "--http-client-request-timeout=300ms"});
  auto fails = [&](const std::string& secret, const std::string& error) {
    wire_client c = connect(srv);
    c.send_command("AUTH", secret);
    expect_fatal(c, error);
  };
  fails("broken-secret", "E_AUTH_FAILED AUTH failed");     // 500
  fails("unknown-secret", "E_AUTH_FAILED AUTH failed");    // 401
  fails("empty-secret", "E_UNAUTHORIZED AUTH no authorizations found");
  const std::vector<std::string> bad_answers = {
      "not json",
      "[1,2]",
      answer(0, good_authorizations),
      answer(-1, good_authorizations),
      R"({"ttl":"60","authorizations":[]})",
      answer(60, R"([{"topic":"t","channels":[".*"],"permissions":["admin"]}])"),
      answer(60, R"([{"topic":"(","channels":[".*"],"permissions":["publish"]}])"),
      answer(60, R"([{"topic":"t","channels":["*"],"permissions":["publish"]}])"),
      answer(60, good_authorizations, std::string(5000, 'i')),  // over --max-body-size
  };
  for (const std::string& body : bad_answers) {
    BOOST_TEST_CONTEXT(body.substr(0, 80)) {
      auth.set_handler([body](const seen_request&) { return always(body); });
      fails("good-secret", "E_AUTH_FAILED AUTH failed");
    }
  }
  // no answer in time, a hang-up
  auth.set_handler([](const seen_request&) { return status(200, answer(60, good_authorizations), 1000ms); });
  const auto t0 = steady::now();
  fails("good-secret", "E_AUTH_FAILED AUTH failed");
  BOOST_TEST((steady::now() - t0 < 900ms));
  auth.set_handler([](const seen_request&) {
    reply r;
    r.hang_up = true;
    return r;
  });
  fails("good-secret", "E_AUTH_FAILED AUTH failed");
  // still serving
  auth.set_handler(by_secret);
  wire_client c = authed(srv, "good-secret");
  c.send_command("PUB authok-after", std::string_view("x"));
  BOOST_TEST(c.read_frame() == ok_frame);
}

BOOST_DATA_TEST_CASE(servers_down_and_rotation, shard_counts, cores) {
  const std::string down = "127.0.0.1:" + std::to_string(free_port());
  {
    nsqd_process srv;
    start(srv, cores, {"--auth-http-address=" + down});
    wire_client c = connect(srv);
    c.send_command("AUTH", std::string_view("good-secret"));
    expect_fatal(c, "E_AUTH_FAILED AUTH failed");
    BOOST_TEST(srv.output().find("failed to auth against " + down) != std::string::npos);
  }
  // one down, one up: every AUTH succeeds, whichever is tried first
  script_server auth(by_secret);
  nsqd_process srv;
  start(srv, cores, {"--auth-http-address=" + down, "--auth-http-address=" + auth.address()});
  for (int i = 0; i < 8; ++i) {
    frame f;
    wire_client c = authed(srv, "good-secret", &f);
    BOOST_TEST(f.data.find("\"permission_count\":2") != std::string::npos);
  }
  BOOST_TEST(auth.count() == 8u);
}

BOOST_DATA_TEST_CASE(post_method_and_full_url, shard_counts, cores) {
  script_server auth([](const seen_request&) { return always(answer(60, good_authorizations)); });
  nsqd_process srv;
  start(srv, cores, {"--auth-http-address=http://" + auth.address() + "/custom/path",
                     "--auth-http-request-method=post"});
  wire_client c = authed(srv, "p\"s&");
  auto reqs = auth.requests();
  BOOST_REQUIRE(reqs.size() == 1u);
  BOOST_TEST(reqs[0].method == "POST");
  BOOST_TEST(reqs[0].target == "/custom/path");
  BOOST_TEST(reqs[0].headers["content-type"] == "application/json");
  BOOST_TEST(reqs[0].headers["accept"] == "application/vnd.nsq; version=1.0");
  BOOST_TEST(reqs[0].body ==
             R"({"common_name":[""],"remote_ip":["127.0.0.1"],"secret":["p\"s\u0026"],"tls":["false"]})");
}

BOOST_DATA_TEST_CASE(full_url_get_keeps_its_path, shard_counts, cores) {
  script_server auth([](const seen_request&) { return always(answer(60, good_authorizations)); });
  nsqd_process srv;
  start(srv, cores, {"--auth-http-address=http://" + auth.address() + "/v1/check"});
  wire_client c = authed(srv, "x y");
  auto reqs = auth.requests();
  BOOST_REQUIRE(reqs.size() == 1u);
  BOOST_TEST(reqs[0].target == "/v1/check?common_name=&remote_ip=127.0.0.1&secret=x+y&tls=false");
}

BOOST_AUTO_TEST_CASE(auth_first_and_disabled) {
  script_server auth(by_secret);
  nsqd_process srv;
  start(srv, 1, {"--auth-http-address=" + auth.address()});
  wire_client c = connect(srv);
  c.send_command("PUB authok-x", std::string_view("x"));
  expect_fatal(c, "E_AUTH_FIRST AUTH required before PUB");
  // an answer without authorizations does not count as AUTH
  wire_client d = connect(srv);
  d.send_command("AUTH", std::string_view("empty-secret"));
  expect_fatal(d, "E_UNAUTHORIZED AUTH no authorizations found");
  BOOST_TEST(auth.count() == 1u);
  nsqd_process plain;
  plain.start({"--cores=1"});
  wire_client e = connect(plain);
  e.send_command("AUTH", std::string_view("good-secret"));
  expect_fatal(e, "E_AUTH_DISABLED AUTH disabled");
}

BOOST_AUTO_TEST_SUITE_END()
