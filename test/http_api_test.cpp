#define BOOST_TEST_MODULE http_api
// The HTTP API, black-box: the built nsqd ($NSQD_BINARY) on free loopback ports, driven with
// raw HTTP (test/support/wire_client.hpp). Every endpoint with its answers, status codes and
// error bodies, JSON key order as upstream emits it, the text /stats layout, /metrics, and the
// connection itself under bad input. Each case runs on 1 shard and on 4.

#include <boost/json/src.hpp>  // header-only Boost.JSON: objects keep their key order
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "test/support/nsqd_process.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
namespace bdata = boost::unit_test::data;
namespace json = boost::json;

namespace {

const auto shard_counts = bdata::make({1, 4});

// One nsqd with `--cores=N` and `extra` flags; one fresh connection per request (so that, on
// several shards, requests land on different shards).
class server {
 public:
  explicit server(int cores, std::vector<std::string> extra = {}) {
    extra.push_back("--cores=" + std::to_string(cores));
    _nsqd.start(extra);
  }
  ~server() { BOOST_CHECK_EQUAL(_nsqd.stop(), 0); }

  std::uint16_t http_port() const { return _nsqd.http_port(); }
  std::uint16_t tcp_port() const { return _nsqd.tcp_port(); }

  http_response request(std::string_view method, std::string_view target,
                        std::string_view body = {}, const std::vector<std::string>& headers = {}) {
    http_client c(http_port());
    return c.request(method, target, body, headers);
  }
  http_response get(std::string_view target) { return request("GET", target); }
  http_response post(std::string_view target, std::string_view body = {}) {
    return request("POST", target, body);
  }
  json::value stats(const std::string& query = {}) {
    auto r = get("/stats?format=json" + (query.empty() ? "" : "&" + query));
    BOOST_REQUIRE_EQUAL(r.status, 200);
    return json::parse(r.body);
  }
  // The topic's object in /stats, or null.
  json::value topic_stats(const std::string& topic) {
    auto s = stats("topic=" + topic);
    const auto& topics = s.at("topics");
    if (topics.is_null() || topics.as_array().empty()) return nullptr;
    return topics.as_array()[0];
  }

 private:
  nsqd_process _nsqd;
};

std::vector<std::string> keys(const json::value& v) {
  std::vector<std::string> out;
  for (const auto& kv : v.as_object()) out.emplace_back(kv.key());
  return out;
}

std::string error_body(std::string_view message) {
  return "{\"message\":\"" + std::string(message) + "\"}";
}

// Asserts an upstream V1 error: status and exactly {"message":"<TEXT>"}.
void check_error(const http_response& r, int status, std::string_view message) {
  BOOST_TEST(r.status == status);
  BOOST_TEST(r.body == error_body(message));
  BOOST_TEST(r.header("Content-Type").value_or("") == "application/json; charset=utf-8");
  BOOST_TEST(r.header("X-NSQ-Content-Type").value_or("") == "nsq; version=1.0");
}

void check_ok(const http_response& r, std::string_view body = {}) {
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == body);
  BOOST_TEST(r.header("X-NSQ-Content-Type").value_or("") == "nsq; version=1.0");
}

std::string be32(std::int32_t v) { return nsqd::test::be32(static_cast<std::uint32_t>(v)); }

// /mpub?binary=true body: [count]([size][bytes])*
std::string binary_batch(const std::vector<std::string>& bodies) {
  std::string out = be32(static_cast<std::int32_t>(bodies.size()));
  for (const auto& b : bodies) out += be32(static_cast<std::int32_t>(b.size())) + b;
  return out;
}

// A V2 consumer subscribed to topic/channel with RDY `rdy`.
wire_client consumer(server& s, const std::string& topic, const std::string& channel, int rdy,
                     const std::string& identify = {}) {
  wire_client c(s.tcp_port());
  c.send_magic();
  if (!identify.empty()) {
    c.send_command("IDENTIFY", identify);
    BOOST_REQUIRE(c.read_frame() == (frame{frame_response, "OK"}));
  }
  c.send_command("SUB " + topic + " " + channel);
  BOOST_REQUIRE(c.read_frame() == (frame{frame_response, "OK"}));
  c.send_command("RDY " + std::to_string(rdy));
  return c;
}

const std::vector<std::string> info_keys = {
    "version", "broadcast_address", "hostname", "http_port", "tcp_port", "start_time",
    "max_heartbeat_interval", "max_output_buffer_size", "max_output_buffer_timeout",
    "max_deflate_level", "topology_zone", "topology_region"};
const std::vector<std::string> stats_keys = {"version", "health", "start_time",
                                             "topics", "memory", "producers"};
const std::vector<std::string> topic_keys = {"topic_name", "channels", "depth", "backend_depth",
                                             "message_count", "message_bytes", "paused",
                                             "e2e_processing_latency"};
const std::vector<std::string> channel_keys = {
    "channel_name", "depth", "backend_depth", "in_flight_count", "deferred_count",
    "message_count", "requeue_count", "timeout_count", "client_count", "clients", "paused",
    "e2e_processing_latency"};
const std::vector<std::string> memory_keys = {
    "heap_objects", "heap_idle_bytes", "heap_in_use_bytes", "heap_released_bytes",
    "gc_pause_usec_100", "gc_pause_usec_99", "gc_pause_usec_95", "next_gc_bytes",
    "gc_total_runs"};
const std::vector<std::string> consumer_keys = {
    "client_id", "hostname", "version", "remote_address", "state", "ready_count",
    "in_flight_count", "message_count", "finish_count", "requeue_count", "connect_ts",
    "sample_rate", "deflate", "snappy", "user_agent", "topology_zone", "topology_region", "tls",
    "tls_cipher_suite", "tls_version", "tls_negotiated_protocol",
    "tls_negotiated_protocol_is_mutual"};

}  // namespace

// ---- /ping, /info ---------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(basics)

BOOST_DATA_TEST_CASE(ping_is_plain_text, shard_counts, cores) {
  server s(cores);
  auto r = s.get("/ping");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "OK");
  BOOST_TEST(r.header("Content-Type").value_or("") == "text/plain; charset=utf-8");
  BOOST_TEST(!r.header("X-NSQ-Content-Type"));
  BOOST_TEST(r.header("Date").has_value());
  // httprouter has no HEAD route: 405 with Allow.
  auto head = s.request("HEAD", "/ping");
  BOOST_TEST(head.status == 405);
  BOOST_TEST(head.header("Allow").value_or("") == "GET, OPTIONS");
}

