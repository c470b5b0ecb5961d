#define BOOST_TEST_MODULE lookup
// Lookup sync with nsqlookupd (SPEC D.1, D.7): the built nsqd against a protocol-level fake
// nsqlookupd (test/support/fake_lookupd.hpp) and a scripted HTTP server for its /channels, on
// 1 and 4 shards: IDENTIFY, registration of what exists at connection, REGISTER/UNREGISTER
// of each change once, PUT /config/nsqlookupd_tcp_addresses, channels made with a new topic,
// PING and reconnection on the tick, and lookupds that answer garbage, errors, truncated or
// huge frames, or nothing.

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/options.hpp"
#include "loops/lookup.hpp"
#include "loops/lookup_peer.hpp"
#include "test/support/fake_lookupd.hpp"
#include "test/support/nsqd_process.hpp"
#include "test/support/script_server.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
namespace loops = nsqd::loops;
namespace bdata = boost::unit_test::data;

namespace {

const std::vector<int> shard_counts = {1, 4};

// ---- units -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(identify_body_has_upstreams_keys_in_gos_order) {
  nsqd::config::options o;
  o.broadcast_address = "node-1";
  o.broadcast_tcp_port = 4150;
  o.broadcast_http_port = 4151;
  BOOST_TEST(loops::lookup_identify_body(o, "host\"x") ==
             R"({"broadcast_address":"node-1","hostname":"host\"x","http_port":4151,"tcp_port":4150,)"
             R"("topology_region":"","topology_zone":"","version":"1.3.0"})");
}

BOOST_AUTO_TEST_CASE(lookupd_info_and_channels_answers) {
  auto info = loops::parse_lookupd_info(
      R"({"tcp_port":4160,"http_port":4161,"version":"1.3.0","broadcast_address":"lk","hostname":"h","x":[1]})");
  BOOST_TEST_REQUIRE(info.has_value());
  BOOST_TEST(info->http_port == 4161);
  BOOST_TEST(info->broadcast_address == "lk");
  BOOST_TEST(!loops::parse_lookupd_info("not json").has_value());
  BOOST_TEST(!loops::parse_lookupd_info("[1]").has_value());
  BOOST_TEST(!loops::parse_lookupd_info(R"({"http_port":"4161"})").has_value());

  BOOST_TEST((loops::parse_lookupd_channels(R"({"channels":["a","b"]})") == std::vector<std::string>{"a", "b"}));
  BOOST_TEST((loops::parse_lookupd_channels(R"({"status_code":200,"data":{"channels":["c"]}})") ==
              std::vector<std::string>{"c"}));
  BOOST_TEST(loops::parse_lookupd_channels(R"({"channels":null})")->empty());
  BOOST_TEST(!loops::parse_lookupd_channels(R"({"channels":[1]})").has_value());
  BOOST_TEST(!loops::parse_lookupd_channels(R"({"producers":[]})").has_value());
  BOOST_TEST(!loops::parse_lookupd_channels("<html>").has_value());
}

// ---- black box ---------------------------------------------------------------------------------

void pub(std::uint16_t tcp_port, const std::string& topic, const std::string& body = "m") {
  wire_client c(tcp_port);
  c.send_magic();
  c.send_command("PUB " + topic, body);
  BOOST_TEST_REQUIRE(c.read_frame().data == "OK");
}

int post(std::uint16_t http_port, const std::string& target) { return http_client(http_port).post(target).status; }

// Topics and channels as nsqd's /stats lists them, in the fake's "topic" / "topic:channel" form.
std::set<std::string> nsqd_registrations(std::uint16_t http_port) {
  std::set<std::string> out;
  const auto stats = boost::json::parse(http_get(http_port, "/stats?format=json").body);
  for (const auto& t : stats.at("topics").as_array()) {
    const std::string name(t.at("topic_name").as_string());
    out.insert(name);
    for (const auto& c : t.at("channels").as_array()) out.insert(name + ":" + std::string(c.at("channel_name").as_string()));
  }
  return out;
}

// The channels of topic `topic` and their depths, from /stats.
std::map<std::string, std::int64_t> channel_depths(std::uint16_t http_port, const std::string& topic) {
  std::map<std::string, std::int64_t> out;
  const auto stats = boost::json::parse(http_get(http_port, "/stats?format=json&topic=" + topic).body);
  for (const auto& t : stats.at("topics").as_array())
    for (const auto& c : t.at("channels").as_array())
      out[std::string(c.at("channel_name").as_string())] = c.at("depth").to_number<std::int64_t>();
  return out;
}

