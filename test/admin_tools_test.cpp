#define BOOST_TEST_MODULE admin_tools
// Upstream's nsqadmin (--nsqd-http-address) and nsq_stat against the built nsqd, black-box.
// No Go binary runs here: each case sends exactly the requests those tools send (upstream's
// internal/clusterinfo over internal/http_api's client: method, path, query, headers, one
// kept-alive connection) and checks each answer the way Go's encoding/json would decode it
// into clusterinfo's structs: every field they read is present with a JSON type that decodes
// into its Go type (a string or a fraction where Go wants an integer fails the whole decode;
// a missing field silently reads as zero), and the values add up.
//
// What the tools send to an nsqd (every request: Accept: application/vnd.nsq; version=1.0,
// User-Agent: Go-http-client/1.1, Accept-Encoding: gzip; POSTs have no body, Content-Length 0;
// any status but 200 is an error the tool reports):
//   GET  /info                                                  nodes, topic producers, tombstone
//   GET  /stats?format=json                                     topic list, node page
//   GET  /stats?format=json&include_clients=false               nodes, counter, tombstone
//   GET  /stats?format=json&topic=T&include_clients=false       topic page, every admin action
//   GET  /stats?format=json&topic=T&channel=C                   channel page (with clients)
//   GET  /stats?format=json&topic=T&channel=C&include_clients=false   nsq_stat, every interval
//   POST /topic/{delete,pause,unpause,empty}?topic=T            admin actions, tombstone
//   POST /channel/{delete,pause,unpause,empty}?topic=T&channel=C
// Names go through Go's url.QueryEscape ('#' of ephemeral names becomes %23). The POSTs go to
// broadcast_address:http_port from /info, so those must name this nsqd. Creating a topic or a
// channel from nsqadmin reaches nsqd only through nsqlookupd: without one it sends nothing.

#include <boost/json.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cstdint>
#include <functional>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "net/http_client.hpp"  // query_escape: Go's url.QueryEscape, as the tools send names
#include "test/support/nsqd_process.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
using nsqd::net::query_escape;
namespace bdata = boost::unit_test::data;
namespace json = boost::json;

