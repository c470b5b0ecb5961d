#define BOOST_TEST_MODULE statsd
// The statsd push (--statsd-address; SPEC's statsd flags, upstream's nsqd/statsd.go).
//
// - units: lines into datagrams (boundaries, a line too long for any datagram, the default
//   size), the topic and channel lines with counters relative to the last push (negative
//   when a counter went down), --statsd-exclude-ephemeral, the mem.* gauges;
// - blackbox: the built nsqd (1 and 4 shards) pushing to a UDP socket of the test: upstream's
//   names under the resolved prefix, counters as changes between pushes, gauges, datagrams
//   within --statsd-udp-packet-size on line boundaries, ephemeral names left out, no mem.*
//   when --statsd-mem-stats=false, nothing listening or an unresolvable host (nsqd serves on).

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "loops/statsd.hpp"
#include "test/support/nsqd_process.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
namespace loops = nsqd::loops;
namespace broker = nsqd::broker;
namespace bdata = boost::unit_test::data;
using steady = std::chrono::steady_clock;

namespace {

// ---- units -------------------------------------------------------------------------------

std::vector<std::string> pack(int size, const std::vector<std::string>& lines) {
  loops::statsd_packer p(size);
  for (const auto& l : lines) p.add(l);
  return p.finish();
}

BOOST_AUTO_TEST_CASE(packer_fills_datagrams_on_line_boundaries) {
  // 10 + 10 fit in 20; the third starts a new datagram.
  auto d = pack(20, {"aaaaaaaaa\n", "bbbbbbbbb\n", "ccccccccc\n"});
  BOOST_TEST_REQUIRE(d.size() == 2u);
  BOOST_TEST(d[0] == "aaaaaaaaa\nbbbbbbbbb\n");
  BOOST_TEST(d[1] == "ccccccccc\n");
  BOOST_TEST(pack(20, {}).empty());
}

BOOST_AUTO_TEST_CASE(packer_sends_a_line_longer_than_a_datagram_alone_and_whole) {
  const std::string big(30, 'x');
  auto d = pack(20, {"a\n", big + "\n", "b\n"});
  BOOST_TEST_REQUIRE(d.size() == 3u);
  BOOST_TEST(d[0] == "a\n");
  BOOST_TEST(d[1] == big + "\n");
  BOOST_TEST(d[2] == "b\n");
}

BOOST_AUTO_TEST_CASE(packer_size_zero_or_less_is_gos_default_4096) {
  std::vector<std::string> lines(100, std::string(99, 'y') + "\n");  // 10000 bytes
  for (int size : {0, -5}) {
    auto d = pack(size, lines);
    BOOST_TEST_REQUIRE(d.size() == 3u);  // 40 + 40 + 20 lines
    BOOST_TEST(d[0].size() == 4000u);
    BOOST_TEST(d[2].size() == 2000u);
  }
}

broker::topic_stats topic(const std::string& name, std::uint64_t count, std::int64_t depth) {
  broker::topic_stats t;
  t.name = name;
  t.message_count = count;
  t.message_bytes = count * 10;
  t.depth = depth;
  broker::channel_stats c;
  c.name = "ch";
  c.message_count = count;
  c.depth = depth;
  c.requeue_count = 1;
  c.client_count = 2;
  t.channels.push_back(c);
  return t;
}

std::string all_lines(const std::vector<broker::topic_stats>& now,
                      const std::vector<broker::topic_stats>& last, bool exclude_ephemeral) {
  loops::statsd_packer p(1 << 20);
  loops::statsd_stats_lines(p, "p.", now, last, exclude_ephemeral);
  std::string out;
  for (const auto& d : p.finish()) out += d;
  return out;
}

BOOST_AUTO_TEST_CASE(lines_carry_upstreams_names_counters_as_changes_and_gauges) {
  const std::string first = all_lines({topic("t", 5, 3)}, {}, false);
  BOOST_TEST(first ==
             "p.topic.t.message_count:5|c\n"
             "p.topic.t.message_bytes:50|c\n"
             "p.topic.t.depth:3|g\n"
             "p.topic.t.backend_depth:0|g\n"
             "p.topic.t.channel.ch.message_count:5|c\n"
             "p.topic.t.channel.ch.depth:3|g\n"
             "p.topic.t.channel.ch.backend_depth:0|g\n"
             "p.topic.t.channel.ch.in_flight_count:0|g\n"
             "p.topic.t.channel.ch.deferred_count:0|g\n"
             "p.topic.t.channel.ch.requeue_count:1|c\n"
             "p.topic.t.channel.ch.timeout_count:0|c\n"
             "p.topic.t.channel.ch.clients:2|g\n");
  // Against the last push: the change; a counter that went down (topic deleted and made
  // again) is a negative change, as Go's int64 of the wrapped difference.
  const std::string second = all_lines({topic("t", 7, 1)}, {topic("t", 5, 3)}, false);
  BOOST_TEST(second.find("p.topic.t.message_count:2|c\n") != std::string::npos);
  BOOST_TEST(second.find("p.topic.t.message_bytes:20|c\n") != std::string::npos);
  BOOST_TEST(second.find("p.topic.t.channel.ch.requeue_count:0|c\n") != std::string::npos);
  BOOST_TEST(second.find("p.topic.t.depth:1|g\n") != std::string::npos);
  const std::string down = all_lines({topic("t", 1, 0)}, {topic("t", 5, 3)}, false);
  BOOST_TEST(down.find("p.topic.t.message_count:-4|c\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(exclude_ephemeral_leaves_out_ephemeral_topics_and_channels) {
  broker::topic_stats t = topic("t", 1, 0);
  t.channels[0].name = "c#ephemeral";
  const std::vector<broker::topic_stats> now = {t, topic("e#ephemeral", 1, 0)};
  const std::string with = all_lines(now, {}, false);
  BOOST_TEST(with.find("e#ephemeral") != std::string::npos);
  BOOST_TEST(with.find("c#ephemeral") != std::string::npos);
  const std::string without = all_lines(now, {}, true);
  BOOST_TEST(without.find("#ephemeral") == std::string::npos);
  BOOST_TEST(without.find("p.topic.t.message_count:1|c\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(memory_lines_are_gauges) {
  loops::statsd_packer p(4096);
  loops::statsd_memory m;
  m.heap_idle_bytes = 7;
  m.heap_in_use_bytes = 9;
  loops::statsd_memory_lines(p, "x.", m);
  auto d = p.finish();
  BOOST_TEST_REQUIRE(d.size() == 1u);
  BOOST_TEST(d[0] == "x.mem.heap_idle_bytes:7|g\nx.mem.heap_in_use_bytes:9|g\n");
  BOOST_TEST(loops::read_statsd_memory().heap_in_use_bytes > 0);
}

// ---- blackbox ----------------------------------------------------------------------------

// A UDP socket on 127.0.0.1 that collects datagrams.
class udp_sink {
 public:
  udp_sink() {
    _fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (_fd < 0 || ::bind(_fd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::getsockname(_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("udp_sink: cannot bind");
    _port = ntohs(a.sin_port);
  }
  ~udp_sink() { ::close(_fd); }
  std::uint16_t port() const { return _port; }
  std::string address() const { return "127.0.0.1:" + std::to_string(_port); }

  // The datagrams of one push: waits up to `first` for one, then takes what follows with
  // gaps under `gap` (a push with --statsd-interval=1s sends all its datagrams at once).
  std::vector<std::string> next_push(milliseconds first = 5s, milliseconds gap = 300ms) {
    std::vector<std::string> out;
    milliseconds wait = first;
    for (;;) {
      pollfd p{_fd, POLLIN, 0};
      if (::poll(&p, 1, int(wait.count())) <= 0) return out;
      char buf[65536];
      ssize_t n = ::recv(_fd, buf, sizeof buf, 0);
      if (n > 0) out.emplace_back(buf, std::size_t(n));
      wait = gap;
    }
  }

 private:
  int _fd = -1;
  std::uint16_t _port = 0;
};

// stat name -> "value|type", from the lines of one push; also checks each datagram's form.
std::map<std::string, std::string> parse_push(const std::vector<std::string>& datagrams,
                                              std::size_t packet_size) {
  std::map<std::string, std::string> out;
  for (const auto& d : datagrams) {
    BOOST_TEST(d.size() <= packet_size);
    BOOST_TEST((!d.empty() && d.back() == '\n'));
    std::size_t at = 0;
    while (at < d.size()) {
      std::size_t end = d.find('\n', at);
      if (end == std::string::npos) break;
      std::string line = d.substr(at, end - at);
      at = end + 1;
      std::size_t colon = line.rfind(':');
      BOOST_TEST_REQUIRE(colon != std::string::npos);
      out[line.substr(0, colon)] = line.substr(colon + 1);
    }
  }
  return out;
}

void pub(std::uint16_t tcp_port, const std::string& topic, int n) {
  wire_client c(tcp_port);
  c.send_magic();
  for (int i = 0; i < n; ++i) {
    c.send_command("PUB " + topic, "message " + std::to_string(i));
    BOOST_TEST_REQUIRE(c.read_frame().data == "OK");
  }
}

const std::vector<int> shard_counts = {1, 4};

BOOST_DATA_TEST_CASE(pushes_upstreams_lines_under_the_resolved_prefix, bdata::make(shard_counts), cores) {
  udp_sink sink;
  nsqd_process nsqd;
  nsqd.start({"--cores=" + std::to_string(cores), "--statsd-address=" + sink.address(),
              "--statsd-interval=1s", "--statsd-udp-packet-size=200",
              "--broadcast-address=127.0.0.1"});
  http_client h(nsqd.http_port());
  BOOST_TEST(h.post("/topic/create?topic=t").status == 200);
  BOOST_TEST(h.post("/channel/create?topic=t&channel=c").status == 200);
  // Several connections, so that on 4 shards the topic's parts on several shards count.
  for (int i = 0; i < 4; ++i) pub(nsqd.tcp_port(), "t", 3);

  const std::string prefix = "nsq.127_0_0_1_" + std::to_string(nsqd.http_port()) + ".";
  BOOST_TEST(http_get(nsqd.http_port(), "/config/statsd_prefix").body == prefix);  // as upstream
  // The first push that sees all 12 (one may have run before the publishes).
  std::map<std::string, std::string> stats;
  std::int64_t counted = 0;
  for (int push = 0; push < 4 && counted < 12; ++push) {
    stats = parse_push(sink.next_push(), 200);
    auto it = stats.find(prefix + "topic.t.message_count");
    if (it != stats.end()) counted += std::stoll(it->second);
  }
  BOOST_TEST(counted == 12);
  BOOST_TEST(stats[prefix + "topic.t.depth"] == "0|g");
  BOOST_TEST(stats[prefix + "topic.t.backend_depth"] == "0|g");
  BOOST_TEST(stats[prefix + "topic.t.channel.c.depth"] == "12|g");
  BOOST_TEST(stats[prefix + "topic.t.channel.c.in_flight_count"] == "0|g");
  BOOST_TEST(stats[prefix + "topic.t.channel.c.clients"] == "0|g");
  BOOST_TEST(stats.count(prefix + "topic.t.channel.c.requeue_count") == 1u);
  BOOST_TEST(stats.count(prefix + "mem.heap_in_use_bytes") == 1u);

  // The next push counts only what came since.
  pub(nsqd.tcp_port(), "t", 2);
  std::int64_t more = 0;
  for (int push = 0; push < 3 && more < 2; ++push) {
    stats = parse_push(sink.next_push(), 200);
    more += std::stoll(stats[prefix + "topic.t.message_count"]);
  }
  BOOST_TEST(more == 2);
  BOOST_TEST(stats[prefix + "topic.t.channel.c.depth"] == "14|g");
  BOOST_TEST(nsqd.stop(SIGTERM) == 0);
  BOOST_TEST(nsqd.output().find("STATSD: pushing stats to " + sink.address()) != std::string::npos);
  BOOST_TEST(nsqd.output().find("STATSD: closing") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(exclude_ephemeral_no_mem_stats_and_a_custom_prefix) {
  udp_sink sink;
  nsqd_process nsqd;
  nsqd.start({"--cores=2", "--statsd-address=" + sink.address(), "--statsd-interval=1s",
              "--statsd-exclude-ephemeral", "--statsd-mem-stats=false", "--statsd-prefix=app"});
  pub(nsqd.tcp_port(), "kept", 1);
  pub(nsqd.tcp_port(), "gone#ephemeral", 1);
  std::map<std::string, std::string> stats;
  for (int push = 0; push < 3 && !stats.count("app.topic.kept.depth"); ++push)
    stats = parse_push(sink.next_push(), 508);
  BOOST_TEST(stats.count("app.topic.kept.depth") == 1u);  // "app" gets its '.'
  for (const auto& [name, value] : stats) {
    BOOST_TEST(name.find("#ephemeral") == std::string::npos);
    BOOST_TEST(name.find("mem.") == std::string::npos);
  }
  BOOST_TEST(nsqd.stop(SIGTERM) == 0);
}

BOOST_AUTO_TEST_CASE(nothing_listening_or_an_unresolvable_host_leaves_nsqd_serving) {
  std::uint16_t closed;
  {
    udp_sink gone;  // a port nobody listens on once this closes
    closed = gone.port();
  }
  for (const std::string& address : {"127.0.0.1:" + std::to_string(closed), std::string("127.0.0.1:notaport")}) {
    nsqd_process nsqd;
    nsqd.start({"--cores=2", "--statsd-address=" + address, "--statsd-interval=1s"});
    pub(nsqd.tcp_port(), "t", 1);
    std::this_thread::sleep_for(2500ms);  // two pushes
    BOOST_TEST(http_get(nsqd.http_port(), "/ping").body == "OK");
    pub(nsqd.tcp_port(), "t", 1);
    BOOST_TEST(nsqd.stop(SIGTERM) == 0);
    const bool pushed = nsqd.output().find("STATSD: pushing stats to " + address) != std::string::npos;
    const bool failed = nsqd.output().find("failed to create UDP socket to statsd(" + address + ")") !=
                        std::string::npos;
    BOOST_TEST(pushed == (address.find("notaport") == std::string::npos));
    BOOST_TEST(failed == !pushed);
  }
}

}  // namespace
