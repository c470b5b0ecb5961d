#define BOOST_TEST_MODULE nsq_bench
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nsq_bench/consumer.hpp"
#include "nsq_bench/histogram.hpp"
#include "nsq_bench/options.hpp"
#include "nsq_bench/payload.hpp"
#include "nsq_bench/publisher.hpp"
#include "nsq_bench/report.hpp"
#include "nsq_bench/runner.hpp"
#include "nsq_bench/tracker.hpp"
#include "nsq_bench/wire.hpp"
#include "test/support/nsqd_process.hpp"
#include "test/support/test_certificates.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::nsq_bench;
using namespace std::chrono_literals;

namespace {

bench_options parse_args(std::vector<const char*> args) {
  args.insert(args.begin(), "nsq_bench");
  return parse(int(args.size()), args.data());
}

// --- a stand-in nsqd: enough of protocol V2 for one topic and one channel -------------------
//
// A thread per connection, polling its socket every millisecond and delivering queued bodies
// to a subscriber while in_flight < RDY. It sends one `_heartbeat_` to every connection (before
// the first PUB/MPUB answer, or right after SUB's OK) and counts the NOPs that come back.
// `duplicate_every`/`drop_every` make it misbehave on purpose.
class fake_nsqd {
 public:
  explicit fake_nsqd(unsigned duplicate_every = 0, unsigned drop_every = 0)
      : _duplicate_every(duplicate_every), _drop_every(drop_every) {
    _listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(_listen, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(_listen, 64) == 0);
    socklen_t len = sizeof a;
    ::getsockname(_listen, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    _acceptor = std::thread([this] { accept_loop(); });
  }
  ~fake_nsqd() {
    _stopping = true;
    _acceptor.join();
    for (std::thread& t : _conns) t.join();
    ::close(_listen);
  }

  std::uint16_t port = 0;
  std::atomic<unsigned> heartbeats{0}, nops{0}, fins{0}, pubs{0};

 private:
  void accept_loop() {
    while (!_stopping) {
      pollfd p{_listen, POLLIN, 0};
      if (::poll(&p, 1, 10) == 1) {
        int fd = ::accept4(_listen, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) _conns.emplace_back([this, fd] { serve(fd); });
      }
    }
  }

  static void frame(std::string& out, int type, std::string_view data) {
    char h[8];
    put_u32(h, std::uint32_t(data.size() + 4));
    put_u32(h + 4, std::uint32_t(type));
    out.append(h, 8).append(data);
  }

  void push(std::string body) {
    std::lock_guard lock(_mu);
    unsigned n = ++_pushed;
    if (_drop_every && n % _drop_every == 0) return;
    _queue.push_back(body);
    if (_duplicate_every && n % _duplicate_every == 0) _queue.push_back(std::move(body));
  }

  // Parses one command at the front of `in`; returns bytes used, 0 if incomplete.
  std::size_t command(std::string_view in, std::string& out, bool& subscribed, unsigned& rdy,
                      unsigned& in_flight, bool& beat) {
    std::size_t nl = in.find('\n');
    if (nl == in.npos) return 0;
    std::string_view line = in.substr(0, nl);
    std::string_view rest = in.substr(nl + 1);
    auto heartbeat_once = [&] {
      if (beat) return;
      beat = true;
      ++heartbeats;
      frame(out, 0, "_heartbeat_");
    };
    if (line == "IDENTIFY" || line.starts_with("PUB ")) {
      if (rest.size() < 4 || rest.size() < 4 + get_u32(rest.data())) return 0;
      std::uint32_t size = get_u32(rest.data());
      if (line == "IDENTIFY") {
        frame(out, 0, R"({"max_rdy_count":100,"version":"fake"})");
      } else {
        push(std::string(rest.substr(4, size)));
        ++pubs;
        heartbeat_once();
        frame(out, 0, "OK");
      }
      return nl + 1 + 4 + size;
    }
    if (line.starts_with("MPUB ")) {
      if (rest.size() < 4 || rest.size() < 4 + get_u32(rest.data())) return 0;
      std::uint32_t size = get_u32(rest.data());
      std::string_view body = rest.substr(4, size);
      std::uint32_t n = get_u32(body.data());
      body.remove_prefix(4);
      for (std::uint32_t i = 0; i < n; ++i) {
        std::uint32_t len = get_u32(body.data());
        push(std::string(body.substr(4, len)));
        body.remove_prefix(4 + len);
      }
      ++pubs;
      heartbeat_once();
      frame(out, 0, "OK");
      return nl + 1 + 4 + size;
    }
    if (line.starts_with("SUB ")) {
      subscribed = true;
      frame(out, 0, "OK");
      heartbeat_once();
    } else if (line.starts_with("RDY ")) {
      rdy = unsigned(std::stoul(std::string(line.substr(4))));
    } else if (line.starts_with("FIN ")) {
      ++fins;
      if (in_flight) --in_flight;
    } else if (line == "NOP") {
      ++nops;
    } else if (line == "CLS") {
      rdy = 0;
      frame(out, 0, "CLOSE_WAIT");
    } else {
      frame(out, 1, "E_INVALID invalid command");
    }
    return nl + 1;
  }

  void serve(int fd) {
    std::string in, out;
    bool subscribed = false, beat = false;
    unsigned rdy = 0, in_flight = 0;
    std::uint64_t next_id = 0;
    char buf[65536];
    while (!_stopping) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 1) == 1) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, std::size_t(n));
      }
      if (in.size() >= 4 && in.starts_with("  V2")) in.erase(0, 4);
      while (std::size_t used = command(in, out, subscribed, rdy, in_flight, beat))
        in.erase(0, used);
      if (subscribed) {
        std::lock_guard lock(_mu);
        while (in_flight < rdy && !_queue.empty()) {
          char h[27];  // 26 + the NUL snprintf writes
          put_u64(h, now_ns());
          h[8] = 0;
          h[9] = 1;
          std::snprintf(h + 10, 17, "%016llx", (unsigned long long)next_id++);
          frame(out, 2, std::string(h, 26) + _queue.front());
          _queue.pop_front();
          ++in_flight;
        }
      }
      if (!out.empty()) {  // a blocking send: whole or failed (the client went away)
        if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != ssize_t(out.size())) break;
        out.clear();
      }
    }
    ::close(fd);
  }

  unsigned _duplicate_every, _drop_every;
  int _listen = -1;
  std::atomic<bool> _stopping{false};
  std::thread _acceptor;
  std::vector<std::thread> _conns;  // touched by the acceptor only until it is joined
  std::mutex _mu;
  std::deque<std::string> _queue;
  unsigned _pushed = 0;
};

