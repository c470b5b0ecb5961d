#define BOOST_TEST_MODULE cluster
// The built nsqd in a cluster of upstream's own programs (v1.3.0, from $NSQ_UPSTREAM_BIN):
// one upstream nsqlookupd and three of our nsqd (--cores=1, 2 and 4), each registered through
// --lookupd-tcp-address, with --broadcast-address=127.0.0.1.
//
// - registration: a topic published and a channel created on every node show up in
//   nsqlookupd's /lookup, /channels, /topics and /debug under all three producers;
// - a channel deleted on one node leaves only that node's "channel:T:C" registration; a topic
//   deleted on a node that still has channels takes the node out of "topic:T:" and of every
//   "channel:T:*" (channels unregistered first: nsqlookupd logs no "unexpected UNREGISTER");
// - nsqlookupd restarted on the same ports (empty): within 20 s (our 15 s ping tick) every node
//   has connected again and registered everything, including a channel and a topic made while
//   nsqlookupd was down (a new topic's /channels query then fails, is logged, and the topic is
//   made anyway);
// - upstream's nsq_tail, finding the producers through nsqlookupd, gets messages from every node;
// - a fourth node started later pre-creates, at a topic's creation, the channels nsqlookupd
//   knows for it (#ephemeral ones left out), so its first message is in every channel;
// - upstream's nsqadmin lists the three nodes and their topic, and adds up the topic's stats
//   from the three.
//
// Every case is skipped where NSQ_UPSTREAM_BIN is not set. All processes run on free loopback
// ports (picked again when another program takes one first: start_on_free_ports) and are
// stopped at the end of each case.

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test/support/nsqd_process.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
namespace json = boost::json;
namespace ut = boost::unit_test;

namespace {

const std::string topic = "T";
const std::string channel = "C";

// ---- polling ------------------------------------------------------------------------------

// Calls `ok` every 100 ms until it returns true (true) or `timeout` has passed (false). A
// wire_error (a daemon not answering yet, or restarting) counts as "not yet".
template <class F>
bool eventually(milliseconds timeout, F&& ok) {
  deadline d(timeout);
  for (;;) {
    try {
      if (ok()) return true;
    } catch (const wire_error&) {
    }
    if (d.passed()) return false;
    std::this_thread::sleep_for(100ms);
  }
}

// ---- HTTP + JSON ----------------------------------------------------------------------------

// GET with the Accept header of upstream's tools; the parsed body, or nullopt unless 200.
std::optional<json::value> get_json(std::uint16_t port, const std::string& target) {
  http_client h(port);
  auto r = h.request("GET", target, {}, {"Accept: application/vnd.nsq; version=1.0"});
  if (r.status != 200) return std::nullopt;
  return json::parse(r.body);
}

int post(std::uint16_t port, const std::string& target, std::string_view body = {}) {
  http_client h(port);
  return h.post(target, body).status;
}

void pub_tcp(std::uint16_t tcp_port, const std::string& to_topic, const std::string& body) {
  wire_client c(tcp_port);
  c.send_magic();
  c.send_command("PUB " + to_topic, body);
  BOOST_TEST_REQUIRE(c.read_frame() == (frame{frame_response, "OK"}));
}

// How a node shows in nsqlookupd's and nsqadmin's answers: "<broadcast_address> tcp=P http=Q".
std::string node_id(const std::string& address, std::int64_t tcp_port, std::int64_t http_port) {
  return address + " tcp=" + std::to_string(tcp_port) + " http=" + std::to_string(http_port);
}
std::string node_id(const nsqd_process& n) { return node_id("127.0.0.1", n.tcp_port(), n.http_port()); }
std::string node_id(const json::value& producer) {
  const auto& o = producer.as_object();
  return node_id(std::string(o.at("broadcast_address").as_string()), o.at("tcp_port").to_number<std::int64_t>(),
                 o.at("http_port").to_number<std::int64_t>());
}

std::set<std::string> node_ids(const json::value& producers) {
  std::set<std::string> out;
  if (producers.is_array())
    for (const auto& p : producers.as_array()) out.insert(node_id(p));
  return out;
}

std::vector<std::string> strings(const json::value& list) {
  std::vector<std::string> out;
  if (list.is_array())
    for (const auto& s : list.as_array()) out.emplace_back(s.as_string());
  std::sort(out.begin(), out.end());
  return out;
}

// ---- upstream daemons -----------------------------------------------------------------------

// One upstream daemon that answers /ping (nsqlookupd, nsqadmin), run through an nsqd_process
// (log file, printed if the case fails; /ping wait; kill at the end) on its ports:
// --http-address=127.0.0.1:http_port(), and --tcp-address=127.0.0.1:tcp_port() if `tcp`.
class upstream_daemon {
 public:
  upstream_daemon(const std::string& program, bool tcp, std::vector<std::string> args)
      : _process(*upstream_bin() + "/" + program), _tcp(tcp), _args(std::move(args)) {}