namespace {

const auto shard_counts = bdata::make({1, 4});

// ---- Go's encoding/json, as clusterinfo's structs read nsqd's answers ----------------------

// The Go types of the fields the tools decode (Go's int is 64-bit here).
enum class go_type { string, int64, int32, boolean };

struct go_field {
  std::string_view key;
  go_type type;
  bool nsqd_emits = true;  // false: omitempty or never sent by nsqd; checked only when present
};

const char* go_name(go_type t) {
  switch (t) {
    case go_type::string: return "string";
    case go_type::int64: return "int64";
    case go_type::int32: return "int32";
    case go_type::boolean: return "bool";
  }
  return "?";
}

// Would Go's json.Unmarshal put `v` into a field of type `t`? (Boost.JSON keeps integer literals
// as int64 when they fit, uint64 above; anything with a fraction or an exponent is a double,
// which Go refuses for integer fields.) JSON null leaves any Go field as it was: allowed.
bool decodes_into(const json::value& v, go_type t) {
  if (v.is_null()) return true;
  switch (t) {
    case go_type::string: return v.is_string();
    case go_type::int64: return v.is_int64();
    case go_type::int32: return v.is_int64() && v.get_int64() >= INT32_MIN && v.get_int64() <= INT32_MAX;
    case go_type::boolean: return v.is_bool();
  }
  return false;
}

// Go matches keys case-insensitively: two keys differing only in case would fight for a field.
void check_no_case_twins(const json::object& o, const std::string& where) {
  std::set<std::string> seen;
  for (const auto& kv : o) {
    std::string k(kv.key());
    std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
    if (!seen.insert(k).second) BOOST_TEST(false, where << ": keys differing only in case: " << k);
  }
}

void check_fields(const json::value& v, const std::vector<go_field>& fields, const std::string& where) {
  BOOST_REQUIRE_MESSAGE(v.is_object(), where << " is not an object (Go: nil pointer) but " << v);
  const json::object& o = v.as_object();
  check_no_case_twins(o, where);
  for (const go_field& f : fields) {
    const json::value* x = o.if_contains(f.key);
    if (!x) {
      BOOST_TEST(!f.nsqd_emits, where << "." << f.key << " is missing (Go reads 0/\"\"/false)");
      continue;
    }
    if (!decodes_into(*x, f.type))
      BOOST_TEST(false, where << "." << f.key << " = " << *x << " does not decode into Go "
                              << go_name(f.type));
    if (f.nsqd_emits && x->is_null()) BOOST_TEST(false, where << "." << f.key << " is null");
  }
}

// internal/clusterinfo.TopicStats (nsqd's part of it).
const std::vector<go_field> topic_fields = {
    {"topic_name", go_type::string},         {"depth", go_type::int64},
    {"backend_depth", go_type::int64},       {"message_count", go_type::int64},
    {"paused", go_type::boolean},            {"node", go_type::string, false},
    {"hostname", go_type::string, false},    {"memory_depth", go_type::int64, false},
    {"delivery_msg_count", go_type::int64, false},
    {"zone_local_msg_count", go_type::int64, false},
    {"region_local_msg_count", go_type::int64, false},
    {"global_msg_count", go_type::int64, false}};

// internal/clusterinfo.ChannelStats.
const std::vector<go_field> channel_fields = {
    {"channel_name", go_type::string},       {"depth", go_type::int64},
    {"backend_depth", go_type::int64},       {"in_flight_count", go_type::int64},
    {"deferred_count", go_type::int64},      {"requeue_count", go_type::int64},
    {"timeout_count", go_type::int64},       {"message_count", go_type::int64},
    {"client_count", go_type::int64},        {"paused", go_type::boolean},
    {"node", go_type::string, false},        {"hostname", go_type::string, false},
    {"topic_name", go_type::string, false},  {"memory_depth", go_type::int64, false},
    {"delivery_msg_count", go_type::int64, false},
    {"zone_local_msg_count", go_type::int64, false},
    {"region_local_msg_count", go_type::int64, false},
    {"global_msg_count", go_type::int64, false}};

// internal/clusterinfo.ClientStats.
const std::vector<go_field> client_fields = {
    {"remote_address", go_type::string},     {"version", go_type::string},
    {"client_id", go_type::string},          {"hostname", go_type::string},
    {"user_agent", go_type::string},         {"connect_ts", go_type::int64},
    {"in_flight_count", go_type::int64},     {"ready_count", go_type::int64},
    {"finish_count", go_type::int64},        {"requeue_count", go_type::int64},
    {"message_count", go_type::int64},       {"sample_rate", go_type::int32},
    {"deflate", go_type::boolean},           {"snappy", go_type::boolean},
    {"tls", go_type::boolean},               {"tls_cipher_suite", go_type::string},
    {"tls_version", go_type::string},        {"tls_negotiated_protocol", go_type::string},
    {"tls_negotiated_protocol_is_mutual", go_type::boolean},
    {"authed", go_type::boolean, false},     {"auth_identity", go_type::string, false},
    {"auth_identity_url", go_type::string, false},
    {"topology_zone", go_type::string, false},
    {"topology_region", go_type::string, false},
    {"node", go_type::string, false},        {"connected", go_type::int64, false},
    {"node_topology_zone", go_type::string, false},
    {"node_topology_region", go_type::string, false}};

// GetNSQDProducers' and GetNSQDTopicProducers' view of /info.
const std::vector<go_field> info_fields = {
    {"version", go_type::string},            {"broadcast_address", go_type::string},
    {"hostname", go_type::string},           {"http_port", go_type::int64},
    {"tcp_port", go_type::int64},            {"topology_zone", go_type::string, false},
    {"topology_region", go_type::string, false}};

// quantile.E2eProcessingLatencyAggregate: its UnmarshalJSON writes into every percentile map,
// so an entry that is not an object panics nsqadmin; every value of an entry is a float64.
// Topic and channel Add() it unconditionally: null or absent is a nil-pointer panic.
void check_e2e(const json::object& owner, const std::string& where) {
  const json::value* e2e = owner.if_contains("e2e_processing_latency");
  BOOST_REQUIRE_MESSAGE(e2e && e2e->is_object(), where << ".e2e_processing_latency must be an object");
  check_fields(*e2e, {{"count", go_type::int64}, {"topic", go_type::string, false},
                      {"channel", go_type::string, false}, {"host", go_type::string, false}},
               where + ".e2e_processing_latency");
  const json::value* ps = e2e->as_object().if_contains("percentiles");
  BOOST_REQUIRE_MESSAGE(ps, where << ".e2e_processing_latency.percentiles is missing");
  if (ps->is_null()) return;
  BOOST_REQUIRE_MESSAGE(ps->is_array(), where << " percentiles is neither null nor an array");
  for (const json::value& p : ps->as_array()) {
    BOOST_REQUIRE_MESSAGE(p.is_object(), where << " percentile entry " << p << " is not an object");
    for (const auto& kv : p.as_object())
      if (!kv.value().is_number())
        BOOST_TEST(false, where << " percentile " << kv.key() << " is not a number");
    BOOST_TEST(p.as_object().contains("quantile"));
    BOOST_TEST(p.as_object().contains("value"));
  }
}

// A []*T: null (nil slice) or an array of objects (a null element is a nil pointer that
// clusterinfo dereferences).
const json::array* pointer_slice(const json::object& owner, std::string_view key,
                                 const std::string& where) {
  const json::value* v = owner.if_contains(key);
  BOOST_REQUIRE_MESSAGE(v, where << "." << key << " is missing");
  if (v->is_null()) return nullptr;
  BOOST_REQUIRE_MESSAGE(v->is_array(), where << "." << key << " is neither null nor an array");
  for (const json::value& e : v->as_array())
    BOOST_REQUIRE_MESSAGE(e.is_object(), where << "." << key << " has a non-object element " << e);
  return &v->as_array();
}

// Every topic, channel and client of a /stats?format=json answer, as GetNSQDStats decodes it.
// `with_clients`: the request asked for clients (include_clients absent), so channels list them.
void check_stats_decodes(const json::value& doc, bool with_clients) {
  BOOST_REQUIRE(doc.is_object());
  const json::array* topics = pointer_slice(doc.as_object(), "topics", "stats");
  if (!topics) return;
  for (const json::value& t : *topics) {
    const std::string tw = "topic " + std::string(t.at("topic_name").as_string());
    check_fields(t, topic_fields, tw);
    check_e2e(t.as_object(), tw);
    const json::array* channels = pointer_slice(t.as_object(), "channels", tw);
    BOOST_TEST(channels != nullptr, tw << ".channels is null (nsqd sends [])");
    if (!channels) continue;
    for (const json::value& c : *channels) {
      const std::string cw = tw + " channel " + std::string(c.at("channel_name").as_string());
      check_fields(c, channel_fields, cw);
      check_e2e(c.as_object(), cw);
      const json::array* clients = pointer_slice(c.as_object(), "clients", cw);
      if (!with_clients) {
        BOOST_TEST(!clients, cw << ".clients should be null with include_clients=false");
        continue;
      }
      BOOST_REQUIRE_MESSAGE(clients, cw << ".clients is null although clients were asked for");
      // What nsq_stat shows as "clients" and nsqadmin's node page counts must agree.
      BOOST_TEST(c.at("client_count").as_int64() == static_cast<std::int64_t>(clients->size()), cw);
      std::int64_t in_flight = 0;
      for (const json::value& cl : *clients) {
        check_fields(cl, client_fields, cw + " client");
        in_flight += cl.at("in_flight_count").as_int64();
      }
      BOOST_TEST(c.at("in_flight_count").as_int64() == in_flight, cw << ": clients' in-flight sum");
    }
  }
}

// blang/semver's Parse (SemVer 2.0.0), which GetNSQDProducers and nsqadmin's version checks
// apply to /info's version: no "v", no leading zeros, optional -pre.release and +build.
bool is_semver(const std::string& v) {
  static const std::regex re(
      R"(^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*))"
      R"((-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?)"
      R"((\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$)");
  return std::regex_match(v, re);
}

// ---- the tools' HTTP client (internal/http_api.Client) ---------------------------------------

const std::vector<std::string> go_headers = {"User-Agent: Go-http-client/1.1",
                                             "Accept: application/vnd.nsq; version=1.0",
                                             "Accept-Encoding: gzip"};

// One kept-alive connection to an nsqd's HTTP port, requests as Go's client writes them.
class go_client {
 public:
  explicit go_client(std::uint16_t port) : _http(port) {}