struct socket_pair {
  int fds[2];
  socket_pair() { BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0); }
  void write(std::string_view bytes) const {
    BOOST_REQUIRE(::write(fds[1], bytes.data(), bytes.size()) == ssize_t(bytes.size()));
  }
};

std::string raw_frame(std::uint32_t type, std::string_view data) {
  std::string out(8, '\0');
  put_u32(out.data(), std::uint32_t(data.size() + 4));
  put_u32(out.data() + 4, type);
  return out.append(data);
}

}  // namespace

// --- histogram -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(histogram_buckets_tile_the_whole_range) {
  BOOST_TEST(latency_histogram::bucket_low(0) == 0u);
  for (std::size_t i = 0; i + 1 < latency_histogram::bucket_count; ++i) {
    BOOST_TEST_REQUIRE(latency_histogram::bucket_high(i) + 1 ==
                       latency_histogram::bucket_low(i + 1));
    BOOST_TEST_REQUIRE(latency_histogram::bucket_of(latency_histogram::bucket_low(i)) == i);
    BOOST_TEST_REQUIRE(latency_histogram::bucket_of(latency_histogram::bucket_high(i)) == i);
  }
  BOOST_TEST(latency_histogram::bucket_high(latency_histogram::bucket_count - 1) == UINT64_MAX);
  BOOST_TEST(latency_histogram::bucket_of(UINT64_MAX) == latency_histogram::bucket_count - 1);
  // Width never exceeds 1/64 of the bucket's lower bound (above the exact range).
  for (std::size_t i = latency_histogram::sub_buckets; i < latency_histogram::bucket_count; ++i) {
    std::uint64_t low = latency_histogram::bucket_low(i);
    BOOST_TEST_REQUIRE(latency_histogram::bucket_high(i) - low + 1 <= low / 64);
  }
}