  // Spawns it and waits for GET /ping -> 200; on fresh ports if another program took one first.
  void start() {
    start_on_free_ports([&] { restart(); }, [&](std::uint16_t taken) { return _process.pick_ports_if_own(taken); });
  }
  // Spawns it again on the same ports, and waits for GET /ping -> 200. No fresh ports here:
  // the nodes know these (should another program take one meanwhile, the start fails).
  void restart() {
    std::vector<std::string> args{"--http-address=" + _process.http_address()};
    if (_tcp) args.push_back("--tcp-address=" + _process.tcp_address());
    args.insert(args.end(), _args.begin(), _args.end());
    _process.start_exact(args, http_port());
  }

  int stop() { return _process.stop(SIGTERM, 10s); }
  std::uint16_t tcp_port() const { return _process.tcp_port(); }
  std::uint16_t http_port() const { return _process.http_port(); }
  std::string log() const { return read_file(_process.log_path()); }  // every run's output

 private:
  nsqd_process _process;
  bool _tcp;
  std::vector<std::string> _args;
};

// ---- the cluster ----------------------------------------------------------------------------

// nsqlookupd and our nsqd nodes (--cores=1, 2, 4), each on free loopback ports of its own
// (two of them picked alike are told apart at start: the later one gets fresh ones).
class cluster {
 public:
  explicit cluster(const std::vector<int>& cores = {1, 2, 4}) {
    // One spare for add_node().
    for (std::size_t i = 0; i < cores.size() + 1; ++i) nodes.push_back(std::make_unique<nsqd_process>());
    // nsqd asks /channels at its --broadcast-address (the default, the host name, need not be loopback).
    lookupd.emplace("nsqlookupd", true, std::vector<std::string>{"--broadcast-address=127.0.0.1"});
    lookupd->start();
    for (std::size_t i = 0; i < cores.size(); ++i) start_node(*nodes[i], cores[i]);
  }

  // The spare node, started now.
  nsqd_process& add_node(int cores) {
    nsqd_process& n = *nodes.back();
    start_node(n, cores);
    nodes.push_back(std::make_unique<nsqd_process>());
    return n;
  }
  // The started nodes (the spare is not one of them).
  std::size_t size() const { return nodes.size() - 1; }
  nsqd_process& node(std::size_t i) { return *nodes.at(i); }

  std::uint16_t lookupd_http() const { return lookupd->http_port(); }
  std::string lookupd_tcp_address() const { return "127.0.0.1:" + std::to_string(lookupd->tcp_port()); }
  std::string lookupd_http_address() const { return "127.0.0.1:" + std::to_string(lookupd_http()); }

  std::set<std::string> ids(std::initializer_list<std::size_t> which) {
    std::set<std::string> out;
    for (std::size_t i : which) out.insert(node_id(node(i)));
    return out;
  }
  std::set<std::string> all_ids() {
    std::set<std::string> out;
    for (std::size_t i = 0; i < size(); ++i) out.insert(node_id(node(i)));
    return out;
  }