bool logged(const nsqd_process& nsqd, const std::string& text) { return nsqd.output().find(text) != std::string::npos; }

BOOST_DATA_TEST_CASE(identifies_registers_what_exists_then_each_change_once, bdata::make(shard_counts), cores) {
  nsqd_process nsqd;
  const std::string cores_arg = "--cores=" + std::to_string(cores);
  // What exists before nsqd meets the lookupd: a topic alone, and a topic with two channels.
  nsqd.start({cores_arg});
  BOOST_TEST(post(nsqd.http_port(), "/topic/create?topic=alone") == 200);
  BOOST_TEST(post(nsqd.http_port(), "/topic/create?topic=both") == 200);
  BOOST_TEST(post(nsqd.http_port(), "/channel/create?topic=both&channel=x") == 200);
  BOOST_TEST(post(nsqd.http_port(), "/channel/create?topic=both&channel=y") == 200);
  BOOST_TEST(nsqd.stop() == 0);

  fake_lookupd lookupd;
  nsqd.start({cores_arg, "--lookupd-tcp-address=" + lookupd.address(), "--broadcast-address=127.0.0.1"});
  const std::set<std::string> at_start = {"alone", "both", "both:x", "both:y"};
  BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.registrations() == at_start; }));
  const auto peers = lookupd.peers();
  BOOST_TEST_REQUIRE(peers.size() == 1u);
  const auto identify = boost::json::parse(peers[0].identify).as_object();
  BOOST_TEST(identify.at("broadcast_address").as_string() == "127.0.0.1");
  BOOST_TEST(identify.at("tcp_port").to_number<int>() == nsqd.tcp_port());
  BOOST_TEST(identify.at("http_port").to_number<int>() == nsqd.http_port());
  BOOST_TEST(identify.at("version").as_string() == "1.3.0");
  BOOST_TEST(!identify.at("hostname").as_string().empty());
  BOOST_TEST(identify.contains("topology_region"));

  // A new topic from many connections at once (on 4 shards, from every shard): one REGISTER.
  {
    std::vector<std::thread> publishers;
    for (int i = 0; i < 8; ++i) publishers.emplace_back([&] { pub(nsqd.tcp_port(), "fresh"); });
    for (auto& t : publishers) t.join();
  }
  BOOST_TEST(post(nsqd.http_port(), "/channel/create?topic=fresh&channel=c") == 200);
  // An #ephemeral channel registers while a consumer holds it, and unregisters when it goes.
  {
    wire_client consumer(nsqd.tcp_port());
    consumer.send_magic();
    consumer.send_command("SUB fresh e#ephemeral");
    BOOST_TEST(consumer.read_frame().data == "OK");
    BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.registrations().count("fresh:e#ephemeral") == 1; }));
  }
  BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.count("UNREGISTER fresh e#ephemeral") == 1; }));
  BOOST_TEST(post(nsqd.http_port(), "/channel/delete?topic=both&channel=x") == 200);
  BOOST_TEST(post(nsqd.http_port(), "/topic/delete?topic=alone") == 200);
  // What nsqlookupd holds is what exists: fresh, fresh:c, both, both:y.
  BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.registrations() == nsqd_registrations(nsqd.http_port()); }));
  BOOST_TEST((lookupd.registrations() == std::set<std::string>{"both", "both:y", "fresh", "fresh:c"}));
  BOOST_TEST(lookupd.count("REGISTER fresh") == 1u);
  BOOST_TEST(lookupd.count("REGISTER fresh c") == 1u);
  BOOST_TEST(lookupd.count("REGISTER fresh e#ephemeral") == 1u);
  BOOST_TEST(lookupd.count("UNREGISTER both x") == 1u);
  BOOST_TEST(lookupd.count("UNREGISTER alone") == 1u);

  // A deleted topic's channels go first, then the topic.
  BOOST_TEST(post(nsqd.http_port(), "/topic/delete?topic=fresh") == 200);
  BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.count("UNREGISTER fresh") == 1; }));
  const auto commands = lookupd.peers()[0].commands;
  const auto at = [&](const std::string& line) { return std::find(commands.begin(), commands.end(), line); };
  BOOST_TEST((at("UNREGISTER fresh c") < at("UNREGISTER fresh")));
  BOOST_TEST((lookupd.registrations() == std::set<std::string>{"both", "both:y"}));

  // No UNREGISTER at shutdown (nsqlookupd drops a closed connection's registrations).
  BOOST_TEST(nsqd.stop() == 0);
  BOOST_TEST(lookupd.count("UNREGISTER both y") == 0u);
  BOOST_TEST(logged(nsqd, "LOOKUP: closing"));
}