BOOST_AUTO_TEST_CASE(histogram_percentiles_of_a_uniform_spread) {
  latency_histogram h;
  for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1us .. 100ms
  BOOST_TEST(h.count() == 100000u);
  BOOST_TEST(h.min() == 1000u);
  BOOST_TEST(h.max() == 100000000u);
  BOOST_TEST(h.mean() == 50000500.0, boost::test_tools::tolerance(1e-9));
  auto near = [](std::uint64_t got, double want) {
    return std::abs(double(got) - want) <= want * 0.008;
  };
  BOOST_TEST(near(h.percentile(50), 50e6));
  BOOST_TEST(near(h.percentile(99), 99e6));
  BOOST_TEST(near(h.percentile(99.9), 99.9e6));
  BOOST_TEST(h.percentile(100) == 100000000u);  // clamped to the exact max
  BOOST_TEST(h.percentile(0) == 1000u);         // and to the exact min
}

BOOST_AUTO_TEST_CASE(histogram_small_values_are_exact_and_one_value_is_every_percentile) {
  latency_histogram h;
  for (std::uint64_t v = 0; v < 100; ++v) h.record(v);
  BOOST_TEST(h.percentile(50) == 49u);
  BOOST_TEST(h.percentile(99) == 98u);
  latency_histogram one;
  one.record(123456789);
  for (double q : {0.0, 50.0, 99.0, 99.9, 100.0}) BOOST_TEST(one.percentile(q) == 123456789u);
}

BOOST_AUTO_TEST_CASE(histogram_empty_and_bad_percentiles) {
  latency_histogram h;
  BOOST_TEST(h.percentile(50) == 0u);
  BOOST_TEST(h.min() == 0u);
  BOOST_TEST(h.mean() == 0.0);
  BOOST_CHECK_THROW(h.percentile(-1), std::out_of_range);
  BOOST_CHECK_THROW(h.percentile(100.1), std::out_of_range);
  BOOST_CHECK_THROW(h.percentile(std::nan("")), std::out_of_range);
}

BOOST_AUTO_TEST_CASE(histogram_merge_equals_recording_everything_in_one) {
  latency_histogram a, b, all;
  for (std::uint64_t v = 1; v < 5000; ++v) {
    (v % 3 ? a : b).record(v * v);
    all.record(v * v);
  }
  a.merge(b);
  BOOST_TEST(a.count() == all.count());
  BOOST_TEST(a.min() == all.min());
  BOOST_TEST(a.max() == all.max());
  for (double q : {1.0, 50.0, 90.0, 99.0, 99.9}) BOOST_TEST(a.percentile(q) == all.percentile(q));
  latency_histogram empty;
  empty.merge(all);
  BOOST_TEST(empty.min() == all.min());
}

// --- sequence tracker -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tracker_counts_duplicates_and_missing) {
  sequence_tracker t;
  BOOST_TEST(t.mark(7, 0, 0));
  BOOST_TEST(t.mark(7, 0, 2));
  BOOST_TEST(!t.mark(7, 0, 2));
  BOOST_TEST(t.mark(7, 1, 2));  // another publisher
  BOOST_TEST(t.mark(8, 0, 2));  // another run
  BOOST_TEST(t.unique() == 4u);
  BOOST_TEST(t.missing(7, 0, 3) == 1u);  // sequence 1
  BOOST_TEST(t.missing(7, 0, 2) == 1u);  // 2 is outside [0, 2)
  BOOST_TEST(t.missing(7, 0, 0) == 0u);
  BOOST_TEST(t.missing(9, 0, 10) == 10u);
  // Far-apart sequences (a stray body) cost one chunk each, not a bitmap up to them.
  BOOST_TEST(t.mark(7, 0, std::uint64_t(1) << 62));
}