  // GETV1: anything but 200 is an error; the body must be JSON.
  json::value get_v1(const std::string& target) {
    const http_response r = _http.request("GET", target, {}, go_headers);
    BOOST_REQUIRE_MESSAGE(r.status == 200,
                          "GET " << target << " answered " << r.status << " " << r.body);
    BOOST_TEST(!r.header("Content-Encoding"), "GET " << target << ": unasked-for encoding");
    return json::parse(r.body);
  }
  // POSTV1 without data: no body, Content-Length: 0; the body of a 200 is not read.
  http_response post_v1(const std::string& target) {
    return _http.request("POST", target, {}, go_headers);
  }

 private:
  http_client _http;
};

// ---- clusterinfo's calls with --nsqd-http-address ---------------------------------------------

struct producer {
  json::value info;
  std::uint16_t http_port = 0;          // where the admin POSTs go (with broadcast_address)
  std::vector<std::string> topics;
};

std::vector<std::string> topic_names(const json::value& stats) {
  std::vector<std::string> out;
  const json::value& topics = stats.at("topics");
  if (topics.is_null()) return out;
  for (const json::value& t : topics.as_array()) {
    BOOST_TEST(t.at("topic_name").is_string());
    out.emplace_back(t.at("topic_name").as_string());
  }
  return out;
}

producer producer_from(const json::value& info, const json::value& stats) {
  check_fields(info, info_fields, "/info");
  producer p;
  p.info = info;
  p.http_port = static_cast<std::uint16_t>(info.at("http_port").as_int64());
  p.topics = topic_names(stats);
  return p;
}

// GetNSQDProducers (nodes page, tombstone): /info, then every topic name.
producer nsqd_producer(go_client& c) {
  const json::value info = c.get_v1("/info");
  const json::value stats = c.get_v1("/stats?format=json&include_clients=false");
  check_stats_decodes(stats, false);
  return producer_from(info, stats);
}

// GetNSQDTopicProducers (topic and channel pages, admin actions, nsq_stat): the nsqd is a
// producer of `topic` only if the filtered stats list it; then /info.
std::optional<producer> nsqd_topic_producer(go_client& c, const std::string& topic) {
  const json::value stats =
      c.get_v1("/stats?format=json&topic=" + query_escape(topic) + "&include_clients=false");
  check_stats_decodes(stats, false);
  const auto names = topic_names(stats);
  if (std::find(names.begin(), names.end(), topic) == names.end()) return std::nullopt;
  return producer_from(c.get_v1("/info"), stats);
}

// GetNSQDStats' request for one producer.
json::value nsqd_stats(go_client& c, const std::string& topic, const std::string& channel,
                       bool clients) {
  std::string target = "/stats?format=json";
  if (!topic.empty()) {
    target += "&topic=" + query_escape(topic);
    if (!channel.empty()) target += "&channel=" + query_escape(channel);
  }
  if (!clients) target += "&include_clients=false";
  json::value doc = c.get_v1(target);
  check_stats_decodes(doc, clients);
  return doc;
}

// clusterinfo's actionHelper / DeleteTopic / DeleteChannel: find the producers of the topic,
// then POST to each at broadcast_address:http_port. Returns the POST's status (0: no producer).
int admin_action(std::uint16_t port, const std::string& topic, const std::string& path,
                 const std::string& channel = {}) {
  go_client lookup(port);
  const auto p = nsqd_topic_producer(lookup, topic);
  if (!p) return 0;
  BOOST_TEST(p->info.at("broadcast_address").as_string() == "127.0.0.1");
  go_client node(p->http_port);
  std::string target = path + "?topic=" + query_escape(topic);
  if (!channel.empty()) target += "&channel=" + query_escape(channel);
  return node.post_v1(target).status;
}

// An admin POST that upstream refuses with 404 and {"message":"<TEXT>"}.
void check_not_found(go_client& c, const std::string& target, const std::string& message) {
  const http_response r = c.post_v1(target);
  BOOST_TEST(r.status == 404, target);
  BOOST_TEST(r.body == "{\"message\":\"" + message + "\"}", target);
}

const json::value* find_named(const json::value& list, std::string_view key, std::string_view name) {
  if (list.is_null()) return nullptr;
  for (const json::value& e : list.as_array())
    if (e.at(key).as_string() == name) return &e;
  return nullptr;
}
const json::value* find_topic(const json::value& stats, std::string_view name) {
  return find_named(stats.at("topics"), "topic_name", name);
}
const json::value* find_channel(const json::value& topic, std::string_view name) {
  return find_named(topic.at("channels"), "channel_name", name);
}

// ---- an nsqd where every field the tools read has a non-trivial value ------------------------

const std::string busy_topic = "admin_t";
const std::string quiet_topic = "admin_quiet";
const std::string ephemeral = "watch#ephemeral";

std::string message_id(const frame& f) {
  BOOST_REQUIRE_MESSAGE(f.type == frame_message, "expected a message, got " << f);
  return f.data.substr(10, 16);
}

wire_client subscriber(std::uint16_t port, const std::string& channel, const std::string& identify) {
  wire_client c(port);
  c.send_magic();
  c.send_command("IDENTIFY", identify);
  BOOST_REQUIRE(c.read_frame() == (frame{frame_response, "OK"}));
  c.send_command("SUB " + busy_topic + " " + channel);
  BOOST_REQUIRE(c.read_frame() == (frame{frame_response, "OK"}));
  return c;
}

// On `busy_topic`: ten messages from a TCP producer (which stays connected), four channels:
//   idle   no consumer: depth 10, part of it on disk (--mem-queue-size=4)
//   slow   one consumer that took one message and let it time out: timeout_count 1
//   watch#ephemeral  one consumer with RDY 0
//   work   one consumer (RDY 2) that FINed one message (an e2e sample), REQed one for a
//          minute (deferred, requeue_count 1) and holds two in flight: depth 6
// and `quiet_topic`, with no channel and two messages published over HTTP.
class busy_nsqd {
 public:
  explicit busy_nsqd(int cores) {
    _nsqd.start({"--cores=" + std::to_string(cores), "--broadcast-address=127.0.0.1",
                 "--mem-queue-size=4", "--e2e-processing-latency-percentile=0.99,0.5"});
    setup_post("/topic/create?topic=" + busy_topic);
    for (const char* ch : {"idle", "slow", "work"})
      setup_post("/channel/create?topic=" + busy_topic + "&channel=" + ch);
    const std::uint16_t tcp = _nsqd.tcp_port();
    watch.emplace(subscriber(tcp, ephemeral, R"({"hostname":"watch-host","user_agent":"admin-test/1.0"})"));
    work.emplace(subscriber(
        tcp, "work", R"({"client_id":"work","hostname":"work-host","user_agent":"admin-test/1.0"})"));
    slow.emplace(subscriber(tcp, "slow", R"({"hostname":"slow-host","msg_timeout":1000})"));

    producer_conn.emplace(_nsqd.tcp_port());
    producer_conn->send_magic();
    for (int i = 0; i < 10; ++i) publish("m" + std::to_string(i));
    for (int i = 0; i < 2; ++i) {
      http_client h(port());
      BOOST_REQUIRE_EQUAL(h.post("/pub?topic=" + quiet_topic, "q").status, 200);
    }

    work->send_command("RDY 2");
    const std::string first = message_id(work->read_frame());
    const std::string second = message_id(work->read_frame());
    work->send_command("FIN " + first);
    work->send_command("REQ " + second + " 60000");
    work_in_flight = {message_id(work->read_frame()), message_id(work->read_frame())};

    slow->send_command("RDY 1");
    message_id(slow->read_frame());
    slow->send_command("RDY 0");

    settle([](const json::value& t) {
      const json::value* w = find_channel(t, "work");
      const json::value* s = find_channel(t, "slow");
      return w && s && w->at("in_flight_count").as_int64() == 2 &&
             w->at("deferred_count").as_int64() == 1 &&
             w->at("e2e_processing_latency").at("count").as_int64() >= 1 &&
             s->at("timeout_count").as_int64() == 1 && s->at("depth").as_int64() == 10;
    });
  }
  ~busy_nsqd() { BOOST_CHECK_EQUAL(_nsqd.stop(), 0); }