  // nsqlookupd's /lookup?topic=: the producers (empty for an unknown topic) and channels.
  std::set<std::string> producers(const std::string& t) {
    auto v = get_json(lookupd_http(), "/lookup?topic=" + t);
    return v ? node_ids(v->at("producers")) : std::set<std::string>{};
  }
  std::vector<std::string> lookup_channels(const std::string& t) {
    auto v = get_json(lookupd_http(), "/lookup?topic=" + t);
    return v ? strings(v->at("channels")) : std::vector<std::string>{};
  }
  // nsqlookupd's /debug: registration key ("channel:T:C", "topic:T:", "client::") -> producers.
  std::map<std::string, std::set<std::string>> registrations() {
    std::map<std::string, std::set<std::string>> out;
    auto v = get_json(lookupd_http(), "/debug");
    if (v)
      for (const auto& [key, producers] : v->as_object()) out[std::string(key)] = node_ids(producers);
    return out;
  }

  // T published on every node (over TCP on even nodes, HTTP /pub on odd ones) and C created on
  // each; then waits until nsqlookupd lists every node for both.
  void publish_and_register() {
    for (std::size_t i = 0; i < size(); ++i) {
      const std::string body = "first from " + node_id(node(i));
      if (i % 2 == 0) pub_tcp(node(i).tcp_port(), topic, body);
      else BOOST_TEST_REQUIRE(post(node(i).http_port(), "/pub?topic=" + topic, body) == 200);
      BOOST_TEST_REQUIRE(post(node(i).http_port(), "/channel/create?topic=" + topic + "&channel=" + channel) == 200);
    }
    std::map<std::string, std::set<std::string>> reg;
    const bool all = eventually(10s, [&] {
      reg = registrations();
      return reg["topic:" + topic + ":"] == all_ids() && reg["channel:" + topic + ":" + channel] == all_ids();
    });
    BOOST_TEST_REQUIRE(all, "nsqlookupd has not got every node's registrations: topic "
                                << json::serialize(json::value_from(reg["topic:" + topic + ":"])) << ", channel "
                                << json::serialize(json::value_from(reg["channel:" + topic + ":" + channel])));
  }

  // SIGTERM to every node (each must exit 0), then to nsqlookupd. A node's shutdown writes its
  // queues and nsqd.dat: generous time for a busy disk (this is no test of shutdown speed).
  void stop() {
    for (std::size_t i = 0; i < size(); ++i) BOOST_TEST(node(i).stop(SIGTERM, 15s) == 0, node_id(node(i)));
    BOOST_TEST(lookupd->stop() == 0);
  }

  std::optional<upstream_daemon> lookupd;

 private:
  void start_node(nsqd_process& n, int cores) {
    n.start({"--cores=" + std::to_string(cores), "--lookupd-tcp-address=" + lookupd_tcp_address(),
             "--broadcast-address=127.0.0.1"});
  }

  std::vector<std::unique_ptr<nsqd_process>> nodes;
};

// The channels of `t` in a node's /stats: name -> stats object.
std::map<std::string, json::object> node_channels(nsqd_process& n, const std::string& t) {
  std::map<std::string, json::object> out;
  auto v = get_json(n.http_port(), "/stats?format=json&topic=" + t);
  BOOST_TEST_REQUIRE(v.has_value());
  if (!v->at("topics").is_array()) return out;  // null for an unknown topic, as upstream
  for (const auto& tv : v->at("topics").as_array()) {
    if (tv.at("topic_name").as_string() != t) continue;
    for (const auto& c : tv.at("channels").as_array())
      out[std::string(c.at("channel_name").as_string())] = c.as_object();
  }
  return out;
}

std::int64_t number(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v ? v->to_number<std::int64_t>() : -1;
}

// ---- the cases ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(three_nodes_register_their_topic_and_channel, *ut::precondition(needs_upstream_bin)) {
  cluster c;
  c.publish_and_register();

  std::set<std::string> listed;
  BOOST_TEST(eventually(5s, [&] { return (listed = c.producers(topic)) == c.all_ids(); }));
  BOOST_TEST(listed == c.all_ids());
  BOOST_TEST(c.lookup_channels(topic) == std::vector<std::string>{channel});

  auto channels = get_json(c.lookupd_http(), "/channels?topic=" + topic);
  BOOST_TEST_REQUIRE(channels.has_value());
  BOOST_TEST(strings(channels->at("channels")) == std::vector<std::string>{channel});
  auto topics = get_json(c.lookupd_http(), "/topics");
  BOOST_TEST_REQUIRE(topics.has_value());
  BOOST_TEST(strings(topics->at("topics")) == std::vector<std::string>{topic});