BOOST_AUTO_TEST_CASE(tracker_missing_across_chunks_and_merge_overlap) {
  sequence_tracker a, b;
  const std::uint64_t n = 200000;  // spans 4 chunks of 64 Ki
  for (std::uint64_t s = 0; s < n; ++s) {
    if (s == 65535 || s == 65536 || s == 199999) continue;
    (s % 2 ? a : b).mark(1, 3, s);
  }
  b.mark(1, 3, 1);  // also seen by a: one cross-consumer duplicate
  b.mark(1, 3, 3);
  BOOST_TEST(a.merge(b) == 2u);
  BOOST_TEST(a.unique() == n - 3);
  BOOST_TEST(a.missing(1, 3, n) == 3u);
  BOOST_TEST(a.missing(1, 3, 65536) == 1u);
  BOOST_TEST(a.missing(1, 3, n + 10) == 13u);
}

// --- payload and wire -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(payload_round_trip_and_short_bodies) {
  std::string body(40, 'x');
  write_payload_header(body.data(), payload_header{1, 0xdeadbeef, 5, 9});
  stamp_payload(body.data(), 1700000000123456789ull, 42);
  auto h = read_payload_header(body);
  BOOST_REQUIRE(h);
  BOOST_TEST(h->timestamp_ns == 1700000000123456789ull);
  BOOST_TEST(h->run_id == 0xdeadbeefu);
  BOOST_TEST(h->publisher == 5u);
  BOOST_TEST(h->sequence == 42u);
  BOOST_TEST(body.substr(24) == std::string(16, 'x'));
  BOOST_TEST(!read_payload_header(std::string_view(body).substr(0, 23)));
}