BOOST_DATA_TEST_CASE(info_fields_in_upstream_order, shard_counts, cores) {
  server s(cores, {"--max-heartbeat-interval=20s", "--max-output-buffer-size=4096",
                   "--max-output-buffer-timeout=5s", "--max-deflate-level=4",
                   "--broadcast-address=example.test"});
  auto r = s.get("/info");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("Content-Type").value_or("") == "application/json; charset=utf-8");
  BOOST_TEST(r.header("X-NSQ-Content-Type").value_or("") == "nsq; version=1.0");
  const json::value info = json::parse(r.body);
  BOOST_TEST(keys(info) == info_keys, boost::test_tools::per_element());
  BOOST_TEST(info.at("version").as_string() == "1.3.0");
  BOOST_TEST(info.at("broadcast_address").as_string() == "example.test");
  BOOST_TEST(info.at("http_port").as_int64() == s.http_port());
  BOOST_TEST(info.at("tcp_port").as_int64() == s.tcp_port());
  BOOST_TEST(info.at("max_heartbeat_interval").as_int64() == 20'000'000'000);
  BOOST_TEST(info.at("max_output_buffer_size").as_int64() == 4096);
  BOOST_TEST(info.at("max_output_buffer_timeout").as_int64() == 5'000'000'000);
  BOOST_TEST(info.at("max_deflate_level").as_int64() == 4);
  BOOST_TEST(info.at("topology_zone").as_string() == "");
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const auto start = info.at("start_time").as_int64();
  BOOST_TEST(start <= now);
  BOOST_TEST(start >= now - 60);
  // Every shard reports the same start time.
  for (int i = 0; i < 8; ++i)
    BOOST_TEST(json::parse(s.get("/info").body).at("start_time").as_int64() == start);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- /pub, /mpub ----------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(publish)

BOOST_DATA_TEST_CASE(pub_queues_the_body, shard_counts, cores) {
  server s(cores);
  auto r = s.post("/pub?topic=t1", std::string("via http \x00\n\xff", 12));
  check_ok(r, "OK");
  BOOST_TEST(r.header("Content-Type").value_or("") == "text/plain; charset=utf-8");
  check_ok(s.post("/pub?topic=t1", "two"), "OK");
  const json::value t = s.topic_stats("t1");
  BOOST_REQUIRE(t.is_object());
  BOOST_TEST(t.at("message_count").as_int64() == 2);
  BOOST_TEST(t.at("message_bytes").as_int64() == 15);
  BOOST_TEST(t.at("depth").as_int64() == 2);  // no channel yet: they wait at the topic
}

BOOST_DATA_TEST_CASE(pub_errors, shard_counts, cores) {
  server s(cores);
  check_error(s.post("/pub?topic=t", ""), 400, "MSG_EMPTY");
  check_error(s.post("/pub", ""), 400, "MSG_EMPTY");  // the body is checked first
  check_error(s.post("/pub", "x"), 400, "MISSING_ARG_TOPIC");
  check_error(s.post("/pub?topic=bad/t", "x"), 400, "INVALID_TOPIC");
  check_error(s.post("/pub?topic=" + std::string(65, 'a'), "x"), 400, "INVALID_TOPIC");
  check_error(s.post("/pub?topic=", "x"), 400, "INVALID_TOPIC");
  check_error(s.post("/pub?topic=a%zz", "x"), 400, "INVALID_REQUEST");
  check_error(s.post("/pub?topic=a;b", "x"), 400, "INVALID_REQUEST");
  for (const char* d : {"abc", "-1", "3600001", "1.5", ""})
    check_error(s.post(std::string("/pub?topic=t&defer=") + d, "x"), 400, "INVALID_DEFER");
  check_ok(s.post("/pub?topic=t&defer=3600000", "x"), "OK");
  check_ok(s.post("/pub?topic=" + std::string(64, 'a'), "x"), "OK");
  check_ok(s.post("/pub?topic=t%23ephemeral", "x"), "OK");  // "t#ephemeral"
  // The first value of a repeated key counts.
  check_ok(s.post("/pub?topic=first&topic=bad/second", "x"), "OK");
  BOOST_TEST(s.topic_stats("first").is_object());
}

BOOST_DATA_TEST_CASE(pub_defer_goes_to_the_channel_deferred_queue, shard_counts, cores) {
  server s(cores);
  check_ok(s.post("/topic/create?topic=t"));
  check_ok(s.post("/channel/create?topic=t&channel=c"));
  check_ok(s.post("/pub?topic=t&defer=60000", "later"), "OK");
  check_ok(s.post("/pub?topic=t&defer=0", "now"), "OK");
  const json::value c = s.topic_stats("t").at("channels").as_array()[0];
  BOOST_TEST(c.at("deferred_count").as_int64() == 1);
  BOOST_TEST(c.at("depth").as_int64() == 1);
}

BOOST_DATA_TEST_CASE(pub_over_max_msg_size_is_413, shard_counts, cores) {
  server s(cores, {"--max-msg-size=100"});
  check_ok(s.post("/pub?topic=t", std::string(100, 'z')), "OK");
  {
    http_client h(s.http_port());
    check_error(h.post("/pub?topic=t", std::string(101, 'z')), 413, "MSG_TOO_BIG");
    BOOST_TEST(h.expect_closed(2s));  // the body may be left unread: the connection ends
  }
  {
    // Declared far over the limit and never sent: refused from Content-Length alone, and
    // without a "100 Continue".
    http_client h(s.http_port());
    h.send_raw("POST /pub?topic=t HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
               "Content-Length: 10000000\r\n\r\n");
    check_error(h.read_response(), 413, "MSG_TOO_BIG");
    BOOST_TEST(h.expect_closed(2s));
  }
  {
    // A chunked body is bounded while it is read.
    http_client h(s.http_port());
    std::string chunk(80, 'c');
    h.send_raw("POST /pub?topic=t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "50\r\n" + chunk + "\r\n50\r\n" + chunk + "\r\n0\r\n\r\n");
    check_error(h.read_response(), 413, "MSG_TOO_BIG");
  }
  BOOST_TEST(s.topic_stats("t").at("message_count").as_int64() == 1);
  BOOST_TEST(s.get("/ping").body == "OK");
}

BOOST_DATA_TEST_CASE(chunked_and_continued_bodies_are_read, shard_counts, cores) {
  server s(cores);
  http_client h(s.http_port());
  h.send_raw("POST /pub?topic=t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  check_ok(h.read_response(), "OK");
  h.send_raw("POST /pub?topic=t HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
             "Content-Length: 5\r\n\r\n");
  BOOST_TEST(h.connection().read_until("\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n");
  h.send_raw("hello");
  check_ok(h.read_response(), "OK");
  const json::value t = s.topic_stats("t");
  BOOST_TEST(t.at("message_count").as_int64() == 2);
  BOOST_TEST(t.at("message_bytes").as_int64() == 10);
}

BOOST_DATA_TEST_CASE(mpub_text_and_binary, shard_counts, cores) {
  server s(cores);
  // Text: one message per line, empty lines skipped, '\r' kept.
  check_ok(s.post("/mpub?topic=t", "one\ntwo\r\n\nthree\n\n"), "OK");
  json::value t = s.topic_stats("t");
  BOOST_TEST(t.at("message_count").as_int64() == 3);
  BOOST_TEST(t.at("message_bytes").as_int64() == 12);
  check_ok(s.post("/mpub?topic=t&binary=false", "a\nb"), "OK");
  BOOST_TEST(s.topic_stats("t").at("message_count").as_int64() == 5);
  // Binary: [count][size][bytes]... (no leading total size); true, 1 and any other value.
  for (const char* flag : {"true", "1", "yes"}) {
    check_ok(s.post(std::string("/mpub?topic=b&binary=") + flag,
                    binary_batch({"b\none", std::string(2, '\0'), "three"})),
             "OK");
  }
  t = s.topic_stats("b");
  BOOST_TEST(t.at("message_count").as_int64() == 9);
  BOOST_TEST(t.at("message_bytes").as_int64() == 3 * 12);
  // Empty body: OK, nothing queued.
  check_ok(s.post("/mpub?topic=empty", ""), "OK");
  BOOST_TEST(s.topic_stats("empty").at("message_count").as_int64() == 0);
}

BOOST_DATA_TEST_CASE(mpub_errors_queue_nothing, shard_counts, cores) {
  server s(cores, {"--max-msg-size=100", "--max-body-size=1000"});
  const std::string bin = "/mpub?topic=t&binary=1";
  check_error(s.post(bin, be32(0)), 413, "BAD_BODY");
  check_error(s.post(bin, "xy"), 413, "BAD_BODY");
  check_error(s.post(bin, be32(200)), 413, "BAD_BODY");  // > (1000 - 4) / 5
  check_error(s.post(bin, be32(1) + be32(0)), 413, "BAD_MESSAGE");
  check_error(s.post(bin, be32(1) + be32(-3)), 413, "BAD_MESSAGE");
  check_error(s.post(bin, be32(1) + be32(101) + std::string(101, 'x')), 413, "BAD_MESSAGE");
  check_error(s.post(bin, be32(2) + be32(1) + "a"), 413, "BAD_MESSAGE");      // count > present
  check_error(s.post(bin, be32(1) + be32(5) + "abc"), 413, "BAD_MESSAGE");    // short body
  check_error(s.post("/mpub?topic=t", "ok\n" + std::string(101, 'y') + "\n"), 413, "MSG_TOO_BIG");
  check_error(s.post("/mpub?topic=t", std::string(1001, 'z')), 413, "BODY_TOO_BIG");
  check_error(s.post("/mpub", "x\n"), 400, "MISSING_ARG_TOPIC");
  check_error(s.post("/mpub?topic=bad/t", "x\n"), 400, "INVALID_TOPIC");
  // A rejected batch creates no topic (quirk 4, fixed).
  BOOST_TEST(s.stats("topic=t").at("topics").is_null());
  // Trailing bytes after the last message are ignored, as upstream.
  check_ok(s.post(bin, binary_batch({"m"}) + "junk"), "OK");
  BOOST_TEST(s.topic_stats("t").at("message_count").as_int64() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- /topic/*, /channel/* -------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(admin)

BOOST_DATA_TEST_CASE(topic_endpoints, shard_counts, cores) {
  server s(cores);
  check_ok(s.post("/topic/create?topic=t"));
  check_ok(s.post("/topic/create?topic=t"));  // again: fine
  json::value t = s.topic_stats("t");
  BOOST_TEST(t.at("channels").as_array().empty());
  BOOST_TEST(t.at("paused").as_bool() == false);
  check_error(s.post("/topic/create"), 400, "MISSING_ARG_TOPIC");
  check_error(s.post("/topic/create?topic=no%20good"), 400, "INVALID_TOPIC");
  check_error(s.post("/topic/create?topic=%zz"), 400, "INVALID_REQUEST");

  check_ok(s.post("/mpub?topic=t", "1\n2\n3"), "OK");
  BOOST_TEST(s.topic_stats("t").at("depth").as_int64() == 3);
  check_ok(s.post("/topic/empty?topic=t"));
  t = s.topic_stats("t");
  BOOST_TEST(t.at("depth").as_int64() == 0);
  BOOST_TEST(t.at("message_count").as_int64() == 3);
  check_error(s.post("/topic/empty?topic=nope"), 404, "TOPIC_NOT_FOUND");
  check_error(s.post("/topic/empty"), 400, "MISSING_ARG_TOPIC");
  check_error(s.post("/topic/empty?topic=bad/t"), 400, "INVALID_TOPIC");

  check_ok(s.post("/topic/pause?topic=t"));
  BOOST_TEST(s.topic_stats("t").at("paused").as_bool() == true);
  check_ok(s.post("/topic/unpause?topic=t"));
  BOOST_TEST(s.topic_stats("t").at("paused").as_bool() == false);
  check_error(s.post("/topic/pause?topic=nope"), 404, "TOPIC_NOT_FOUND");
  check_error(s.post("/topic/unpause"), 400, "MISSING_ARG_TOPIC");
  check_error(s.post("/topic/pause?topic=bad/t"), 404, "TOPIC_NOT_FOUND");  // no name check

  check_ok(s.post("/topic/delete?topic=t"));
  BOOST_TEST(s.stats("topic=t").at("topics").is_null());
  check_error(s.post("/topic/delete?topic=t"), 404, "TOPIC_NOT_FOUND");
  check_error(s.post("/topic/delete"), 400, "MISSING_ARG_TOPIC");
  check_error(s.post("/topic/delete?topic=bad/t"), 404, "TOPIC_NOT_FOUND");
}

BOOST_DATA_TEST_CASE(channel_endpoints, shard_counts, cores) {
  server s(cores);
  check_error(s.post("/channel/create?topic=t&channel=c"), 404, "TOPIC_NOT_FOUND");
  check_ok(s.post("/topic/create?topic=t"));
  check_ok(s.post("/channel/create?topic=t&channel=c"));
  check_ok(s.post("/channel/create?topic=t&channel=d"));
  const json::value c = s.topic_stats("t").at("channels").as_array()[0];
  BOOST_TEST(c.at("channel_name").as_string() == "c");
  BOOST_TEST(c.at("clients").as_array().empty());
  BOOST_TEST(c.at("client_count").as_int64() == 0);
  check_error(s.post("/channel/create?channel=c"), 400, "MISSING_ARG_TOPIC");
  check_error(s.post("/channel/create?topic=bad/t&channel=c"), 400, "INVALID_ARG_TOPIC");
  check_error(s.post("/channel/create?topic=t"), 400, "MISSING_ARG_CHANNEL");
  check_error(s.post("/channel/create?topic=t&channel=bad/c"), 400, "INVALID_ARG_CHANNEL");
  check_error(s.post("/channel/create?topic=t&channel=c&%zz"), 400, "INVALID_REQUEST");

  // Messages go to both channels; empty one, pause the other.
  check_ok(s.post("/mpub?topic=t", "1\n2"), "OK");
  check_ok(s.post("/channel/empty?topic=t&channel=c"));
  check_ok(s.post("/channel/pause?topic=t&channel=d"));
  json::value t = s.topic_stats("t");
  BOOST_TEST(t.at("channels").as_array()[0].at("depth").as_int64() == 0);
  BOOST_TEST(t.at("channels").as_array()[1].at("depth").as_int64() == 2);
  BOOST_TEST(t.at("channels").as_array()[1].at("paused").as_bool() == true);
  check_ok(s.post("/channel/unpause?topic=t&channel=d"));
  BOOST_TEST(s.topic_stats("t").at("channels").as_array()[1].at("paused").as_bool() == false);
  for (const char* op : {"empty", "pause", "unpause", "delete"}) {
    const std::string path = std::string("/channel/") + op;
    check_error(s.post(path + "?topic=t&channel=nope"), 404, "CHANNEL_NOT_FOUND");
    check_error(s.post(path + "?topic=nope&channel=c"), 404, "TOPIC_NOT_FOUND");
    check_error(s.post(path + "?topic=t"), 400, "MISSING_ARG_CHANNEL");
  }
  check_ok(s.post("/channel/delete?topic=t&channel=c"));
  t = s.topic_stats("t");
  BOOST_TEST(t.at("channels").as_array().size() == 1u);
  BOOST_TEST(t.at("channels").as_array()[0].at("channel_name").as_string() == "d");
  check_error(s.post("/channel/delete?topic=t&channel=c"), 404, "CHANNEL_NOT_FOUND");
}

// Needs the TCP protocol: a consumer of a deleted topic is disconnected.
BOOST_DATA_TEST_CASE(topic_delete_disconnects_consumers, shard_counts, cores) {
  server s(cores);
  wire_client c = consumer(s, "t", "ch", 1);
  check_ok(s.post("/pub?topic=t", "doomed"), "OK");
  BOOST_TEST(c.read_frame().type == frame_message);
  check_ok(s.post("/topic/delete?topic=t"));
  BOOST_TEST(c.expect_closed(3s));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- /stats ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(stats)

BOOST_DATA_TEST_CASE(json_shape_and_key_order, shard_counts, cores) {
  server s(cores);
  json::value doc = s.stats();
  BOOST_TEST(keys(doc) == stats_keys, boost::test_tools::per_element());
  BOOST_TEST(doc.at("version").as_string() == "1.3.0");
  BOOST_TEST(doc.at("health").as_string() == "OK");
  BOOST_TEST(doc.at("topics").as_array().empty());  // [] on a fresh server
  BOOST_TEST(doc.at("producers").is_null());
  BOOST_TEST(keys(doc.at("memory")) == memory_keys, boost::test_tools::per_element());

  check_ok(s.post("/topic/create?topic=t"));
  check_ok(s.post("/channel/create?topic=t&channel=c"));
  check_ok(s.post("/pub?topic=t", "hello"), "OK");
  doc = s.stats();
  const json::value& t = doc.at("topics").as_array()[0];
  BOOST_TEST(keys(t) == topic_keys, boost::test_tools::per_element());
  BOOST_TEST(t.at("message_bytes").as_int64() == 5);
  const json::value& c = t.at("channels").as_array()[0];
  BOOST_TEST(keys(c) == channel_keys, boost::test_tools::per_element());
  BOOST_TEST(c.at("depth").as_int64() == 1);
  BOOST_TEST(c.at("message_count").as_int64() == 1);
  // No percentiles configured: upstream's empty result.
  BOOST_TEST(json::serialize(c.at("e2e_processing_latency")) == R"({"count":0,"percentiles":null})");
  BOOST_TEST(json::serialize(t.at("e2e_processing_latency")) == R"({"count":0,"percentiles":null})");
  auto r = s.get("/stats?format=json");
  BOOST_TEST(r.header("Content-Type").value_or("") == "application/json; charset=utf-8");
  BOOST_TEST(r.header("X-NSQ-Content-Type").value_or("") == "nsq; version=1.0");
}

BOOST_DATA_TEST_CASE(filters_null_and_empty, shard_counts, cores) {
  server s(cores);
  for (const auto& [topic, channels] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"fa", {"ca", "cb"}}, {"fb", {"ca"}}, {"fc", {"cb"}}}) {
    check_ok(s.post("/topic/create?topic=" + topic));
    for (const auto& ch : channels) check_ok(s.post("/channel/create?topic=" + topic + "&channel=" + ch));
  }
  const auto names = [](const json::value& doc) {
    std::vector<std::string> out;
    for (const auto& t : doc.at("topics").as_array()) {
      std::string entry(t.at("topic_name").as_string());
      for (const auto& c : t.at("channels").as_array())
        entry += ":" + std::string(c.at("channel_name").as_string());
      out.push_back(entry);
    }
    return out;
  };
  BOOST_TEST(names(s.stats()) == (std::vector<std::string>{"fa:ca:cb", "fb:ca", "fc:cb"}),
             boost::test_tools::per_element());
  BOOST_TEST(names(s.stats("topic=fa")) == (std::vector<std::string>{"fa:ca:cb"}),
             boost::test_tools::per_element());
  BOOST_TEST(names(s.stats("channel=ca")) == (std::vector<std::string>{"fa:ca", "fb:ca"}),
             boost::test_tools::per_element());
  BOOST_TEST(s.stats("topic=fc&channel=ca").at("topics").as_array().empty());  // []
  BOOST_TEST(s.stats("topic=nope").at("topics").is_null());                    // null
  BOOST_TEST(s.stats("topic=nope&channel=ca").at("topics").is_null());
  check_error(s.get("/stats?format=json&topic=%zz"), 400, "INVALID_REQUEST");
}

BOOST_DATA_TEST_CASE(include_flags, shard_counts, cores) {
  server s(cores);
  check_ok(s.post("/topic/create?topic=t"));
  check_ok(s.post("/channel/create?topic=t&channel=c"));
  json::value doc = s.stats("include_clients=false");
  BOOST_TEST(doc.at("topics").as_array()[0].at("channels").as_array()[0].at("clients").is_null());
  BOOST_TEST(doc.at("producers").is_null());
  doc = s.stats("include_mem=0&include_clients=0");
  BOOST_TEST(!doc.as_object().contains("memory"));
  BOOST_TEST(keys(doc) == (std::vector<std::string>{"version", "health", "start_time", "topics",
                                                    "producers"}),
             boost::test_tools::per_element());
  doc = s.stats("include_mem=false&include_clients=bogus");  // anything else: true
  BOOST_TEST(!doc.as_object().contains("memory"));
  BOOST_TEST(doc.at("topics").as_array()[0].at("channels").as_array()[0].at("clients").is_array());
  doc = s.stats("include_mem=maybe");
  BOOST_TEST(doc.as_object().contains("memory"));
}

BOOST_DATA_TEST_CASE(e2e_percentiles_listed_when_configured, shard_counts, cores) {
  server s(cores, {"--e2e-processing-latency-percentile=0.5,0.99"});
  check_ok(s.post("/topic/create?topic=bare"));
  check_ok(s.post("/topic/create?topic=t"));
  check_ok(s.post("/channel/create?topic=t&channel=c"));
  // Raw text: Go writes the quantiles as 0.99 and 0.5, highest first as the flag sorts them.
  const std::string body = s.get("/stats?format=json").body;
  const std::string none = R"("e2e_processing_latency":{"count":0,"percentiles":null})";
  const std::string listed =
      R"("e2e_processing_latency":{"count":0,"percentiles":[{"quantile":0.99,"value":0},{"quantile":0.5,"value":0}]})";
  const auto count = [&body](const std::string& part) {
    std::size_t n = 0;
    for (auto pos = body.find(part); pos != std::string::npos; pos = body.find(part, pos + 1)) ++n;
    return n;
  };
  // A topic without channels has no latency stream: upstream's empty result. The channel and
  // its topic list every quantile.
  BOOST_TEST(count(none) == 1u);
  BOOST_TEST(count(listed) == 2u);
  BOOST_TEST(body.find(R"("paused":false,)" + none + R"(},{"topic_name":"t")") != std::string::npos,
             body);
  // Text: one human-readable value per quantile.
  const std::string text = s.get("/stats?include_mem=false").body;
  BOOST_TEST(text.find("msgs: 0        e2e%: 0.0ns, 0.0ns\n") != std::string::npos);
}

// Needs the TCP protocol: each FIN is one latency sample; REQ and messages still in flight are
// not. The topic merges its channels; text and /metrics show the same window.
BOOST_DATA_TEST_CASE(e2e_percentiles_count_finished_messages, shard_counts, cores) {
  server s(cores, {"--e2e-processing-latency-percentile=0.5,0.99"});
  wire_client c = consumer(s, "t", "ch", 10);
  check_ok(s.post("/channel/create?topic=t&channel=other"));
  for (int i = 0; i < 5; ++i) check_ok(s.post("/pub?topic=t", "m" + std::to_string(i)), "OK");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    const frame f = c.read_frame();
    BOOST_REQUIRE_EQUAL(f.type, frame_message);
    ids.push_back(f.data.substr(10, 16));
  }
  for (int i = 0; i < 3; ++i) c.send_command("FIN " + ids[i]);
  c.send_command("REQ " + ids[3] + " 0");  // requeued (and redelivered): not a sample
  c.send_command("FIN 0000000000000000");  // not in flight: E_FIN_FAILED, no sample
  frame f = c.read_frame();
  if (f.type == frame_message) f = c.read_frame();  // the requeued message, redelivered
  BOOST_TEST(f.type == frame_error);

  json::value t;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    t = s.topic_stats("t");
    if (t.at("channels").as_array()[0].at("e2e_processing_latency").at("count").as_int64() >= 3 ||
        std::chrono::steady_clock::now() > deadline)
      break;
    std::this_thread::sleep_for(20ms);
  }
  const auto& channels = t.at("channels").as_array();
  BOOST_REQUIRE_EQUAL(channels.size(), 2u);
  const auto check_e2e = [](const json::value& e2e, std::int64_t count, bool zero) {
    BOOST_TEST(keys(e2e) == (std::vector<std::string>{"count", "percentiles"}),
               boost::test_tools::per_element());
    BOOST_TEST(e2e.at("count").as_int64() == count);
    const auto& ps = e2e.at("percentiles").as_array();
    BOOST_REQUIRE_EQUAL(ps.size(), 2u);
    BOOST_TEST(ps[0].at("quantile").to_number<double>() == 0.99);  // flag values sorted, highest first
    BOOST_TEST(ps[1].at("quantile").to_number<double>() == 0.5);
    for (const auto& p : ps) {
      BOOST_TEST(keys(p) == (std::vector<std::string>{"quantile", "value"}),
                 boost::test_tools::per_element());
      const double v = p.at("value").to_number<double>();
      if (zero)
        BOOST_TEST(v == 0.0);
      else
        BOOST_TEST((v > 0 && v < 60e9), "value " << v << " ns");
    }
  };
  check_e2e(channels[0].at("e2e_processing_latency"), 3, false);  // "ch"
  check_e2e(channels[1].at("e2e_processing_latency"), 0, true);   // "other": nobody FINs there
  check_e2e(t.at("e2e_processing_latency"), 3, false);
  // A channel filter shows one channel; the topic still merges all of them.
  auto filtered = s.stats("topic=t&channel=other").at("topics").as_array()[0];
  BOOST_TEST(filtered.at("e2e_processing_latency").at("count").as_int64() == 3);

  const std::string text = s.get("/stats?include_mem=false&include_clients=false").body;
  const std::regex dur(R"([0-9]+\.[0-9](ns|us|ms|s))");
  const std::regex ch_line(R"(      \[ch +\] .* msgs: 5        e2e%: ([0-9.a-z]+), ([0-9.a-z]+)\n)");
  std::smatch m;
  BOOST_REQUIRE(std::regex_search(text, m, ch_line));
  BOOST_TEST(std::regex_match(m[1].str(), dur));
  BOOST_TEST(std::regex_match(m[2].str(), dur));
  BOOST_TEST(m[1].str() != "0.0ns");
  BOOST_TEST(text.find("msgs: 5        e2e%: 0.0ns, 0.0ns\n") != std::string::npos);  // "other"

  const std::string metrics = s.get("/metrics").body;
  BOOST_TEST(metrics.find("nsqd_channel_e2e_processing_latency_samples{topic=\"t\",channel=\"ch\"} 3\n") !=
             std::string::npos);
  BOOST_TEST(metrics.find("nsqd_topic_e2e_processing_latency_samples{topic=\"t\"} 3\n") !=
             std::string::npos);
  BOOST_TEST(metrics.find("nsqd_channel_e2e_processing_latency_seconds{topic=\"t\",channel=\"other\","
                          "quantile=\"0.99\"} 0\n") != std::string::npos);
}

BOOST_DATA_TEST_CASE(text_layout, shard_counts, cores) {
  server s(cores);
  std::string text = s.get("/stats").body;
  BOOST_TEST(text.starts_with("nsqd v1.3.0 (built w/"));
  BOOST_TEST(text.find("\n\nMemory:\n   heap_objects             \t") != std::string::npos);
  BOOST_TEST(text.find("\n\nTopics: None\n") != std::string::npos);
  BOOST_TEST(text.ends_with("\n\nProducers: None\n"));

  check_ok(s.post("/topic/create?topic=st"));
  check_ok(s.post("/channel/create?topic=st&channel=chan"));
  check_ok(s.post("/channel/create?topic=st&channel=other"));
  check_ok(s.post("/mpub?topic=st", "1\n2\n3"), "OK");
  check_ok(s.post("/topic/pause?topic=st"));
  check_ok(s.post("/channel/pause?topic=st&channel=chan"));
  check_ok(s.post("/topic/create?topic=zz"));
  auto r = s.get("/stats?include_mem=false");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("Content-Type").value_or("") == "text/plain; charset=utf-8");
  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos <= r.body.size();) {
    const auto nl = r.body.find('\n', pos);
    if (nl == std::string::npos) {
      lines.push_back(r.body.substr(pos));
      break;
    }
    lines.push_back(r.body.substr(pos, nl - pos));
    pos = nl + 1;
  }
  BOOST_REQUIRE(lines.size() == 15u);
  BOOST_TEST(std::regex_match(lines[1], std::regex(R"(start_time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d))")));
  BOOST_TEST(std::regex_match(lines[2], std::regex(R"(uptime [0-9.hmsµun]+)")));
  BOOST_TEST(lines[3] == "");
  BOOST_TEST(lines[4] == "Health: OK");
  BOOST_TEST(lines[5] == "");
  BOOST_TEST(lines[6] == "Topics:");
  BOOST_TEST(lines[7] == "*P [st             ] depth: 0     be-depth: 0     msgs: 3        e2e%: ");
  BOOST_TEST(lines[8] == "   *P [chan                     ] depth: 3     be-depth: 0     inflt: 0    "
                         "def: 0    re-q: 0     timeout: 0     msgs: 3        e2e%: ");
  BOOST_TEST(lines[9] == "      [other                    ] depth: 3     be-depth: 0     inflt: 0    "
                         "def: 0    re-q: 0     timeout: 0     msgs: 3        e2e%: ");
  BOOST_TEST(lines[10] == "");
  BOOST_TEST(lines[11] == "   [zz             ] depth: 0     be-depth: 0     msgs: 0        e2e%: ");
  BOOST_TEST(lines[12] == "");
  BOOST_TEST(lines[13] == "Producers: None");
  BOOST_TEST(lines[14] == "");
}

// Needs the TCP protocol: a subscribed consumer in JSON and text.
BOOST_DATA_TEST_CASE(clients_in_json_and_text, shard_counts, cores) {
  server s(cores);
  wire_client c = consumer(s, "t", "ch", 3,
                           R"({"client_id":"cid","hostname":"hn","user_agent":"ua/1"})");
  check_ok(s.post("/pub?topic=t", "x"), "OK");
  BOOST_TEST(c.read_frame().type == frame_message);
  json::value ch;
  for (deadline d(5s); !d.passed(); std::this_thread::sleep_for(20ms)) {
    ch = s.topic_stats("t").at("channels").as_array()[0];
    if (ch.at("in_flight_count").as_int64() == 1) break;
  }
  BOOST_REQUIRE(ch.at("clients").as_array().size() == 1u);
  const json::value& cl = ch.at("clients").as_array()[0];
  BOOST_TEST(keys(cl) == consumer_keys, boost::test_tools::per_element());
  BOOST_TEST(cl.at("client_id").as_string() == "cid");
  BOOST_TEST(cl.at("state").as_int64() == 3);
  BOOST_TEST(cl.at("ready_count").as_int64() == 3);
  BOOST_TEST(cl.at("in_flight_count").as_int64() == 1);
  const std::string text = s.get("/stats?include_mem=false").body;
  const std::regex client_line(
      R"(\n        \[V2 hn:\d+ ua/1\s*\] state: 3 inflt: 1    rdy: 3    fin: 0        re-q: 0        msgs: 1        connected: \d+s\n)");
  BOOST_TEST(std::regex_search(text, client_line), text);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- /config --------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(config)

BOOST_DATA_TEST_CASE(get_every_kind_of_option, shard_counts, cores) {
  server s(cores, {"--lookupd-tcp-address=127.0.0.1:4160"});
  auto r = s.get("/config/msg_timeout");
  check_ok(r, "60000000000");
  BOOST_TEST(r.header("Content-Type").value_or("") == "application/json; charset=utf-8");
  check_ok(s.get("/config/max_msg_size"), "1048576");
  check_ok(s.get("/config/log_level"), "2");
  check_ok(s.get("/config/tls_min_version"), "769");
  check_ok(s.get("/config/tls_required"), "0");
  check_ok(s.get("/config/snappy"), "true");
  check_ok(s.get("/config/nsqlookupd_tcp_addresses"), R"(["127.0.0.1:4160"])");
  check_ok(s.get("/config/e2e_processing_latency_percentiles"), "null");
  r = s.get("/config/tcp_address");  // strings are raw text
  check_ok(r, "127.0.0.1:" + std::to_string(s.tcp_port()));
  BOOST_TEST(r.header("Content-Type").value_or("") == "text/plain; charset=utf-8");
  r = s.get("/config/tls_cert");  // an empty string: 200, nothing
  check_ok(r, "");
  BOOST_TEST(!r.header("Content-Type"));
  for (const char* bad : {"no_such_option", "version", "config", "verbose", "worker_id", "cores_x"})
    check_error(s.get(std::string("/config/") + bad), 400, "INVALID_OPTION");
}

BOOST_DATA_TEST_CASE(put_log_level, shard_counts, cores) {
  server s(cores);
  check_ok(s.request("PUT", "/config/log_level", "debug"), "1");
  // The logger is shared: every shard sees the new level.
  for (int i = 0; i < 8; ++i) check_ok(s.get("/config/log_level"), "1");
  check_ok(s.request("PUT", "/config/log_level", "WARN"), "3");
  check_error(s.request("PUT", "/config/log_level", "loud"), 400, "INVALID_VALUE");
  check_error(s.request("PUT", "/config/log_level", "warn\n"), 400, "INVALID_VALUE");
  check_error(s.request("PUT", "/config/log_level", ""), 413, "INVALID_VALUE");
  check_ok(s.get("/config/log_level"), "3");
}

BOOST_DATA_TEST_CASE(put_other_options, shard_counts, cores) {
  server s(cores, {"--max-msg-size=64"});
  check_error(s.request("PUT", "/config/msg_timeout", "1000"), 400, "INVALID_OPTION");
  check_error(s.request("PUT", "/config/no_such", "1"), 400, "INVALID_OPTION");
  // The body is checked first: empty or over --max-msg-size is 413, whatever the option.
  check_error(s.request("PUT", "/config/no_such", ""), 413, "INVALID_VALUE");
  check_error(s.request("PUT", "/config/nsqlookupd_tcp_addresses", std::string(65, '[')), 413,
              "INVALID_VALUE");

  http_client h(s.http_port());  // one connection: one shard
  check_ok(h.request("PUT", "/config/nsqlookupd_tcp_addresses", R"(["a:4160", "b:4160"])"),
           R"(["a:4160","b:4160"])");
  check_ok(h.get("/config/nsqlookupd_tcp_addresses"), R"(["a:4160","b:4160"])");
  check_ok(h.request("PUT", "/config/nsqlookupd_tcp_addresses", "[]"), "[]");
  check_ok(h.request("PUT", "/config/nsqlookupd_tcp_addresses", R"(["x:1",null])"), R"(["x:1",""])");
  check_ok(h.request("PUT", "/config/nsqlookupd_tcp_addresses", "null"), "null");
  for (const char* bad : {"[1]", "\"a:4160\"", "[\"a\"", "{}", "[\"a\"] x", "nope"})
    check_error(h.request("PUT", "/config/nsqlookupd_tcp_addresses", bad), 400, "INVALID_VALUE");
  check_ok(h.get("/config/nsqlookupd_tcp_addresses"), "null");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- routing --------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(routing)

BOOST_DATA_TEST_CASE(not_found_method_not_allowed_redirects, shard_counts, cores) {
  server s(cores);
  check_error(s.get("/no/such/path"), 404, "NOT_FOUND");
  auto r = s.get("/pub");
  check_error(r, 405, "METHOD_NOT_ALLOWED");
  BOOST_TEST(r.header("Allow").value_or("") == "OPTIONS, POST");
  check_error(s.post("/stats"), 405, "METHOD_NOT_ALLOWED");
  check_error(s.request("PUT", "/topic/create?topic=x"), 405, "METHOD_NOT_ALLOWED");
  r = s.request("DELETE", "/config/msg_timeout");
  check_error(r, 405, "METHOD_NOT_ALLOWED");
  BOOST_TEST(r.header("Allow").value_or("") == "GET, OPTIONS, PUT");
  r = s.get("/stats/");
  BOOST_TEST(r.status == 301);
  BOOST_TEST(r.header("Location").value_or("") == "/stats");
  r = s.get("/STATS?format=json");
  BOOST_TEST(r.status == 301);
  BOOST_TEST(r.header("Location").value_or("") == "/stats?format=json");
  r = s.post("/pub/?topic=t", "x");
  BOOST_TEST(r.status == 308);
  BOOST_TEST(r.header("Location").value_or("") == "/pub?topic=t");
  r = s.request("OPTIONS", "/pub");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("Allow").value_or("") == "OPTIONS, POST");
  // Go-runtime endpoints are not offered (quirk 1).
  check_error(s.post("/debug/freememory"), 404, "NOT_FOUND");
  check_error(s.get("/debug/pprof/"), 404, "NOT_FOUND");
  check_error(s.request("PUT", "/debug/setblockrate?rate=1"), 404, "NOT_FOUND");
  // Deprecated pre-1.0 routes are gone.
  check_error(s.post("/put?topic=t", "x"), 404, "NOT_FOUND");
  check_error(s.post("/create_topic?topic=t"), 404, "NOT_FOUND");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- /metrics -------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_DATA_TEST_CASE(prometheus_text, shard_counts, cores) {
  server s(cores);
  check_ok(s.post("/topic/create?topic=t"));
  check_ok(s.post("/channel/create?topic=t&channel=c"));
  check_ok(s.post("/mpub?topic=t", "a\nbb"), "OK");
  auto r = s.get("/metrics");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("Content-Type").value_or("") == "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r.body;
  for (const char* line :
       {"# TYPE nsqd_topic_depth gauge\n", "nsqd_topics 1\n", "nsqd_channels 1\n",
        "nsqd_topic_messages_total{topic=\"t\"} 2\n", "nsqd_topic_message_bytes_total{topic=\"t\"} 3\n",
        "nsqd_channel_depth{topic=\"t\",channel=\"c\"} 2\n",
        "nsqd_channel_in_flight{topic=\"t\",channel=\"c\"} 0\n",
        "nsqd_channel_deferred{topic=\"t\",channel=\"c\"} 0\n",
        "nsqd_channel_messages_total{topic=\"t\",channel=\"c\"} 2\n",
        "nsqd_channel_requeues_total{topic=\"t\",channel=\"c\"} 0\n",
        "nsqd_channel_timeouts_total{topic=\"t\",channel=\"c\"} 0\n",
        "nsqd_channel_clients{topic=\"t\",channel=\"c\"} 0\n", "nsqd_info{version=\"1.3.0\"} 1\n"})
    BOOST_TEST(m.find(line) != std::string::npos, "missing: " << line);
  for (int n = 0; n < cores; ++n)
    BOOST_TEST(m.find("nsqd_shard_loop_turns_total{shard=\"" + std::to_string(n) + "\"} ") !=
               std::string::npos);
  BOOST_TEST(m.find("nsqd_shard_loop_turns_total{shard=\"" + std::to_string(cores) + "\"}") ==
             std::string::npos);
  // Every sample line belongs to a family declared just before it.
  std::string family;
  for (std::size_t pos = 0; pos < m.size();) {
    const auto nl = m.find('\n', pos);
    const std::string line = m.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.starts_with("# TYPE ")) family = line.substr(7, line.find(' ', 7) - 7);
    else if (!line.starts_with("# ")) BOOST_TEST(line.starts_with(family), line);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the connection -------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(connection)

BOOST_DATA_TEST_CASE(keep_alive_and_pipelining, shard_counts, cores) {
  server s(cores);
  http_client h(s.http_port());
  const std::string host = "127.0.0.1";
  std::string batch;
  for (int i = 0; i < 50; ++i) {
    batch += http_request_bytes("POST", "/pub?topic=p", host, "m" + std::to_string(i), {});
    batch += http_request_bytes("GET", "/ping", host, {}, {});
    batch += http_request_bytes("GET", "/nope", host, {}, {});
  }
  h.send_raw(batch);
  for (int i = 0; i < 50; ++i) {
    check_ok(h.read_response(), "OK");
    BOOST_TEST(h.read_response().body == "OK");
    check_error(h.read_response(), 404, "NOT_FOUND");
  }
  BOOST_TEST(s.topic_stats("p").at("message_count").as_int64() == 50);
  // Connection: close is honoured after the answer.
  auto r = h.request("GET", "/ping", {}, {"Connection: close"});
  BOOST_TEST(r.header("Connection").value_or("") == "close");
  BOOST_TEST(h.expect_closed(2s));
}

BOOST_DATA_TEST_CASE(malformed_requests_get_go_answers_then_close, shard_counts, cores) {
  server s(cores);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"GARBAGE\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"GET /ping HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request: missing required Host header"},
      {"GET /ping HTTP/2.0\r\nHost: x\r\n\r\n",
       "HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version"},
      {"POST /pub?topic=t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
       "HTTP/1.1 501 Not Implemented"},
      {"POST /pub?topic=t HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"GET /ping HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", "HTTP/1.1 417 Expectation Failed"},
  };
  for (const auto& [request, status_line] : cases) {
    wire_client c(s.http_port());
    c.send(request);
    const std::string answer = c.read_to_eof(3s);
    BOOST_TEST(answer.starts_with(status_line + "\r\n"), answer);
  }
  BOOST_TEST(s.get("/ping").body == "OK");
}

// An answer that ends the connection reaches a peer that is still sending: the server shuts
// down writing and drains before it closes, instead of resetting (issue 13).
BOOST_AUTO_TEST_CASE(a_v2_client_on_the_http_port_reads_its_400) {
  server s(1);
  for (int i = 0; i < 30; ++i) {
    wire_client c(s.http_port());
    c.send("  V2");
    c.send("IDENTIFY\n");
    std::this_thread::sleep_for(20ms);  // the answer is out and the server would close now
    c.send(std::string(4, '\0') + std::string(2000, '{'));  // the rest of the IDENTIFY
    BOOST_TEST(c.read_until("\r\n", 3s).starts_with("HTTP/1.1 400 Bad Request"));
  }
  BOOST_TEST(s.get("/ping").body == "OK");
}

BOOST_AUTO_TEST_CASE(a_body_over_max_body_size_gets_its_413_not_a_reset) {
  server s(1);
  const std::string body(6 * 1024 * 1024, 'b');  // over the default --max-body-size (5 MB)
  for (int i = 0; i < 3; ++i) {
    wire_client c(s.http_port());
    c.send("POST /mpub?topic=t HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n");
    c.send(body);  // refused from its Content-Length: the server drains it
    BOOST_TEST(c.read_until("\r\n", 5s).starts_with("HTTP/1.1 413"));
  }
  BOOST_TEST(s.get("/ping").body == "OK");
}

BOOST_DATA_TEST_CASE(large_and_oversized_heads, shard_counts, cores) {
  server s(cores);
  {
    // A 200 KB head arrives over many reads and is still served.
    http_client h(s.http_port());
    h.send_raw("GET /ping HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(200 * 1024, 'p') +
               "\r\n\r\n");
    BOOST_TEST(h.read_response().body == "OK");
    BOOST_TEST(h.get("/ping").body == "OK");  // and the connection goes on
  }
  {
    // Over Go's 1 MiB + 4 KiB: 431, then the connection closes (a reset may overtake it).
    wire_client c(s.http_port());
    try {
      c.send("GET /ping HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string((1 << 20) + 8192, 'p'));
      const std::string answer = c.read_to_eof(5s);
      BOOST_TEST(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer);
    } catch (const wire_error&) {
    }
  }
  BOOST_TEST(s.get("/ping").body == "OK");
}

BOOST_DATA_TEST_CASE(stalled_and_many_clients_do_not_block_others, shard_counts, cores) {
  server s(cores);
  // Half a head, then silence; a body promised and never sent.
  wire_client stalled_head(s.http_port());
  stalled_head.send("GET /ping HTTP/1.1\r\nHost: x\r\n");
  wire_client stalled_body(s.http_port());
  stalled_body.send("POST /pub?topic=t HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
  std::vector<http_client> many;
  for (int i = 0; i < 200; ++i) many.emplace_back(s.http_port());
  int ok = 0;
  for (auto& h : many) ok += h.get("/ping").body == "OK";
  BOOST_TEST(ok == 200);
  many.clear();
  BOOST_TEST(s.get("/ping").body == "OK");
  // The stalled ones are still waiting (dropped only after the client timeout).
  BOOST_TEST(!stalled_head.expect_closed(100ms));
  BOOST_TEST(!stalled_body.expect_closed(100ms));
  BOOST_TEST(s.stats("topic=t").at("topics").is_null());
}

BOOST_DATA_TEST_CASE(http_1_0, shard_counts, cores) {
  server s(cores);
  {
    http_client h(s.http_port());
    h.send_raw("GET /ping HTTP/1.0\r\n\r\n");
    auto r = h.read_response();
    BOOST_TEST(r.version == "HTTP/1.0");
    BOOST_TEST(r.body == "OK");
    BOOST_TEST(h.expect_closed(2s));
  }
  {
    http_client h(s.http_port());
    h.send_raw("GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto r = h.read_response();
    BOOST_TEST(r.header("Connection").value_or("") == "keep-alive");
    BOOST_TEST(h.get("/ping").body == "OK");
  }
}

BOOST_AUTO_TEST_SUITE_END()