BOOST_DATA_TEST_CASE(put_config_adds_and_removes_peers, bdata::make(shard_counts), cores) {
  nsqd_process nsqd;
  nsqd.start({"--cores=" + std::to_string(cores)});
  pub(nsqd.tcp_port(), "t");
  fake_lookupd first, second;
  http_client h(nsqd.http_port());
  const std::string both = "[\"" + first.address() + "\",\"" + second.address() + "\"]";
  BOOST_TEST(h.request("PUT", "/config/nsqlookupd_tcp_addresses", both).status == 200);
  BOOST_TEST(fake_lookupd::wait_for([&] { return first.registrations() == std::set<std::string>{"t"}; }));
  BOOST_TEST(fake_lookupd::wait_for([&] { return second.registrations() == std::set<std::string>{"t"}; }));
  BOOST_TEST(h.get("/config/nsqlookupd_tcp_addresses").body == both);

  // Removed: its connection closes; the kept one stays and hears of changes.
  BOOST_TEST(h.request("PUT", "/config/nsqlookupd_tcp_addresses", "[\"" + second.address() + "\"]").status == 200);
  BOOST_TEST(fake_lookupd::wait_for([&] { return !first.peers().at(0).open; }));
  pub(nsqd.tcp_port(), "u");
  BOOST_TEST(fake_lookupd::wait_for([&] { return second.registrations() == std::set<std::string>{"t", "u"}; }));
  BOOST_TEST(second.peers().size() == 1u);
  BOOST_TEST(first.count("REGISTER u") == 0u);
  BOOST_TEST(logged(nsqd, "LOOKUP(" + first.address() + "): removing peer"));

  BOOST_TEST(h.request("PUT", "/config/nsqlookupd_tcp_addresses", "null").status == 200);
  BOOST_TEST(fake_lookupd::wait_for([&] { return !second.peers().at(0).open; }));
  BOOST_TEST(h.get("/config/nsqlookupd_tcp_addresses").body == "null");
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_DATA_TEST_CASE(a_new_topic_is_made_with_the_channels_nsqlookupd_knows, bdata::make(shard_counts), cores) {
  script_server lookupd_http([](const seen_request& r) {
    if (r.path == "/channels" && r.query.count("topic") && r.query.at("topic") == "known")
      return always(R"({"channels":["c1","c2","gone#ephemeral"]})");
    return status(500, R"({"message":"INTERNAL_ERROR"})");
  });
  fake_lookupd lookupd(lookupd_http.port());
  nsqd_process nsqd;
  nsqd.start({"--cores=" + std::to_string(cores), "--lookupd-tcp-address=" + lookupd.address()});
  BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.peers().size() == 1 && !lookupd.peers()[0].identify.empty(); }));
  BOOST_TEST(fake_lookupd::wait_for([&] { return logged(nsqd, "peer info"); }));

  // The first message waits in both channels (not #ephemeral ones: no consumer holds them).
  pub(nsqd.tcp_port(), "known", "first");
  BOOST_TEST((channel_depths(nsqd.http_port(), "known") == std::map<std::string, std::int64_t>{{"c1", 1}, {"c2", 1}}));
  const auto asked = lookupd_http.requests();
  BOOST_TEST_REQUIRE(asked.size() == 1u);
  BOOST_TEST(asked[0].query.at("topic") == "known");
  BOOST_TEST(asked[0].headers.at("accept") == "application/vnd.nsq; version=1.0");
  BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.registrations() == nsqd_registrations(nsqd.http_port()); }));
  // An existing topic does not ask again.
  pub(nsqd.tcp_port(), "known", "second");
  BOOST_TEST(lookupd_http.count() == 1u);

  // A failing query is logged and the topic made without channels.
  pub(nsqd.tcp_port(), "other");
  BOOST_TEST(channel_depths(nsqd.http_port(), "other").empty());
  BOOST_TEST(fake_lookupd::wait_for(
      [&] { return logged(nsqd, "failed to query nsqlookupd for channels to pre-create for topic other"); }));
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_CASE(with_no_lookupd_reached_a_topic_is_made_alone_and_nothing_waits) {
  std::uint16_t closed;
  {
    held_listener gone;  // a port nobody listens on once this closes
    closed = gone.port();
  }
  nsqd_process nsqd;
  nsqd.start({"--cores=2", "--lookupd-tcp-address=127.0.0.1:" + std::to_string(closed)});
  for (int i = 0; i < 20; ++i) pub(nsqd.tcp_port(), "t" + std::to_string(i % 4));
  BOOST_TEST(http_get(nsqd.http_port(), "/ping").body == "OK");
  BOOST_TEST(logged(nsqd, "no available nsqlookupd to query for channels to pre-create for topic t0"));
  BOOST_TEST(logged(nsqd, "connection refused"));
  BOOST_TEST(nsqd.stop(SIGTERM, 3s) == 0);
}