BOOST_AUTO_TEST_CASE(mpub_and_pub_layout) {
  bench_options o = parse_args({"--topic=t1", "--size=30"});
  std::vector<std::size_t> at;
  std::string m = build_publish(o, 77, 3, 4, at);
  BOOST_TEST(m.starts_with("MPUB t1\n"));
  const char* p = m.data() + 8;
  BOOST_TEST(get_u32(p) == 4u + 4u * (4u + 30u));  // body size
  BOOST_TEST(get_u32(p + 4) == 4u);                // message count
  BOOST_TEST(m.size() == 8u + 4u + 4u * 34u + 4u);
  BOOST_REQUIRE(at.size() == 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    BOOST_TEST(get_u32(m.data() + at[i] - 4) == 30u);
    auto h = read_payload_header(std::string_view(m).substr(at[i], 30));
    BOOST_TEST((h && h->run_id == 77u && h->publisher == 3u));
  }
  o = parse_args({"--topic=t1", "--size=24", "--pub-cmd=pub"});
  std::string one = build_publish(o, 1, 0, 1, at);
  BOOST_TEST(one.starts_with("PUB t1\n"));
  BOOST_TEST(get_u32(one.data() + 7) == 24u);
  BOOST_TEST(one.size() == 7u + 4u + 24u);
  BOOST_CHECK_THROW(build_publish(o, 1, 0, 2, at), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(commands_are_spelled_as_nsqd_expects) {
  std::string out;
  append_sub(out, "t", "c");
  append_rdy(out, 2500);
  append_fin(out, "0123456789abcdef");
  append_nop(out);
  append_cls(out);
  BOOST_TEST(out == "SUB t c\nRDY 2500\nFIN 0123456789abcdef\nNOP\nCLS\n");
  out.clear();
  append_identify(out, R"({"a":1})");
  BOOST_TEST(out == std::string("IDENTIFY\n\0\0\0\7{\"a\":1}", 20));
  bench_options o = parse_args({"--output-buffer-timeout=25ms"});
  std::string id = identify_json(o, 3);
  BOOST_TEST(id.find("\"feature_negotiation\":true") != id.npos);
  BOOST_TEST(id.find("\"output_buffer_timeout\":25") != id.npos);
  BOOST_TEST(id.find("\"client_id\":\"nsq_bench-3\"") != id.npos);
}

BOOST_AUTO_TEST_CASE(connection_reads_frames_split_anyhow) {
  socket_pair sp;
  connection c(sp.fds[0]);
  frame f;
  BOOST_TEST((c.next_frame(f, 0us) == connection::read_status::timeout));
  BOOST_TEST((c.next_frame(f, 1000us) == connection::read_status::timeout));
  std::string bytes = raw_frame(0, "OK") + raw_frame(1, "E_FIN_FAILED x");
  std::string msg(26, '\0');
  put_u64(msg.data(), 5);
  msg[9] = 2;
  std::memcpy(msg.data() + 10, "0123456789abcdef", 16);
  bytes += raw_frame(2, msg + "body");
  sp.write(bytes.substr(0, 5));  // half a header
  BOOST_TEST((c.next_frame(f, 0us) == connection::read_status::timeout));
  BOOST_TEST(!c.has_frame());
  sp.write(bytes.substr(5));
  BOOST_TEST((c.next_frame(f, 100000us) == connection::read_status::frame));
  BOOST_TEST((f.type == frame_type::response && f.data == "OK"));
  BOOST_TEST(c.has_frame());
  BOOST_TEST((c.next_frame(f, 0us) == connection::read_status::frame));
  BOOST_TEST((f.type == frame_type::error && f.data == "E_FIN_FAILED x"));
  BOOST_TEST((c.next_frame(f, 0us) == connection::read_status::frame));
  message_view m;
  BOOST_REQUIRE(parse_message(f.data, m));
  BOOST_TEST(m.timestamp_ns == 5u);
  BOOST_TEST(m.attempts == 2u);
  BOOST_TEST(m.id == "0123456789abcdef");
  BOOST_TEST(m.body == "body");
  BOOST_TEST(!parse_message("short", m));
  ::close(sp.fds[1]);
  BOOST_TEST((c.next_frame(f, 100000us) == connection::read_status::closed));
}

BOOST_AUTO_TEST_CASE(connection_grows_for_a_frame_bigger_than_its_buffer) {
  socket_pair sp;
  connection c(sp.fds[0]);
  std::string big(600 * 1024, 'b');
  std::thread writer([&] { sp.write(raw_frame(0, "OK") + raw_frame(2, big)); });
  frame f;
  BOOST_TEST((c.next_frame(f, 2000000us) == connection::read_status::frame));
  BOOST_TEST((c.next_frame(f, 2000000us) == connection::read_status::frame));
  writer.join();
  BOOST_TEST(f.data.size() == big.size());
  BOOST_TEST((f.data == big));
}

BOOST_AUTO_TEST_CASE(connection_rejects_malformed_frames) {
  for (std::string bad : {std::string("\0\0\0\2xxxx", 8), raw_frame(9, "x")}) {
    socket_pair sp;
    connection c(sp.fds[0]);
    sp.write(bad);
    frame f;
    BOOST_TEST((c.next_frame(f, 100000us) == connection::read_status::closed));
    BOOST_TEST(c.error().find("malformed") != std::string::npos);
    ::close(sp.fds[1]);
  }
}

// --- options --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(options_defaults) {
  bench_options o = parse_args({});
  BOOST_TEST(o.host == "127.0.0.1");
  BOOST_TEST(o.port == 4150u);
  BOOST_TEST((o.mode == run_mode::both));
  BOOST_TEST((o.command == pub_command::mpub));
  BOOST_TEST(o.batch == 200u);
  BOOST_TEST(o.size == 200u);
  BOOST_TEST(o.rdy == 2500u);
  BOOST_TEST(o.publishers == 1u);
  BOOST_TEST(o.consumers == 1u);
  BOOST_TEST(o.rate == 0u);
  BOOST_TEST((o.duration == std::chrono::nanoseconds(10s)));
  BOOST_TEST(!o.count);
}

BOOST_AUTO_TEST_CASE(options_values_and_count_versus_duration) {
  bench_options o = parse_args({"--nsqd-tcp-address=localhost:4250", "--mode", "sub",
                                "--pub-cmd=pub", "--count=1000", "--rate=5000"});
  BOOST_TEST(o.host == "localhost");
  BOOST_TEST(o.port == 4250u);
  BOOST_TEST((o.mode == run_mode::sub));
  BOOST_TEST(o.batch == 1u);  // PUB carries one message
  BOOST_TEST(*o.count == 1000u);
  BOOST_TEST(!o.duration);    // --count alone: no time limit
  o = parse_args({"--count=10", "--duration=1.5s", "--nsqd-tcp-address=:1"});
  BOOST_TEST((*o.duration == std::chrono::nanoseconds(1500ms)));
  BOOST_TEST(o.host == "127.0.0.1");
  o = parse_args({"--nsqd-tcp-address=[::1]:4150"});
  BOOST_TEST(o.host == "::1");
}

BOOST_AUTO_TEST_CASE(options_bad_input) {
  for (std::vector<const char*> bad : std::vector<std::vector<const char*>>{
           {"--mode=all"}, {"--pub-cmd=dpub"}, {"--publishers=0"}, {"--publishers=-1"},
           {"--consumers=x"}, {"--size=23"}, {"--batch=0"}, {"--rdy=0"}, {"--rate=1.5"},
           {"--duration=10h"}, {"--duration=0"}, {"--nsqd-tcp-address=127.0.0.1"},
           {"--nsqd-tcp-address=h:70000"}, {"--topic="}, {"--count=2", "--publishers=3"},
           {"--no-such-flag"}, {"--output-buffer-timeout=100us"}}) {
    BOOST_CHECK_THROW(parse_args(bad), std::invalid_argument);
  }
  BOOST_CHECK_THROW(parse_duration("1..2s"), std::invalid_argument);
  BOOST_TEST((parse_duration("250us") == std::chrono::nanoseconds(250us)));
  BOOST_TEST((parse_duration("2m") == std::chrono::nanoseconds(120s)));
  BOOST_TEST((parse_duration("3") == std::chrono::nanoseconds(3s)));
}

BOOST_AUTO_TEST_CASE(format_ns_units) {
  BOOST_TEST(format_ns(812) == "812ns");
  BOOST_TEST(format_ns(41200) == "41.2us");
  BOOST_TEST(format_ns(1234567) == "1.23ms");
  BOOST_TEST(format_ns(2500000000ull) == "2.50s");
}

// --- whole runs against the stand-in -------------------------------------------------------

BOOST_AUTO_TEST_CASE(count_run_both_modes_delivers_everything_once) {
  fake_nsqd server;
  std::string addr = "--nsqd-tcp-address=127.0.0.1:" + std::to_string(server.port);
  bench_options o = parse_args({addr.c_str(), "--count=5000", "--publishers=2", "--consumers=3",
                                "--batch=64", "--pipeline=4", "--size=100", "--quiet"});
  bench_summary s = run(o);
  BOOST_TEST(s.errors.empty(), (s.errors.empty() ? "" : s.errors.front()));
  BOOST_TEST(s.published == 5000u);
  BOOST_TEST(s.pub_commands == 2u * 40u);  // 2500 each: 39 batches of 64 and one of 4
  BOOST_TEST(s.received == 5000u);
  BOOST_TEST(s.received_bytes == 5000u * 100u);
  BOOST_TEST(s.unique == 5000u);
  BOOST_REQUIRE(s.lost);
  BOOST_TEST(*s.lost == 0u);
  BOOST_TEST(s.duplicates == 0u);
  BOOST_TEST(s.foreign == 0u);
  BOOST_TEST(s.rdy == 100u);  // clamped to the stand-in's max_rdy_count
  BOOST_TEST(s.latency.count() == 5000u);
  BOOST_TEST(exit_code(s) == 0);
  BOOST_TEST(server.fins.load() == 5000u);
  BOOST_TEST(server.heartbeats.load() == 5u);  // every connection got one and answered it
  BOOST_TEST(server.nops.load() == 5u);
  std::string text = format_text(o, s);
  BOOST_TEST(text.find("lost 0, duplicated 0") != std::string::npos, text);
  std::string json = format_json(o, s);
  BOOST_TEST(json.find("\"lost\":0") != std::string::npos, json);
}

BOOST_AUTO_TEST_CASE(lost_and_duplicated_messages_are_counted) {
  fake_nsqd server(/*duplicate_every=*/100, /*drop_every=*/250);
  std::string addr = "--nsqd-tcp-address=127.0.0.1:" + std::to_string(server.port);
  bench_options o = parse_args({addr.c_str(), "--count=1000", "--pub-cmd=pub", "--pipeline=16",
                                "--drain-timeout=300ms", "--quiet"});
  bench_summary s = run(o);
  BOOST_TEST(s.errors.empty(), (s.errors.empty() ? "" : s.errors.front()));
  BOOST_TEST(s.published == 1000u);
  BOOST_TEST(s.pub_commands == 1000u);
  // Dropped: 250, 500, 750, 1000. Duplicated: 100..900 except 500 (dropped) = 9... minus
  // 1000 (dropped): 100,200,...,900 without 500 = 8.
  BOOST_TEST(*s.lost == 4u);
  BOOST_TEST(s.duplicates == 8u);
  BOOST_TEST(s.unique == 996u);
  BOOST_TEST(s.received == 1004u);
  BOOST_TEST(exit_code(s) == 3);
}

BOOST_AUTO_TEST_CASE(pub_then_sub_in_separate_runs) {
  fake_nsqd server;
  std::string addr = "--nsqd-tcp-address=127.0.0.1:" + std::to_string(server.port);
  bench_summary p = run(parse_args({addr.c_str(), "--mode=pub", "--count=700", "--quiet"}));
  BOOST_TEST(p.errors.empty());
  BOOST_TEST(p.published == 700u);
  BOOST_TEST(p.received == 0u);
  bench_summary s = run(parse_args({addr.c_str(), "--mode=sub", "--count=700", "--quiet"}));
  BOOST_TEST(s.errors.empty());
  BOOST_TEST(s.received == 700u);
  BOOST_TEST(s.unique == 700u);
  BOOST_TEST(*s.lost == 0u);
}

BOOST_AUTO_TEST_CASE(rate_capped_duration_run_and_connection_refused) {
  fake_nsqd server;
  std::string addr = "--nsqd-tcp-address=127.0.0.1:" + std::to_string(server.port);
  // 2000 msgs/s for 0.3s in batches of 50: about 600 messages (not asserted: no timing).
  bench_summary s = run(parse_args({addr.c_str(), "--rate=2000", "--batch=50",
                                    "--duration=300ms", "--drain-timeout=1s", "--quiet"}));
  BOOST_TEST(s.errors.empty());
  BOOST_TEST(s.published > 0u);
  BOOST_TEST(s.published % 50 == 0u);
  BOOST_TEST(s.unique == s.published);
  BOOST_TEST(*s.lost == 0u);

  // Nothing listens on the port of a closed listener.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  std::string dead = "--nsqd-tcp-address=127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  bench_summary d = run(parse_args({dead.c_str(), "--count=10", "--quiet"}));
  BOOST_TEST(d.errors.size() == 2u);  // the publisher and the consumer
  BOOST_TEST(exit_code(d) == 1);
}

// --- --tls against the built nsqd ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tls_run_against_the_built_nsqd) {
  nsqd::test::nsqd_process nsqd;
  nsqd.start(nsqd::test::tls_server_flags());
  std::string addr = "--nsqd-tcp-address=" + nsqd.tcp_address();
  bench_summary s = run(parse_args({addr.c_str(), "--tls", "--count=20000", "--publishers=2", "--consumers=2",
                                    "--batch=100", "--quiet"}));
  BOOST_TEST(s.errors.empty(), (s.errors.empty() ? "" : s.errors.front()));
  BOOST_TEST(s.published == 20000u);
  BOOST_TEST(s.unique == 20000u);
  BOOST_REQUIRE(s.lost);
  BOOST_TEST(*s.lost == 0u);
  // Every connection (2 publishers, 2 consumers) really went TLS.
  const std::string log = nsqd.output();
  std::size_t upgrades = 0;
  for (std::size_t at = 0; (at = log.find("upgrading connection to TLS", at)) != std::string::npos; ++at) ++upgrades;
  BOOST_TEST(upgrades == 4u);
  // Without TLS on the server the run fails at once, saying why.
  nsqd::test::nsqd_process plain;
  plain.start();
  addr = "--nsqd-tcp-address=" + plain.tcp_address();
  bench_summary p = run(parse_args({addr.c_str(), "--tls", "--count=10", "--quiet"}));
  BOOST_REQUIRE(!p.errors.empty());
  BOOST_TEST(p.errors.front().find("did not agree to TLS") != std::string::npos, p.errors.front());
}
