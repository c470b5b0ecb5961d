#define BOOST_TEST_MODULE scale
// Thousands of topics (issue 28), black-box on four shards (--cores=4 also on a 2-core
// machine: it is the cross-shard paths that matter): 2,000 topics with a channel each, created,
// listed, partly deleted and brought back by a restart; and ephemeral topics and channels
// churned by 200 clients at a time, after which nothing may be left behind: no topic, no
// descriptor, no memory beyond a bound, no shard that stopped serving.

#include <boost/test/unit_test.hpp>

#include <sys/socket.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test/support/nsqd_process.hpp"
#include "test/support/process_figures.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
namespace json = boost::json;
using clock_type = std::chrono::steady_clock;

namespace {

const std::vector<std::string> four_shards = {"--cores=4"};
const frame ok_frame{frame_response, "OK"};

// ---- /stats and /proc ------------------------------------------------------------------------

json::value stats(const nsqd_process& nsqd) {
  auto r = http_get(nsqd.http_port(), "/stats?format=json", 30s);
  BOOST_REQUIRE_MESSAGE(r.status == 200, "/stats answered " << r.status << " " << r.body.substr(0, 200));
  return json::parse(r.body);
}

// Topic name -> its channels' names, as /stats lists them.
using listing = std::map<std::string, std::set<std::string>>;

listing listed(const json::value& s) {
  listing out;
  for (const auto& t : s.at("topics").as_array()) {
    auto& channels = out[std::string(t.at("topic_name").as_string())];
    for (const auto& c : t.at("channels").as_array()) channels.insert(std::string(c.at("channel_name").as_string()));
  }
  return out;
}

// "topic" or "topic/channel" -> depth.
std::map<std::string, std::int64_t> depths(const json::value& s) {
  std::map<std::string, std::int64_t> out;
  for (const auto& t : s.at("topics").as_array()) {
    const std::string topic(t.at("topic_name").as_string());
    out[topic] = t.at("depth").to_number<std::int64_t>();
    for (const auto& c : t.at("channels").as_array())
      out[topic + "/" + std::string(c.at("channel_name").as_string())] = c.at("depth").to_number<std::int64_t>();
  }
  return out;
}

// The shard that made a message id: with four shards, bits 10-11 of the raw id
// (src/model/message_id.hpp). Lets a test check that it really touched every shard.
unsigned origin_shard(const std::string& id) { return unsigned(std::stoull(id, nullptr, 16) >> 10) & 3; }

// Starts (again) with a longer wait than start()'s: thousands of topics to load, maybe under ASan.
void start_slowly(nsqd_process& nsqd) {
  nsqd.spawn(nsqd.args_with_defaults(four_shards));
  nsqd.wait_ready(nsqd.http_port(), 60s);
}

// ---- 1: two thousand topics ------------------------------------------------------------------

constexpr int topic_count = 2000;
std::string topic_name(int i) { return "t" + std::to_string(i); }
bool topic_deleted(int i) { return i % 20 == 1; }    // 100 topics
bool channel_deleted(int i) { return i % 20 == 2; }  // the channel of 100 others
// Eight intact topics across the range; each gets one message from each of eight connections.
// The 64 connections are open at once, so SO_REUSEPORT spreads them over the four shards (all
// four are touched unless the kernel's hash puts 64 connections on three: p < 1e-7).
constexpr int published_topics = 8, publishers_per_topic = 8;
int published_topic(int k) { return k * 240; }

listing expected_after_deletes() {
  listing out;
  for (int i = 0; i < topic_count; ++i) {
    if (topic_deleted(i)) continue;
    auto& channels = out[topic_name(i)];
    if (!channel_deleted(i)) channels.insert("c");
  }
  return out;
}

// Depths as expected once the messages are in: each published topic's channel holds its eight
// (the topic passed them on to it), everything else is empty.
void check_depths(const json::value& s) {
  auto d = depths(s);
  std::int64_t total = 0;
  for (const auto& [name, depth] : d) total += depth;
  BOOST_TEST(total == std::int64_t(published_topics * publishers_per_topic));
  for (int k = 0; k < published_topics; ++k) {
    const std::string t = topic_name(published_topic(k));
    BOOST_TEST(d[t] == 0, t << " depth");
    BOOST_TEST(d[t + "/c"] == publishers_per_topic, t << "/c depth");
  }
}

BOOST_AUTO_TEST_CASE(two_thousand_topics_on_four_shards) {
  nsqd_process nsqd;
  nsqd.start(four_shards);

  http_client h(nsqd.http_port(), 30s);
  int created = 0;
  for (int i = 0; i < topic_count; ++i) {
    created += h.post("/topic/create?topic=" + topic_name(i)).status == 200;
    created += h.post("/channel/create?topic=" + topic_name(i) + "&channel=c").status == 200;
  }
  BOOST_TEST(created == 2 * topic_count);
  listing all;
  for (int i = 0; i < topic_count; ++i) all[topic_name(i)] = {"c"};
  BOOST_TEST((listed(stats(nsqd)) == all));

  int deleted = 0;
  for (int i = 0; i < topic_count; ++i) {
    if (topic_deleted(i)) deleted += h.post("/topic/delete?topic=" + topic_name(i)).status == 200;
    if (channel_deleted(i)) deleted += h.post("/channel/delete?topic=" + topic_name(i) + "&channel=c").status == 200;
  }
  BOOST_TEST(deleted == 200);
  const listing expected = expected_after_deletes();
  BOOST_TEST((listed(stats(nsqd)) == expected));

  std::vector<http_client> publishers;
  for (int j = 0; j < published_topics * publishers_per_topic; ++j) publishers.emplace_back(nsqd.http_port(), 10s);
  for (int j = 0; j < int(publishers.size()); ++j)
    publishers[j].send_request("POST", "/pub?topic=" + topic_name(published_topic(j % published_topics)),
                               "from connection " + std::to_string(j));
  int published = 0;
  for (auto& p : publishers) {
    auto r = p.read_response(10s);
    published += r.status == 200 && r.body == "OK";
  }
  BOOST_TEST(published == int(publishers.size()));
  check_depths(stats(nsqd));
  BOOST_TEST(nsqd.stop(SIGTERM, 60s) == 0);

  start_slowly(nsqd);
  const json::value after = stats(nsqd);
  BOOST_TEST((listed(after) == expected));
  check_depths(after);

  // The messages came back whole, and from every shard.
  std::set<unsigned> shards;
  for (int k = 0; k < published_topics; ++k) {
    wire_client c(nsqd.tcp_port());
    c.send_magic();
    c.send_command("SUB " + topic_name(published_topic(k)) + " c");
    BOOST_REQUIRE(c.read_frame(10s) == ok_frame);
    c.send_command("RDY " + std::to_string(publishers_per_topic));
    std::set<std::string> bodies, expected_bodies;
    for (int j = k; j < published_topics * publishers_per_topic; j += published_topics)
      expected_bodies.insert("from connection " + std::to_string(j));
    for (int n = 0; n < publishers_per_topic; ++n) {
      auto m = parse_message(c.read_frame(10s));
      BOOST_REQUIRE(m.has_value());
      bodies.insert(m->body);
      shards.insert(origin_shard(m->id));
      c.send_command("FIN " + m->id);
    }
    BOOST_TEST((bodies == expected_bodies), topic_name(published_topic(k)));
  }
  BOOST_TEST(shards.size() == 4u, "messages published on " << shards.size() << " of 4 shards");
  BOOST_TEST(nsqd.stop(SIGTERM, 60s) == 0);
}

// ---- 2: ephemeral churn ----------------------------------------------------------------------

constexpr int clients_per_round = 200;
// Clients 4k..4k+3 of a round share topic k: channel c0 (even clients, which publish one message
// each when the round publishes) and c1 (odd ones). With RDY 1 each client then receives exactly
// one message: both channels get both messages, and a consumer holds at most one in flight.
constexpr int topics_per_round = clients_per_round / 4;

enum class leaving { cls, close, reset };  // CLS then close, close without a word, RST

struct churn_result {
  long connections = 0;
  long messages = 0;
  std::string failure;  // the first thing that went wrong, empty if nothing did
};

// The topic's part of /stats (its channels and their clients), for a failure message.
std::string topic_stats(const nsqd_process& nsqd, const std::string& ephemeral_topic) {
  const std::string name = ephemeral_topic.substr(0, ephemeral_topic.find('#')) + "%23ephemeral";
  auto r = http_get(nsqd.http_port(), "/stats?format=json&topic=" + name);
  return r.status == 200 ? json::serialize(json::parse(r.body).at("topics")) : r.body;
}

// One round: all clients connect and SUB, then RDY (and, with `publish`, PUB: each gets a
// message), all leave. Every phase is pipelined over the 200 connections, so they are open at
// once and spread over the shards, and a round takes about as long as its slowest connection.
void churn_round(const nsqd_process& nsqd, long round, bool publish, churn_result& result) {
  struct client {
    wire_client conn;
    std::string topic;
    leaving how;
    std::string message_id;
  };
  std::vector<client> clients;
  clients.reserve(clients_per_round);
  for (int i = 0; i < clients_per_round; ++i) {
    std::string topic = "churn" + std::to_string(round * topics_per_round + i / 4) + "#ephemeral";
    clients.push_back({wire_client(nsqd.tcp_port(), 10s), topic, leaving(i % 3), {}});
  }
  result.connections += clients_per_round;
  for (int i = 0; i < clients_per_round; ++i) {
    auto& c = clients[i];
    c.conn.send_magic();
    if (i % 5 == 0)  // an IDENTIFY now and then, so some clients carry more state
      c.conn.send_command("IDENTIFY", R"({"client_id":"churn)" + std::to_string(i) + R"(","user_agent":"scale_test"})");
    c.conn.send_command("SUB " + c.topic + " c" + std::to_string(i % 2) + "#ephemeral");
  }
  deadline d(20s);
  for (int i = 0; i < clients_per_round; ++i) {
    for (int n = i % 5 == 0 ? 2 : 1; n > 0; --n) {
      frame f = clients[i].conn.read_frame(d.left());
      if (f != ok_frame) throw wire_error("client " + std::to_string(i) + " SUB " + clients[i].topic + ": " + f.data);
    }
  }
  // Only now that every channel has its consumers: each message then reaches both channels.
  for (int i = 0; i < clients_per_round; ++i) {
    clients[i].conn.send_command("RDY 1");
    if (publish && i % 2 == 0) clients[i].conn.send_command("PUB " + clients[i].topic, "message of client " + std::to_string(i));
  }
  for (int i = 0; i < clients_per_round && publish; ++i) {
    auto& c = clients[i];
    for (int n = i % 2 == 0 ? 2 : 1; n > 0; --n) {
      frame f;
      try {
        f = c.conn.read_frame(d.left());
      } catch (const wire_error& e) {
        // With what the server says of that topic while the clients are still there.
        throw wire_error("client " + std::to_string(i) + " on " + c.topic + (i % 2 == 0 ? " (c0, publisher)" : " (c1)") +
                         (c.message_id.empty() ? " got no message: " : " got no PUB answer: ") + e.what() +
                         "; /stats of the topic: " + topic_stats(nsqd, c.topic));
      }
      if (f == ok_frame) continue;  // the PUB's answer, before or after the message
      auto m = parse_message(f);
      if (!m || !m->body.starts_with("message of client ") || !c.message_id.empty())
        throw wire_error("client " + std::to_string(i) + " on " + c.topic + " got " + f.data);
      c.message_id = m->id;
      ++result.messages;
    }
  }
  for (auto& c : clients) {
    if (c.how == leaving::cls) {
      if (publish) c.conn.send_command("FIN " + c.message_id);
      c.conn.send_command("CLS");
    } else if (c.how == leaving::reset) {
      linger l{1, 0};  // close() then sends RST
      ::setsockopt(c.conn.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
  }
  for (auto& c : clients) {
    if (c.how == leaving::cls) {
      frame f = c.conn.read_frame(d.left());
      if (f != frame{frame_response, "CLOSE_WAIT"}) throw wire_error("CLS answered " + f.data);
    }
    c.conn.close();  // a message left in flight goes with its ephemeral channel
  }
}

churn_result churn(const nsqd_process& nsqd, long first_round, std::chrono::seconds duration, bool publish) {
  churn_result result;
  const auto end = clock_type::now() + duration;
  for (long round = first_round; clock_type::now() < end; ++round) {
    try {
      churn_round(nsqd, round, publish, result);
    } catch (const wire_error& e) {
      result.failure = "round " + std::to_string(round) + ": " + e.what();
      break;
    }
  }
  return result;
}

std::chrono::seconds churn_duration() {
  const char* env = std::getenv("NSQD_CHURN_SECONDS");
  return std::chrono::seconds(env && *env ? std::stol(env) : 15);
}

std::size_t topics_listed(const nsqd_process& nsqd) { return stats(nsqd).at("topics").as_array().size(); }

// Publishes to `topic` over its own HTTP connection and consumes the message over its own TCP
// connection; returns the message's origin shard, or -1 with `failure` set.
int round_trip(const nsqd_process& nsqd, const std::string& topic, std::string& failure) {
  try {
    wire_client consumer(nsqd.tcp_port());
    consumer.send_magic();
    consumer.send_command("SUB " + topic + " c");
    if (consumer.read_frame(5s) != ok_frame) throw wire_error("SUB refused");
    consumer.send_command("RDY 1");
    auto r = http_client(nsqd.http_port()).post("/pub?topic=" + topic, "alive");
    if (r.status != 200) throw wire_error("/pub answered " + std::to_string(r.status));
    auto m = parse_message(consumer.read_frame(5s));
    if (!m || m->body != "alive") throw wire_error("not the message published");
    consumer.send_command("FIN " + m->id);
    return int(origin_shard(m->id));
  } catch (const wire_error& e) {
    failure = topic + ": " + e.what();
    return -1;
  }
}

// Resident memory may grow this much over a churn run and still pass. Measured on the release
// build (2 CPUs, 4 shards, churn without messages): 15 s (about 90,000 connections, 22,000
// ephemeral topics) ends 2.0-2.4 MB above the warmed-up baseline of 21.5 MB, and 60 s (370,000
// connections, 92,000 topics) 1.6 MB above it: the growth does not scale with the churn, while a
// leak of 100 bytes per connection would pass 20 MB within a 60 s run. Under ASan the allocator
// keeps freed memory in its quarantine (256 MB by default) besides its own overhead: RSS rises
// from 140 MB to a plateau near 520 MB (+378 MB after 10,000 connections, +385 MB after 54,000),
// so there the bound only catches runaway growth; LeakSanitizer, which runs at the exit after
// SIGTERM and makes the exit code non-zero, is the leak check.
#if defined(__SANITIZE_ADDRESS__)
constexpr long rss_slack_kb = 512 * 1024;
#else
constexpr long rss_slack_kb = 20 * 1024;
#endif
constexpr long descriptor_slack = 4;

void check_churn_leaves_nothing_behind(bool publish) {
  nsqd_process nsqd;
  nsqd.start(four_shards);
  const pid_t pid = nsqd.pid();

  // One warm-up round first, so the baseline holds what the first connections and topics set
  // up once (per-shard buffers, allocator arenas) and the comparison shows only growth.
  churn_result warm_up;
  churn_round(nsqd, 0, publish, warm_up);
  within(10s, [&] { return topics_listed(nsqd) == 0; });
  const std::size_t baseline_topics = topics_listed(nsqd);
  BOOST_TEST(baseline_topics == 0u);
  const long baseline_rss = resident_kb(pid), baseline_fds = long(descriptors_of(pid));

  const auto started = clock_type::now();
  churn_result r = churn(nsqd, 1, churn_duration(), publish);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - started);
  BOOST_TEST_MESSAGE("churn: " << r.connections << " connections, " << r.connections / 4 << " ephemeral topics, "
                     << r.messages << " messages in " << took.count() << " ms");
  BOOST_TEST(r.failure.empty(), r.failure);
  BOOST_TEST(r.connections >= clients_per_round);

  // Ephemeral channels go with their last client, topics with their last channel.
  within(10s, [&] {
    return topics_listed(nsqd) == baseline_topics && long(descriptors_of(pid)) <= baseline_fds + descriptor_slack;
  });
  const json::value after = stats(nsqd);
  const long rss = resident_kb(pid), fds = long(descriptors_of(pid));
  BOOST_TEST_MESSAGE("RSS " << baseline_rss << " kB -> " << rss << " kB; descriptors " << baseline_fds << " -> " << fds);
  BOOST_TEST(after.at("topics").as_array().size() == baseline_topics,
             json::serialize(after.at("topics")).substr(0, 500));
  BOOST_TEST(fds <= baseline_fds + descriptor_slack);
  BOOST_TEST(rss <= baseline_rss + rss_slack_kb);

  // No shard stuck: round trips over fresh connections until messages from all four shards came
  // back (and at least 16 topics), each published on whichever shard its connection landed on.
  std::set<int> shards;
  std::string failure;
  int trips = 0;
  for (; trips < 64 && (trips < 16 || shards.size() < 4) && failure.empty(); ++trips) {
    int shard = round_trip(nsqd, "alive" + std::to_string(trips), failure);
    if (shard >= 0) shards.insert(shard);
  }
  BOOST_TEST(failure.empty(), failure);
  BOOST_TEST(shards.size() == 4u, "messages from " << shards.size() << " shards in " << trips << " round trips");
  auto ping = http_get(nsqd.http_port(), "/ping");
  BOOST_TEST((ping.status == 200 && ping.body == "OK"));
  BOOST_TEST(nsqd.running());
  BOOST_TEST(nsqd.stop(SIGTERM, 30s) == 0);
}

// Each round's messages go to channels whose two consumers sit on different shards, and one of
// them already holds a message (RDY 1): this found a message set aside for that busy shard, which
// was never told to come for it, while the other consumer starved (channel::pump now tells it).
BOOST_AUTO_TEST_CASE(ephemeral_churn_leaves_nothing_behind) {
  check_churn_leaves_nothing_behind(true);
}

}  // namespace
