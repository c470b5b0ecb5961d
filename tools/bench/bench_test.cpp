#define BOOST_TEST_MODULE bench
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/echo_server.hpp"
#include "bench/load_client.hpp"
#include "bench/options.hpp"
#include "bench/report.hpp"
#include "bench/runner.hpp"
#include "bench/sockets.hpp"

// The benchmark's own parts: flags, statistics, sockets, both echo servers and the client.

using namespace nsqd::bench;
using namespace std::chrono_literals;

namespace {

bench_options parse_args(std::vector<std::string> args) {
  args.insert(args.begin(), "runtime_bench");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse(int(argv.size()), argv.data());
}

// A blocking client socket for talking to a server by hand.
struct blocking_client {
  int fd;
  explicit blocking_client(uint16_t port) : fd(connect_loopback(port)) {
    int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    timeval tv{5, 0};  // a broken server fails the test instead of hanging it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~blocking_client() { ::close(fd); }
  void send_all(const std::string& s) {
    BOOST_REQUIRE_EQUAL(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size()));
  }
  std::string recv_exactly(size_t n) {
    std::string s(n, '\0');
    ssize_t got = ::recv(fd, s.data(), n, MSG_WAITALL);
    if (got < 0) got = 0;
    s.resize(size_t(got));
    return s;
  }
  // True once the server has closed its end (recv sees EOF).
  bool closed_by_peer() {
    char c;
    return ::recv(fd, &c, 1, 0) == 0;
  }
};

struct owned_listeners {
  listeners l;
  explicit owned_listeners(unsigned n) : l(make_listeners(n)) {}
  ~owned_listeners() { close_all(l); }
};

// Every server the bench can run: epoll (level and edge), and the reactor with each recv.
struct variant {
  const char* name;
  server_kind kind;
  bool edge;
  recv_kind recv;
  bool spin;
};
const variant all_variants[] = {
    {"epoll-lt", server_kind::epoll, false, recv_kind::plain, false},
    {"epoll-et", server_kind::epoll, true, recv_kind::plain, false},
    {"epoll-spin", server_kind::epoll, false, recv_kind::plain, true},
    {"reactor", server_kind::reactor, false, recv_kind::plain, false},
    {"reactor-poll-first", server_kind::reactor, false, recv_kind::poll_first, false},
    {"reactor-multishot", server_kind::reactor, false, recv_kind::multishot, false},
    {"reactor-spin", server_kind::reactor, false, recv_kind::plain, true},
};

std::unique_ptr<echo_server> start(const variant& v, const listeners& l, size_t size) {
  return v.kind == server_kind::epoll ? start_epoll_server(l, size, v.edge, v.spin)
                                      : start_reactor_server(l, size, v.recv, v.spin);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(flags)

BOOST_AUTO_TEST_CASE(defaults_match_the_brief) {
  bench_options o = parse_args({});
  BOOST_TEST(o.connections == (std::vector<unsigned>{1, 64}), boost::test_tools::per_element());
  BOOST_TEST(o.sizes == (std::vector<size_t>{64, 512, 4096}), boost::test_tools::per_element());
  BOOST_TEST(o.runs == 5u);
  BOOST_TEST(o.duration.count() == std::chrono::nanoseconds(3s).count());
  BOOST_TEST(o.warmup.count() == std::chrono::nanoseconds(500ms).count());
  BOOST_TEST(o.shards == 1u);
  BOOST_TEST(o.client_threads == 1u);
  BOOST_TEST((o.mode == run_mode::both));
  BOOST_TEST((o.what == role::matrix));
  BOOST_TEST(o.command_line == "runtime_bench");
}

BOOST_AUTO_TEST_CASE(every_flag_is_read) {
  bench_options o = parse_args({"--connections=2,8,32", "--sizes=16", "--runs=3",
                                "--duration=250ms", "--warmup=0", "--shards=2", "--threads=2",
                                "--mode=reactor", "--epoll=et", "--verbose", "--max-other-load=0.5",
                                "--patience=5s", "--reactor-recv=multishot", "--spin"});
  BOOST_TEST(o.connections == (std::vector<unsigned>{2, 8, 32}), boost::test_tools::per_element());
  BOOST_TEST(o.sizes == (std::vector<size_t>{16}), boost::test_tools::per_element());
  BOOST_TEST(o.runs == 3u);
  BOOST_TEST(o.duration.count() == 250'000'000);
  BOOST_TEST(o.warmup.count() == 0);
  BOOST_TEST(o.shards == 2u);
  BOOST_TEST(o.client_threads == 2u);
  BOOST_TEST((o.mode == run_mode::reactor));
  BOOST_TEST(o.edge_triggered);
  BOOST_TEST(o.verbose);
  BOOST_TEST(o.max_other_load == 0.5);
  BOOST_TEST(o.patience.count() == 5'000'000'000);
  BOOST_TEST((o.reactor_recv == recv_kind::multishot));
  BOOST_TEST(o.spin);
  BOOST_TEST((parse_args({"--reactor-recv=poll-first"}).reactor_recv == recv_kind::poll_first));
  BOOST_TEST(o.command_line.find("--mode=reactor") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(split_roles) {
  bench_options s = parse_args({"--serve", "--mode=epoll", "--sizes=64", "--port=4150"});
  BOOST_TEST((s.what == role::serve));
  BOOST_TEST(s.port == 4150);
  BOOST_TEST(s.duration.count() == std::chrono::nanoseconds(10s).count());
  bench_options c = parse_args({"--connect=4150", "--sizes=64"});
  BOOST_TEST((c.what == role::connect));
  BOOST_TEST(c.port == 4150);
  BOOST_TEST(c.connections == (std::vector<unsigned>{1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_flags_are_refused) {
  for (std::vector<std::string> bad :
       std::vector<std::vector<std::string>>{{"--runs=0"},
                                             {"--runs=abc"},
                                             {"--runs"},
                                             {"--runs="},
                                             {"--sizes=1,,2"},
                                             {"--sizes=,"},
                                             {"--sizes=-4"},
                                             {"--sizes=999999999"},
                                             {"--connections=0"},
                                             {"--mode=fast"},
                                             {"--epoll=both"},
                                             {"--duration=3h"},
                                             {"--duration=0"},
                                             {"--duration=1.2.3s"},
                                             {"--bogus"},
                                             {"extra"},
                                             {"--reactor-recv=fast"},
                                             {"--spin=1"},
                                             {"--verbose=1"},
                                             {"--max-other-load=x"},
                                             {"--max-other-load=-1"},
                                             {"--serve", "--sizes=64"},
                                             {"--serve", "--mode=reactor"},
                                             {"--serve", "--mode=reactor", "--sizes=64,128"},
                                             {"--connect=70000", "--sizes=64"},
                                             {"--connect=1", "--sizes=64", "--connections=1,2"},
                                             {"--shards=999"}}) {
    BOOST_TEST_CONTEXT(bad.front()) { BOOST_CHECK_THROW(parse_args(bad), std::invalid_argument); }
  }
}

BOOST_AUTO_TEST_CASE(durations) {
  BOOST_TEST(parse_duration("3s").count() == 3'000'000'000);
  BOOST_TEST(parse_duration("3").count() == 3'000'000'000);
  BOOST_TEST(parse_duration("2.5s").count() == 2'500'000'000);
  BOOST_TEST(parse_duration("500ms").count() == 500'000'000);
  BOOST_TEST(parse_duration("250us").count() == 250'000);
  BOOST_CHECK_THROW(parse_duration(""), std::invalid_argument);
  BOOST_CHECK_THROW(parse_duration("s"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_duration("."), std::invalid_argument);
  BOOST_CHECK_THROW(parse_duration("5m"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_duration("-1s"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(lists) {
  BOOST_TEST(parse_list("7") == (std::vector<uint64_t>{7}), boost::test_tools::per_element());
  BOOST_TEST(parse_list("1,64,4096") == (std::vector<uint64_t>{1, 64, 4096}),
             boost::test_tools::per_element());
  BOOST_CHECK_THROW(parse_list(""), std::invalid_argument);
  BOOST_CHECK_THROW(parse_list("1,"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_list("1 ,2"), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(report)

BOOST_AUTO_TEST_CASE(medians) {
  BOOST_TEST(median({}) == 0.0);
  BOOST_TEST(median({5}) == 5.0);
  BOOST_TEST(median({3, 1, 2}) == 2.0);
  BOOST_TEST(median({4, 1, 3, 2}) == 2.5);
  BOOST_TEST(median({9, 1, 1, 1, 9}) == 1.0);
}

BOOST_AUTO_TEST_CASE(thousands) {
  BOOST_TEST(with_commas(0) == "0");
  BOOST_TEST(with_commas(999.4) == "999");
  BOOST_TEST(with_commas(1000) == "1,000");
  BOOST_TEST(with_commas(1234567.6) == "1,234,568");
  BOOST_TEST(with_commas(-12345) == "-12,345");
}

BOOST_AUTO_TEST_CASE(table_has_medians_and_ratio) {
  bench_options o = parse_args({"--runs=3"});
  cell_result c;
  c.connections = 64;
  c.size = 512;
  for (double r : {100.0, 300.0, 200.0}) c.epoll.push_back(sample{r, 1, 1, 0, 10, {}, false});
  for (double r : {250.0, 150.0, 260.0}) c.reactor.push_back(sample{r, 1, 1, 0, 10, {}, false});
  cell_result only_epoll;
  only_epoll.connections = 1;
  only_epoll.size = 64;
  only_epoll.epoll.push_back(sample{42, 1, 1, 0, 10, {}, true});
  std::string md = markdown_report({c, only_epoll}, o);
  BOOST_TEST(md.find("Command: `runtime_bench --runs=3`") != std::string::npos);
  // Medians 200 and 250; paired ratios 2.5, 0.5, 1.3: their median is 1.30.
  BOOST_TEST(md.find("| 64 | 512 | 200 | 250 | 1.30 |") != std::string::npos, md);
  BOOST_TEST(paired_ratio(c) == 1.3, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(paired_ratio(only_epoll) == 0.0);
  BOOST_TEST(md.find("| 1 | 64 | 42 | - | - |") != std::string::npos, md);
  BOOST_TEST(md.find("1 of 7 runs had other processes") != std::string::npos, md);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sockets)

BOOST_AUTO_TEST_CASE(cpu_choice) {
  std::vector<int> two{0, 1};
  BOOST_TEST(server_cpu(two, 0) == 0);
  BOOST_TEST(server_cpu(two, 1) == 1);
  BOOST_TEST(server_cpu(two, 2) == 0);
  BOOST_TEST(client_cpu(two, 1, 0) == 1);
  BOOST_TEST(client_cpu(two, 1, 5) == 1);
  BOOST_TEST(client_cpu(two, 2, 0) == -1);
  std::vector<int> four{2, 3, 5, 7};
  BOOST_TEST(client_cpu(four, 1, 0) == 3);
  BOOST_TEST(client_cpu(four, 1, 2) == 7);
  BOOST_TEST(client_cpu(four, 1, 3) == 3);
  BOOST_TEST(server_cpu({}, 0) == -1);
  BOOST_TEST(client_cpu({}, 1, 0) == -1);
}

BOOST_AUTO_TEST_CASE(listeners_share_one_free_port) {
  owned_listeners o(3);
  BOOST_TEST(o.l.fds.size() == 3u);
  BOOST_TEST(o.l.port != 0);
  for (int fd : o.l.fds) BOOST_TEST(fd >= 0);
  blocking_client c(o.l.port);  // the kernel queues it on one of them
  BOOST_TEST(c.fd >= 0);
}

BOOST_AUTO_TEST_CASE(connect_to_a_closed_port_fails) {
  uint16_t port;
  {
    owned_listeners o(1);
    port = o.l.port;
  }
  BOOST_CHECK_THROW(connect_loopback(port), std::system_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(servers)

BOOST_AUTO_TEST_CASE(both_echo_messages_sent_in_pieces) {
  for (const variant& v : all_variants) {
    BOOST_TEST_CONTEXT(v.name) {
      owned_listeners o(2);
      auto server = start(v, o.l, 100);
      {
        blocking_client a(o.l.port), b(o.l.port);
        std::string m1(100, 'x'), m2;
        for (int i = 0; i < 100; ++i) m2 += char('A' + i % 26);
        a.send_all(m1.substr(0, 40));
        std::this_thread::sleep_for(20ms);  // the server sees a short read first
        a.send_all(m1.substr(40));
        b.send_all(m2);
        BOOST_TEST(a.recv_exactly(100) == m1);
        BOOST_TEST(b.recv_exactly(100) == m2);
        a.send_all(m2);
        BOOST_TEST(a.recv_exactly(100) == m2);
      }
      server->stop();
    }
  }
}

BOOST_AUTO_TEST_CASE(both_close_when_the_peer_hangs_up_mid_message) {
  for (const variant& v : all_variants) {
    BOOST_TEST_CONTEXT(v.name) {
      owned_listeners o(1);
      auto server = start(v, o.l, 64);
      blocking_client a(o.l.port);
      a.send_all(std::string(10, 'q'));
      ::shutdown(a.fd, SHUT_WR);  // half a message, then EOF
      BOOST_TEST(a.closed_by_peer());
      server->stop();
    }
  }
}

BOOST_AUTO_TEST_CASE(both_stop_with_connections_still_open) {
  for (const variant& v : all_variants) {
    BOOST_TEST_CONTEXT(v.name) {
      owned_listeners o(2);
      auto server = start(v, o.l, 8);
      blocking_client a(o.l.port);
      a.send_all("12345678");
      BOOST_TEST(a.recv_exactly(8) == "12345678");
      server->stop();  // must not wait for the client
      BOOST_TEST(a.closed_by_peer());
    }
  }
}

BOOST_AUTO_TEST_CASE(messages_larger_than_a_socket_read) {
  for (const variant& v : all_variants) {
    BOOST_TEST_CONTEXT(v.name) {
      owned_listeners o(1);
      const size_t size = 300'000;  // several reads, and several provided buffers
      auto server = start(v, o.l, size);
      {
        blocking_client a(o.l.port);
        std::string m(size, '\0');
        for (size_t i = 0; i < size; ++i) m[i] = char(i * 7 + i / 251);
        std::thread writer([&] { a.send_all(m); });
        std::string back = a.recv_exactly(size);
        writer.join();
        BOOST_TEST((back == m));
      }
      server->stop();
    }
  }
}

BOOST_AUTO_TEST_CASE(reactor_counts_its_loop) {
  owned_listeners o(1);
  auto server = start_reactor_server(o.l, 4);
  {
    blocking_client a(o.l.port);
    for (int i = 0; i < 10; ++i) {
      a.send_all("ping");
      BOOST_TEST(a.recv_exactly(4) == "ping");
    }
  }
  server->stop();
  reactor_totals t = server->totals();
  BOOST_TEST(t.enters >= 20u);  // a recv and a send per round trip, at least
  BOOST_TEST(t.cqes >= 20u);
  BOOST_TEST(start_epoll_server(o.l, 4, false)->totals().enters == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(client)

BOOST_AUTO_TEST_CASE(counts_round_trips_against_every_server) {
  bench_options o =
      parse_args({"--duration=200ms", "--warmup=50ms", "--threads=2", "--max-other-load=0"});
  for (const variant& v : all_variants) {
    o.edge_triggered = v.edge;
    o.reactor_recv = v.recv;
    o.spin = v.spin;
    BOOST_TEST_CONTEXT(v.name) {
      sample s = measure(v.kind, 5, 300, o);
      BOOST_TEST(s.rate > 0);
      BOOST_TEST(s.round_trips > 0u);
      BOOST_TEST(!s.noisy);
      BOOST_TEST((s.totals.enters > 0) == (v.kind == server_kind::reactor));
    }
  }
}

BOOST_AUTO_TEST_CASE(reports_a_server_that_hangs_up) {
  owned_listeners o(1);
  load_client client(o.l.port, 1, 1, 16, 1);
  int fd = ::accept(o.l.fds[0], nullptr, nullptr);
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  std::this_thread::sleep_for(50ms);
  BOOST_CHECK_THROW(client.stop(), std::runtime_error);
  BOOST_TEST(client.completed() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