  // /nodes: every node, connected (the "client::" registration), with T among its topics.
  BOOST_TEST(c.registrations()["client::"] == c.all_ids());
  auto nodes = get_json(c.lookupd_http(), "/nodes");
  BOOST_TEST_REQUIRE(nodes.has_value());
  std::set<std::string> with_topic;
  for (const auto& p : nodes->at("producers").as_array()) {
    BOOST_TEST(p.at("version").as_string() == "1.3.0");
    if (strings(p.at("topics")) == std::vector<std::string>{topic}) with_topic.insert(node_id(p));
  }
  BOOST_TEST(with_topic == c.all_ids());
  c.stop();
}

BOOST_AUTO_TEST_CASE(deletes_unregister_from_nsqlookupd, *ut::precondition(needs_upstream_bin)) {
  cluster c;
  c.publish_and_register();
  const std::string topic_key = "topic:" + topic + ":";
  const std::string channel_key = "channel:" + topic + ":" + channel;

  // C deleted on node 0: its "channel:T:C" registration goes, "topic:T:" stays.
  BOOST_TEST_REQUIRE(post(c.node(0).http_port(), "/channel/delete?topic=" + topic + "&channel=" + channel) == 200);
  std::map<std::string, std::set<std::string>> reg;
  BOOST_TEST(eventually(5s, [&] { return (reg = c.registrations())[channel_key] == c.ids({1, 2}); }));
  BOOST_TEST(reg[channel_key] == c.ids({1, 2}));
  BOOST_TEST(reg[topic_key] == c.all_ids());
  BOOST_TEST(c.producers(topic) == c.all_ids());
  BOOST_TEST(c.lookup_channels(topic) == std::vector<std::string>{channel});  // nodes 1 and 2 have it

  // T deleted on node 1 (which still has C): node 1 leaves "topic:T:" and "channel:T:C".
  BOOST_TEST_REQUIRE(post(c.node(1).http_port(), "/topic/delete?topic=" + topic) == 200);
  std::set<std::string> listed;
  BOOST_TEST(eventually(5s, [&] { return (listed = c.producers(topic)) == c.ids({0, 2}); }));
  BOOST_TEST(listed == c.ids({0, 2}));
  reg = c.registrations();
  BOOST_TEST(reg[channel_key] == c.ids({2}));
  BOOST_TEST(reg[topic_key] == c.ids({0, 2}));
  BOOST_TEST(reg["client::"] == c.all_ids());  // still connected

  // Node 2 deletes T too: only node 0 (without channels) is left.
  BOOST_TEST_REQUIRE(post(c.node(2).http_port(), "/topic/delete?topic=" + topic) == 200);
  BOOST_TEST(eventually(5s, [&] { return (listed = c.producers(topic)) == c.ids({0}); }));
  BOOST_TEST(listed == c.ids({0}));
  // (nsqlookupd keeps a non-ephemeral channel's registration, now without producers.)
  BOOST_TEST(c.registrations()[channel_key].empty());

  c.stop();
  // The channels went before their topic, so nsqlookupd had nothing to clean up itself.
  BOOST_TEST(c.lookupd->log().find("unexpected UNREGISTER") == std::string::npos);
  for (std::size_t i = 1; i < 3; ++i) {
    const std::string log = c.node(i).output();
    const auto channel_gone = log.find("channel UNREGISTER " + topic + " " + channel);
    const auto topic_gone = log.find("topic UNREGISTER " + topic);
    BOOST_TEST(channel_gone != std::string::npos);
    BOOST_TEST(topic_gone != std::string::npos);
    BOOST_TEST(channel_gone < topic_gone);
  }
}