// What each misbehaviour leaves in the log.
const std::vector<std::pair<fake_lookupd::mode, std::string>> bad_answers = {
    {fake_lookupd::mode::garbage, "parsing response - this is not json"},
    {fake_lookupd::mode::e_invalid, "lookupd returned E_INVALID"},
    {fake_lookupd::mode::huge_size, "response body size (2147483647) is greater than limit"},
    {fake_lookupd::mode::truncated, "IDENTIFY - EOF"},
    {fake_lookupd::mode::stall, "IDENTIFY - read: i/o timeout"},
    {fake_lookupd::mode::error_on_register, "REGISTER t - E_BAD_TOPIC"},
};

BOOST_DATA_TEST_CASE(a_misbehaving_lookupd_is_logged_closed_and_reconnected, bdata::make(shard_counts), cores) {
  for (const auto& [mode, message] : bad_answers) {
    BOOST_TEST_CONTEXT("expecting: " << message) {
      fake_lookupd lookupd;
      lookupd.set_mode(mode);
      nsqd_process nsqd;
      nsqd.start({"--cores=" + std::to_string(cores), "--lookupd-tcp-address=" + lookupd.address()});
      pub(nsqd.tcp_port(), "t");  // also makes nsqd try again (REGISTER t) if it already gave up
      BOOST_TEST(fake_lookupd::wait_for([&] { return logged(nsqd, message); }, 5s));
      BOOST_TEST(fake_lookupd::wait_for([&] { return !lookupd.peers().at(0).open; }, 5s));
      // Serving all along.
      pub(nsqd.tcp_port(), "t");
      BOOST_TEST(http_get(nsqd.http_port(), "/ping").body == "OK");
      // Behaving again: the next change connects anew and registers everything.
      lookupd.set_mode(fake_lookupd::mode::normal);
      pub(nsqd.tcp_port(), "u");
      BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.registrations() == std::set<std::string>{"t", "u"}; }));
      BOOST_TEST(nsqd.stop(SIGTERM, 3s) == 0);
    }
  }
}

// The 15 s tick: PING on a live connection; a dropped one connects again and registers
// everything, with no change to prompt it. About 32 s.
BOOST_AUTO_TEST_CASE(pings_every_15s_and_reconnects_on_the_tick) {
  fake_lookupd lookupd;
  nsqd_process nsqd;
  nsqd.start({"--cores=4", "--lookupd-tcp-address=" + lookupd.address()});
  BOOST_TEST(post(nsqd.http_port(), "/topic/create?topic=t") == 200);
  BOOST_TEST(post(nsqd.http_port(), "/channel/create?topic=t&channel=c") == 200);
  BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.registrations() == std::set<std::string>{"t", "t:c"}; }));
  BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.count("PING") >= 1; }, 17s));
  lookupd.drop_connections();
  BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.registrations().empty(); }));
  BOOST_TEST(fake_lookupd::wait_for([&] { return lookupd.registrations() == std::set<std::string>{"t", "t:c"}; }, 17s));
  BOOST_TEST(lookupd.peers().size() == 2u);
  BOOST_TEST(nsqd.stop() == 0);
}

// A lookupd that accepts and never answers must not hold up publishing, HTTP or shutdown.
BOOST_AUTO_TEST_CASE(a_stalled_lookupd_blocks_nothing) {
  held_listener silent;  // listens, never accepts: connects succeed, nothing is ever read
  nsqd_process nsqd;
  nsqd.start({"--cores=4", "--lookupd-tcp-address=127.0.0.1:" + std::to_string(silent.port())});
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) pub(nsqd.tcp_port(), "t" + std::to_string(i % 5));
  for (int i = 0; i < 20; ++i) BOOST_TEST(http_get(nsqd.http_port(), "/ping").body == "OK");
  // Each exchange is bounded by 1 s; 50 publishes of 5 new topics do not wait on it.
  BOOST_TEST((std::chrono::steady_clock::now() - start < 3s));
  BOOST_TEST(nsqd.stop(SIGTERM, 3s) == 0);
}

}  // namespace