  std::uint16_t port() const { return _nsqd.http_port(); }
  std::uint16_t tcp_port() const { return _nsqd.tcp_port(); }

  void publish(const std::string& body) {
    producer_conn->send_command("PUB " + busy_topic, body);
    BOOST_REQUIRE(producer_conn->read_frame() == (frame{frame_response, "OK"}));
  }

  // Polls the unfiltered stats (plain client) until `ready(topic object)` or 10 s pass.
  json::value settle(const std::function<bool(const json::value&)>& ready) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      const json::value doc = json::parse(http_get(port(), "/stats?format=json").body);
      const json::value* t = find_topic(doc, busy_topic);
      if (t && ready(*t)) return *t;
      if (std::chrono::steady_clock::now() > deadline) {
        BOOST_TEST(false, "stats never settled: " << doc);
        return t ? *t : json::value();
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  std::optional<wire_client> watch, work, slow, producer_conn;
  std::vector<std::string> work_in_flight;

 private:
  void setup_post(const std::string& target) {
    http_client h(port());
    BOOST_REQUIRE_EQUAL(h.post(target).status, 200);
  }

  nsqd_process _nsqd;
};

}  // namespace

// ---- the decoding rules themselves ------------------------------------------------------------

// The checks above must refuse what Go's encoding/json refuses, or they prove nothing.
BOOST_AUTO_TEST_CASE(go_decoding_rules_refuse_what_go_refuses) {
  BOOST_TEST(decodes_into(json::parse("7"), go_type::int64));
  BOOST_TEST(decodes_into(json::parse("-7"), go_type::int64));
  BOOST_TEST(decodes_into(json::parse("null"), go_type::int64));
  BOOST_TEST(!decodes_into(json::parse("\"7\""), go_type::int64));
  BOOST_TEST(!decodes_into(json::parse("7.0"), go_type::int64));
  BOOST_TEST(!decodes_into(json::parse("7e2"), go_type::int64));
  BOOST_TEST(!decodes_into(json::parse("18446744073709551615"), go_type::int64));
  BOOST_TEST(!decodes_into(json::parse("2147483648"), go_type::int32));
  BOOST_TEST(!decodes_into(json::parse("1"), go_type::boolean));
  BOOST_TEST(!decodes_into(json::parse("false"), go_type::string));
  BOOST_TEST(query_escape("watch#ephemeral") == "watch%23ephemeral");
  BOOST_TEST(query_escape("a b/c") == "a+b%2Fc");
}

// ---- nsqadmin: reading ------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(nsqadmin_reads)

// GetNSQDProducers and GetNSQDTopics: /info names this node, /stats lists the topic names.
BOOST_DATA_TEST_CASE(nodes_and_topics_pages_find_this_node_and_its_topics, shard_counts, cores) {
  busy_nsqd s(cores);
  go_client c(s.port());
  const producer p = nsqd_producer(c);
  // nsqadmin addresses the node as JoinHostPort(broadcast_address, http_port): it must be the
  // --nsqd-http-address the node page was opened with.
  const std::string address =
      std::string(p.info.at("broadcast_address").as_string()) + ":" + std::to_string(p.http_port);
  BOOST_TEST(address == "127.0.0.1:" + std::to_string(s.port()));
  BOOST_TEST(p.info.at("tcp_port").as_int64() == s.tcp_port());
  BOOST_TEST(is_semver(std::string(p.info.at("version").as_string())));
  BOOST_TEST(p.topics == (std::vector<std::string>{quiet_topic, busy_topic}),
             boost::test_tools::per_element());

  const json::value all = nsqd_stats(c, {}, {}, true);  // GetNSQDTopics: plain format=json
  BOOST_TEST(topic_names(all) == p.topics, boost::test_tools::per_element());
  BOOST_TEST(all.at("version") == p.info.at("version"));
}

// /info's version goes through blang/semver (an unparsable one reads as 0.0.0 and marks the
// node out of date); the default broadcast address is the hostname, as upstream's.
BOOST_DATA_TEST_CASE(info_version_is_semver_and_broadcast_address_defaults_to_hostname, shard_counts,
                     cores) {
  for (const char* bad : {"v1.3.0", "1.3", "01.3.0", "1.3.0-", "1.3.0+", "1.3.0 "})
    BOOST_TEST(!is_semver(bad), bad);
  for (const char* good : {"1.3.0", "0.2.29-alpha", "1.3.0-rc.1+build.5"})
    BOOST_TEST(is_semver(good), good);

  nsqd_process nsqd;
  nsqd.start({"--cores=" + std::to_string(cores)});
  go_client c(nsqd.http_port());
  const json::value info = c.get_v1("/info");
  check_fields(info, info_fields, "/info");
  const std::string version(info.at("version").as_string());
  BOOST_TEST(is_semver(version), version);
  BOOST_TEST(version == "1.3.0");
  char host[256] = {};
  BOOST_REQUIRE(::gethostname(host, sizeof host - 1) == 0);
  BOOST_TEST(info.at("broadcast_address").as_string() == host);
  BOOST_TEST(info.at("hostname").as_string() == host);
  BOOST_TEST(info.at("http_port").as_int64() == nsqd.http_port());
  BOOST_CHECK_EQUAL(nsqd.stop(), 0);
}

// topicHandler: GetNSQDTopicProducers, then GetNSQDStats(topic, "", false).
BOOST_DATA_TEST_CASE(topic_page_decodes_every_topic_and_channel_count, shard_counts, cores) {
  busy_nsqd s(cores);
  go_client c(s.port());
  BOOST_TEST(!nsqd_topic_producer(c, "no_such_topic"));  // "topics": null: not a producer
  const auto p = nsqd_topic_producer(c, busy_topic);
  BOOST_REQUIRE(p);
  go_client node(p->http_port);
  const json::value doc = nsqd_stats(node, busy_topic, {}, false);
  BOOST_REQUIRE_EQUAL(doc.at("topics").as_array().size(), 1u);
  const json::value& t = doc.at("topics").as_array()[0];
  BOOST_TEST(t.at("topic_name").as_string() == busy_topic);
  BOOST_TEST(t.at("message_count").as_int64() == 10);
  BOOST_TEST(t.at("depth").as_int64() == 0);
  BOOST_TEST(t.at("backend_depth").as_int64() == 0);
  BOOST_TEST(t.at("paused").as_bool() == false);
  std::vector<std::string> names;
  for (const json::value& ch : t.at("channels").as_array()) {
    names.emplace_back(ch.at("channel_name").as_string());
    // nsqadmin shows memory_depth = depth - backend_depth.
    BOOST_TEST(ch.at("backend_depth").as_int64() >= 0);
    BOOST_TEST(ch.at("backend_depth").as_int64() <= ch.at("depth").as_int64());
    BOOST_TEST(ch.at("message_count").as_int64() == 10);
    BOOST_TEST(ch.at("paused").as_bool() == false);
  }
  BOOST_TEST(names == (std::vector<std::string>{"idle", "slow", ephemeral, "work"}),
             boost::test_tools::per_element());

  const json::value& idle = *find_channel(t, "idle");
  BOOST_TEST(idle.at("depth").as_int64() == 10);
  BOOST_TEST(idle.at("backend_depth").as_int64() > 0);  // --mem-queue-size=4
  BOOST_TEST(idle.at("client_count").as_int64() == 0);
  const json::value& slow = *find_channel(t, "slow");
  BOOST_TEST(slow.at("depth").as_int64() == 10);
  BOOST_TEST(slow.at("in_flight_count").as_int64() == 0);
  BOOST_TEST(slow.at("timeout_count").as_int64() == 1);
  BOOST_TEST(slow.at("requeue_count").as_int64() == 0);
  BOOST_TEST(slow.at("client_count").as_int64() == 1);
  const json::value& watch = *find_channel(t, ephemeral);
  BOOST_TEST(watch.at("client_count").as_int64() == 1);
  BOOST_TEST(watch.at("backend_depth").as_int64() == 0);  // ephemeral: memory only
  BOOST_TEST(watch.at("depth").as_int64() > 0);
  const json::value& work = *find_channel(t, "work");
  BOOST_TEST(work.at("depth").as_int64() == 6);
  BOOST_TEST(work.at("in_flight_count").as_int64() == 2);
  BOOST_TEST(work.at("deferred_count").as_int64() == 1);
  BOOST_TEST(work.at("requeue_count").as_int64() == 1);
  BOOST_TEST(work.at("timeout_count").as_int64() == 0);
  BOOST_TEST(work.at("client_count").as_int64() == 1);
}

// channelHandler: GetNSQDStats(topic, channel, true): the channel with its clients.
BOOST_DATA_TEST_CASE(channel_page_decodes_the_channels_clients, shard_counts, cores) {
  busy_nsqd s(cores);
  go_client c(s.port());
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count();
  const json::value doc = nsqd_stats(c, busy_topic, "work", true);
  BOOST_REQUIRE_EQUAL(doc.at("topics").as_array().size(), 1u);
  const json::value& t = doc.at("topics").as_array()[0];
  BOOST_REQUIRE_EQUAL(t.at("channels").as_array().size(), 1u);
  const json::value& work = t.at("channels").as_array()[0];
  BOOST_TEST(work.at("channel_name").as_string() == "work");
  BOOST_REQUIRE_EQUAL(work.at("clients").as_array().size(), 1u);
  const json::value& cl = work.at("clients").as_array()[0];
  BOOST_TEST(cl.at("hostname").as_string() == "work-host");
  BOOST_TEST(cl.at("user_agent").as_string() == "admin-test/1.0");
  BOOST_TEST(cl.at("version").as_string() == "V2");
  BOOST_TEST(cl.at("client_id").as_string() == "work");
  BOOST_TEST(std::regex_match(std::string(cl.at("remote_address").as_string()),
                              std::regex(R"(127\.0\.0\.1:[0-9]+)")));
  BOOST_TEST(cl.at("connect_ts").as_int64() <= now + 1);
  BOOST_TEST(cl.at("connect_ts").as_int64() >= now - 60);
  BOOST_TEST(cl.at("ready_count").as_int64() == 2);
  BOOST_TEST(cl.at("in_flight_count").as_int64() == 2);
  BOOST_TEST(cl.at("message_count").as_int64() == 4);
  BOOST_TEST(cl.at("finish_count").as_int64() == 1);
  BOOST_TEST(cl.at("requeue_count").as_int64() == 1);
  BOOST_TEST(cl.at("sample_rate").as_int64() == 0);
  BOOST_TEST(cl.at("tls").as_bool() == false);

  // An ephemeral channel's page: its name reaches nsqd query-escaped ('#' as %23).
  const json::value eph = nsqd_stats(c, busy_topic, ephemeral, true);
  const json::value& watch = eph.at("topics").as_array()[0].at("channels").as_array()[0];
  BOOST_TEST(watch.at("channel_name").as_string() == ephemeral);
  BOOST_REQUIRE_EQUAL(watch.at("clients").as_array().size(), 1u);
  BOOST_TEST(watch.at("clients").as_array()[0].at("hostname").as_string() == "watch-host");
  BOOST_TEST(watch.at("clients").as_array()[0].at("ready_count").as_int64() == 0);
}

// nodeHandler (GetNSQDStats("", "", true)) sums len(clients) and topic message counts;
// counterHandler (GetNSQDStats("", "", false)) sums channel message counts.
BOOST_DATA_TEST_CASE(node_and_counter_pages_total_clients_and_messages, shard_counts, cores) {
  busy_nsqd s(cores);
  go_client c(s.port());
  const json::value node = nsqd_stats(c, {}, {}, true);
  std::int64_t clients = 0, messages = 0;
  for (const json::value& t : node.at("topics").as_array()) {
    messages += t.at("message_count").as_int64();
    for (const json::value& ch : t.at("channels").as_array())
      clients += static_cast<std::int64_t>(ch.at("clients").as_array().size());
  }
  BOOST_TEST(clients == 3);
  BOOST_TEST(messages == 12);

  const json::value counter = nsqd_stats(c, {}, {}, false);
  std::int64_t channel_messages = 0;
  for (const json::value& t : counter.at("topics").as_array())
    for (const json::value& ch : t.at("channels").as_array())
      channel_messages += ch.at("message_count").as_int64();
  BOOST_TEST(channel_messages == 40);  // four channels of `busy_topic`; `quiet_topic` has none
  BOOST_TEST(find_topic(counter, quiet_topic)->at("channels").as_array().empty());
  BOOST_TEST(find_topic(counter, quiet_topic)->at("depth").as_int64() == 2);
}

// quantile.E2eProcessingLatencyAggregate: count and a list of {quantile, value} numbers per
// configured percentile; nil (null) when none is configured.
BOOST_DATA_TEST_CASE(e2e_latency_decodes_as_quantile_aggregates, shard_counts, cores) {
  {
    busy_nsqd s(cores);
    go_client c(s.port());
    const json::value doc = nsqd_stats(c, busy_topic, {}, false);
    const json::value& t = doc.at("topics").as_array()[0];
    const auto quantiles = [](const json::value& e2e) {
      std::vector<double> out;
      for (const json::value& p : e2e.at("percentiles").as_array()) {
        BOOST_TEST(p.at("value").to_number<double>() >= 0.0);
        out.push_back(p.at("quantile").to_number<double>());
      }
      return out;
    };
    BOOST_TEST(quantiles(t.at("e2e_processing_latency")) == (std::vector<double>{0.99, 0.5}),
               boost::test_tools::per_element());
    for (const json::value& ch : t.at("channels").as_array())
      BOOST_TEST(quantiles(ch.at("e2e_processing_latency")) == (std::vector<double>{0.99, 0.5}),
                 boost::test_tools::per_element());
    const std::int64_t work =
        find_channel(t, "work")->at("e2e_processing_latency").at("count").as_int64();
    BOOST_TEST(work >= 1);  // the FIN
    BOOST_TEST(t.at("e2e_processing_latency").at("count").as_int64() >= work);
  }
  nsqd_process plain;
  plain.start({"--cores=" + std::to_string(cores)});
  http_client h(plain.http_port());
  BOOST_REQUIRE_EQUAL(h.post("/topic/create?topic=p").status, 200);
  BOOST_REQUIRE_EQUAL(h.post("/channel/create?topic=p&channel=c").status, 200);
  go_client c(plain.http_port());
  const json::value doc = nsqd_stats(c, "p", {}, false);
  const json::value& t = doc.at("topics").as_array()[0];
  BOOST_TEST(t.at("e2e_processing_latency").at("percentiles").is_null());
  BOOST_TEST(t.at("channels").as_array()[0].at("e2e_processing_latency").at("percentiles").is_null());
  BOOST_CHECK_EQUAL(plain.stop(), 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- nsq_stat ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(nsq_stat)

// Each interval: GetNSQDTopicProducers, then GetNSQDStats(topic, channel, false); a row is
// depth, mem (depth - backend_depth), disk, inflt, def | req, t-o, msgs, clients (from
// client_count: the clients list is null), and ingress/egress from two rows.
BOOST_DATA_TEST_CASE(rows_from_one_channel_without_clients, shard_counts, cores) {
  busy_nsqd s(cores);
  struct row {
    std::int64_t depth, mem, disk, inflt, def, req, timeouts, msgs, clients;
  };
  const auto poll = [port = s.port()](const std::string& channel) {
    go_client c(port);
    const auto p = nsqd_topic_producer(c, busy_topic);
    BOOST_REQUIRE(p);
    const json::value doc = nsqd_stats(c, busy_topic, channel, false);
    const json::value* t = find_topic(doc, busy_topic);
    BOOST_REQUIRE(t);
    const json::value* ch = find_channel(*t, channel);
    BOOST_REQUIRE_MESSAGE(ch, "nsq_stat: failed to find channel " << channel);
    BOOST_TEST(t->at("channels").as_array().size() == 1u);
    const auto n = [ch](const char* k) { return ch->at(k).as_int64(); };
    return row{n("depth"), n("depth") - n("backend_depth"), n("backend_depth"), n("in_flight_count"),
               n("deferred_count"), n("requeue_count"), n("timeout_count"), n("message_count"),
               n("client_count")};
  };
  const row work = poll("work");
  BOOST_TEST(work.depth == 6);
  BOOST_TEST(work.mem >= 0);
  BOOST_TEST(work.inflt == 2);
  BOOST_TEST(work.def == 1);
  BOOST_TEST(work.req == 1);
  BOOST_TEST(work.msgs == 10);
  BOOST_TEST(work.clients == 1);

  const row before = poll("slow");
  BOOST_TEST(before.timeouts == 1);
  BOOST_TEST(before.clients == 1);
  BOOST_TEST(before.inflt == 0);
  for (int i = 0; i < 5; ++i) s.publish("late" + std::to_string(i));
  s.settle([](const json::value& t) { return find_channel(t, "slow")->at("depth").as_int64() == 15; });
  const row after = poll("slow");
  BOOST_TEST(after.msgs - before.msgs == 5);                                 // ingress
  BOOST_TEST((after.msgs - before.msgs) - (after.depth - before.depth) == 0);  // egress: RDY 0
  BOOST_TEST(after.disk + after.mem == after.depth);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- nsqadmin: actions ------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(nsqadmin_actions)

// topicChannelAction pause / empty / unpause on a topic.
BOOST_DATA_TEST_CASE(topic_pause_empty_unpause_take_effect, shard_counts, cores) {
  busy_nsqd s(cores);
  BOOST_TEST(admin_action(s.port(), busy_topic, "/topic/pause") == 200);
  json::value t = s.settle([](const json::value& t) { return t.at("paused").as_bool(); });
  for (int i = 0; i < 3; ++i) s.publish("held" + std::to_string(i));
  t = s.settle([](const json::value& t) { return t.at("depth").as_int64() == 3; });
  BOOST_TEST(find_channel(t, "idle")->at("message_count").as_int64() == 10);

  BOOST_TEST(admin_action(s.port(), busy_topic, "/topic/empty") == 200);
  t = s.settle([](const json::value& t) { return t.at("depth").as_int64() == 0; });
  BOOST_TEST(find_channel(t, "idle")->at("depth").as_int64() == 10);  // channels untouched

  for (int i = 0; i < 2; ++i) s.publish("kept" + std::to_string(i));
  BOOST_TEST(admin_action(s.port(), busy_topic, "/topic/unpause") == 200);
  t = s.settle([](const json::value& t) {
    return !t.at("paused").as_bool() && t.at("depth").as_int64() == 0 &&
           find_channel(t, "idle")->at("message_count").as_int64() == 12;
  });
  BOOST_TEST(find_channel(t, "idle")->at("depth").as_int64() == 12);
}

// topicChannelAction pause / unpause / empty on channels, an ephemeral one included.
BOOST_DATA_TEST_CASE(channel_pause_unpause_empty_take_effect, shard_counts, cores) {
  busy_nsqd s(cores);
  BOOST_TEST(admin_action(s.port(), busy_topic, "/channel/pause", "work") == 200);
  s.settle([](const json::value& t) { return find_channel(t, "work")->at("paused").as_bool(); });
  s.work->send_command("FIN " + s.work_in_flight[0]);
  BOOST_TEST(!s.work->read_frame_within(500ms), "a paused channel delivered a message");

  BOOST_TEST(admin_action(s.port(), busy_topic, "/channel/unpause", "work") == 200);
  BOOST_TEST(s.work->read_frame().type == frame_message);
  s.settle([](const json::value& t) { return !find_channel(t, "work")->at("paused").as_bool(); });

  BOOST_TEST(admin_action(s.port(), busy_topic, "/channel/empty", "work") == 200);
  const json::value t = s.settle([](const json::value& t) {
    const json::value& w = *find_channel(t, "work");
    return w.at("depth").as_int64() == 0 && w.at("in_flight_count").as_int64() == 0 &&
           w.at("deferred_count").as_int64() == 0;
  });
  BOOST_TEST(find_channel(t, "work")->at("clients").as_array()[0].at("in_flight_count").as_int64() == 0);
  BOOST_TEST(find_channel(t, "idle")->at("depth").as_int64() == 10);

  BOOST_TEST(admin_action(s.port(), busy_topic, "/channel/pause", ephemeral) == 200);
  s.settle([](const json::value& t) { return find_channel(t, ephemeral)->at("paused").as_bool(); });
}

// deleteChannelHandler and deleteTopicHandler: after the topic is gone the filtered stats say
// `null`, so nsqadmin finds no producer and sends nothing more.
BOOST_DATA_TEST_CASE(channel_and_topic_delete_take_effect, shard_counts, cores) {
  busy_nsqd s(cores);
  BOOST_TEST(admin_action(s.port(), busy_topic, "/channel/delete", "idle") == 200);
  s.settle([](const json::value& t) { return find_channel(t, "idle") == nullptr; });

  BOOST_TEST(admin_action(s.port(), busy_topic, "/topic/delete") == 200);
  BOOST_TEST(s.work->expect_closed(3s));
  go_client c(s.port());
  BOOST_TEST(!nsqd_topic_producer(c, busy_topic));
  BOOST_TEST(admin_action(s.port(), busy_topic, "/topic/pause") == 0);
  const std::vector<std::string> left = topic_names(nsqd_stats(c, {}, {}, false));
  BOOST_TEST(left == (std::vector<std::string>{quiet_topic}), boost::test_tools::per_element());
}

// TombstoneNodeForTopic: GetNSQDProducers([node]), then POST /topic/delete to that producer.
BOOST_DATA_TEST_CASE(tombstone_deletes_the_topic_on_the_node, shard_counts, cores) {
  busy_nsqd s(cores);
  go_client lookup(s.port());
  const producer p = nsqd_producer(lookup);
  go_client node(p.http_port);
  BOOST_TEST(node.post_v1("/topic/delete?topic=" + query_escape(quiet_topic)).status == 200);
  const std::vector<std::string> left = topic_names(nsqd_stats(lookup, {}, {}, false));
  BOOST_TEST(left == (std::vector<std::string>{busy_topic}), boost::test_tools::per_element());
}

// Between nsqadmin's producer lookup and its POST the name may vanish: upstream's 404 and
// message, which nsqadmin reports as the upstream error.
BOOST_DATA_TEST_CASE(actions_on_missing_names_answer_upstreams_404, shard_counts, cores) {
  nsqd_process nsqd;
  nsqd.start({"--cores=" + std::to_string(cores)});
  http_client h(nsqd.http_port());
  BOOST_REQUIRE_EQUAL(h.post("/topic/create?topic=t").status, 200);
  go_client c(nsqd.http_port());
  for (const char* action : {"delete", "pause", "unpause", "empty"}) {
    check_not_found(c, std::string("/topic/") + action + "?topic=nope", "TOPIC_NOT_FOUND");
    check_not_found(c, std::string("/channel/") + action + "?topic=nope&channel=c", "TOPIC_NOT_FOUND");
    check_not_found(c, std::string("/channel/") + action + "?topic=t&channel=nope", "CHANNEL_NOT_FOUND");
  }
  BOOST_CHECK_EQUAL(nsqd.stop(), 0);
}

BOOST_AUTO_TEST_SUITE_END()