BOOST_AUTO_TEST_CASE(a_restarted_nsqlookupd_gets_everything_registered_again, *ut::precondition(needs_upstream_bin)) {
  cluster c;
  c.publish_and_register();

  BOOST_TEST_REQUIRE(c.lookupd->stop() == 0);
  // Made while nsqlookupd is down: a channel on node 0 (its REGISTER fails and is not kept), a
  // topic on node 1 (its /channels query fails; the topic is made anyway).
  BOOST_TEST(post(c.node(0).http_port(), "/channel/create?topic=" + topic + "&channel=D") == 200);
  pub_tcp(c.node(1).tcp_port(), "U", "made while nsqlookupd was down");
  c.lookupd->restart();  // same ports, no registrations

  // Our nsqd notices on its 15 s ping tick (node 2, which has nothing else to say, only then)
  // and registers everything anew.
  const auto restarted = std::chrono::steady_clock::now();
  std::map<std::string, std::set<std::string>> reg;
  const bool all = eventually(20s, [&] {
    reg = c.registrations();
    return reg["client::"] == c.all_ids() && reg["topic:" + topic + ":"] == c.all_ids() &&
           reg["channel:" + topic + ":" + channel] == c.all_ids() && reg["channel:" + topic + ":D"] == c.ids({0}) &&
           reg["topic:U:"] == c.ids({1});
  });
  BOOST_TEST(all, "after 20 s: " << json::serialize(json::value_from(reg)));
  BOOST_TEST_MESSAGE("everything registered again after "
                     << std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - restarted).count()
                     << " ms");
  BOOST_TEST(c.producers(topic) == c.all_ids());
  BOOST_TEST(c.lookup_channels(topic) == (std::vector<std::string>{channel, "D"}));
  BOOST_TEST(c.producers("U") == c.ids({1}));

  c.stop();
  BOOST_TEST(c.node(1).output().find("failed to query nsqlookupd for channels to pre-create for topic U") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(nsq_tail_gets_messages_from_every_node, *ut::precondition(needs_upstream_bin)) {
  cluster c;
  c.publish_and_register();

  temp_dir dir("nsq_tail");
  child_process tail({*upstream_bin() + "/nsq_tail", "--lookupd-http-address=" + c.lookupd_http_address(),
                      "--topic=" + topic, "--n=" + std::to_string(c.size())},
                     dir.file("nsq_tail.log"));
  // nsq_tail asks nsqlookupd at once and subscribes an ephemeral channel on every producer.
  auto subscribed = [&](nsqd_process& n) {
    for (const auto& [name, stats] : node_channels(n, topic))
      if (name.starts_with("tail") && name.ends_with("#ephemeral") && number(stats, "client_count") == 1) return true;
    return false;
  };
  for (std::size_t i = 0; i < c.size(); ++i) {
    BOOST_TEST_REQUIRE(eventually(15s, [&] { return subscribed(c.node(i)); }),
                       "nsq_tail has not subscribed on " << node_id(c.node(i)) << "; its output:\n"
                                                         << tail.output());
  }

  std::vector<std::string> bodies;
  for (std::size_t i = 0; i < c.size(); ++i) {
    bodies.push_back("tail message from node " + std::to_string(i) + " (" + node_id(c.node(i)) + ")");
    if (i % 2 == 0) pub_tcp(c.node(i).tcp_port(), topic, bodies.back());
    else BOOST_TEST_REQUIRE(post(c.node(i).http_port(), "/pub?topic=" + topic, bodies.back()) == 200);
  }
  // --n=3: it exits once it has printed three messages.
  const auto code = tail.wait_for(15s);
  const std::string output = tail.output();
  BOOST_TEST(code.has_value(), "nsq_tail still running; its output:\n" << output);
  if (code) BOOST_TEST(*code == 0);
  for (const auto& body : bodies) BOOST_TEST(output.find(body + "\n") != std::string::npos, body << " in:\n" << output);
  tail.kill();

  // Each node delivered its message to the tail (C keeps its copies: nobody reads it).
  for (std::size_t i = 0; i < c.size(); ++i) BOOST_TEST(number(node_channels(c.node(i), topic)[channel], "depth") == 2);
  c.stop();
}

BOOST_AUTO_TEST_CASE(a_later_node_precreates_the_channels_nsqlookupd_knows, *ut::precondition(needs_upstream_bin)) {
  cluster c;
  c.publish_and_register();
  // More channels known to nsqlookupd: D on node 1 only, and an ephemeral one (left out).
  BOOST_TEST_REQUIRE(post(c.node(1).http_port(), "/channel/create?topic=" + topic + "&channel=D") == 200);
  BOOST_TEST_REQUIRE(post(c.node(2).http_port(), "/channel/create?topic=" + topic + "&channel=E%23ephemeral") == 200);
  const std::vector<std::string> known{channel, "D", "E#ephemeral"};
  std::vector<std::string> listed;
  BOOST_TEST_REQUIRE(eventually(5s, [&] { return (listed = c.lookup_channels(topic)) == known; }));

  nsqd_process& late = c.add_node(2);
  BOOST_TEST_REQUIRE(eventually(10s, [&] { return c.registrations()["client::"].count(node_id(late)) == 1; }),
                     "the new node has not connected to nsqlookupd");
  BOOST_TEST(node_channels(late, topic).empty());  // no topic T there yet

  pub_tcp(late.tcp_port(), topic, "first message on the late node");
  auto channels = node_channels(late, topic);
  std::vector<std::string> names;
  for (const auto& [name, stats] : channels) names.push_back(name);
  BOOST_TEST(names == (std::vector<std::string>{channel, "D"}));
  BOOST_TEST(number(channels[channel], "depth") == 1);
  BOOST_TEST(number(channels[channel], "message_count") == 1);
  BOOST_TEST(number(channels["D"], "depth") == 1);

  // Its channels are registered like any other.
  std::map<std::string, std::set<std::string>> reg;
  BOOST_TEST(eventually(5s, [&] {
    reg = c.registrations();
    return reg["channel:" + topic + ":" + channel].count(node_id(late)) == 1 &&
           reg["channel:" + topic + ":D"].count(node_id(late)) == 1;
  }));
  BOOST_TEST(reg["channel:" + topic + ":E#ephemeral"].count(node_id(late)) == 0);
  BOOST_TEST(c.producers(topic).size() == 4u);

  c.stop();
  BOOST_TEST(late.output().find("failed to query nsqlookupd") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(nsqadmin_lists_the_nodes, *ut::precondition(needs_upstream_bin)) {
  cluster c;
  c.publish_and_register();

  upstream_daemon admin("nsqadmin", false, {"--lookupd-http-address=" + c.lookupd_http_address()});
  admin.start();
  const std::uint16_t admin_port = admin.http_port();

  auto nodes = get_json(admin_port, "/api/nodes");
  BOOST_TEST_REQUIRE(nodes.has_value());
  std::set<std::string> listed, with_topic;
  for (const auto& n : nodes->at("nodes").as_array()) {
    listed.insert(node_id(n));
    if (n.at("topics").is_array())  // null for a node without topics
      for (const auto& t : n.at("topics").as_array())
        if (t.at("topic").as_string() == topic) with_topic.insert(node_id(n));
  }
  BOOST_TEST(listed == c.all_ids());
  BOOST_TEST(with_topic == c.all_ids());
  BOOST_TEST(nodes->at("message").as_string() == "");

  auto topics = get_json(admin_port, "/api/topics");
  BOOST_TEST_REQUIRE(topics.has_value());
  BOOST_TEST(strings(topics->at("topics")) == std::vector<std::string>{topic});

  // The topic page: nsqadmin finds the producers through nsqlookupd and adds up their /stats
  // (each node is "<broadcast_address>:<http_port>"; one message on each, kept in C).
  auto page = get_json(admin_port, "/api/topics/" + topic);
  BOOST_TEST_REQUIRE(page.has_value());
  std::set<std::string> stat_nodes, expected_nodes;
  for (std::size_t i = 0; i < c.size(); ++i) expected_nodes.insert(c.node(i).http_address());
  for (const auto& n : page->at("nodes").as_array()) stat_nodes.insert(std::string(n.at("node").as_string()));
  BOOST_TEST(stat_nodes == expected_nodes);
  BOOST_TEST(number(page->as_object(), "message_count") == 3);
  const auto& page_channels = page->at("channels").as_array();
  BOOST_TEST_REQUIRE(page_channels.size() == 1u);
  BOOST_TEST(page_channels[0].at("channel_name").as_string() == channel);
  BOOST_TEST(number(page_channels[0].as_object(), "depth") == 3);
  BOOST_TEST(page->at("message").as_string() == "");

  BOOST_TEST(admin.stop() == 0);
  c.stop();
}

}  // namespace
