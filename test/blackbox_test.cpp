#define BOOST_TEST_MODULE blackbox
// Black-box tests: the built nsqd ($NSQD_BINARY) on free loopback ports and a temp data dir,
// driven over TCP and HTTP as clients do. Harness: test/support/nsqd_process.hpp and
// wire_client.hpp. Every test is bounded (about 15 s at worst) and leaves no process behind.

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test/support/nsqd_process.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
using clock_type = std::chrono::steady_clock;

namespace {

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

const frame invalid_foo{frame_error, "E_INVALID invalid command FOO"};

// After the magic: NOP gets no answer (twice), FOO gets E_INVALID and the server hangs up.
void check_nop_then_invalid_command(wire_client& c) {
  c.send_command("NOP");
  BOOST_TEST(!c.read_frame_within(200ms).has_value());
  c.send_command("NOP");
  c.send_command("FOO");
  BOOST_TEST(c.read_frame() == invalid_foo);
  BOOST_TEST(c.expect_closed(2s));
}

// Names (comm) of the threads of `pid`.
std::multiset<std::string> thread_names(pid_t pid) {
  std::multiset<std::string> names;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::string comm = read_file(task.path() / "comm");
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    names.insert(comm);
  }
  return names;
}

std::size_t shard_threads(pid_t pid) {
  std::size_t n = 0;
  for (const auto& name : thread_names(pid)) n += name.starts_with("shard-");
  return n;
}

// SIGTERM/SIGINT with open TCP and idle HTTP keep-alive connections (and, if `hammer`, a
// thread sending GET /ping as fast as it can): exit 0 within 1 s, every connection closed.
void check_graceful_stop(int sig, int tcp_count, int http_count, bool hammer) {
  nsqd_process nsqd;
  nsqd.start();

  std::vector<wire_client> tcp;
  for (int i = 0; i < tcp_count; ++i) {
    tcp.emplace_back(nsqd.tcp_port());
    tcp.back().send_magic();
  }
  std::vector<http_client> http;
  for (int i = 0; i < http_count; ++i) {
    http.emplace_back(nsqd.http_port());
    auto r = http.back().get("/ping");
    BOOST_REQUIRE(r.status == 200);
  }

  std::atomic<bool> done{false};
  std::atomic<int> pings_ok{0};
  std::thread hammer_thread;
  if (hammer) {
    hammer_thread = std::thread([&done, &pings_ok, port = nsqd.http_port()] {
      while (!done) {
        try {
          http_client c(port, 1s);
          while (!done)
            if (c.get("/ping", 1s).status == 200) ++pings_ok;
        } catch (const wire_error&) {
          std::this_thread::sleep_for(1ms);  // the server is going away: do not spin
        }
      }
    });
    deadline warmed_up(5s);
    while (pings_ok < 20 && !warmed_up.passed()) std::this_thread::sleep_for(1ms);
  }

  auto t0 = clock_type::now();
  int code = nsqd.stop(sig, 5s);
  auto elapsed = clock_type::now() - t0;
  done = true;
  if (hammer_thread.joinable()) hammer_thread.join();

  BOOST_TEST(code == 0);
  BOOST_TEST(std::chrono::duration_cast<milliseconds>(elapsed).count() <= 1000);
  if (hammer) BOOST_TEST(pings_ok >= 20);
  int still_open = 0;
  deadline d(3s);
  for (auto& c : tcp) still_open += !c.expect_closed(d.left());
  for (auto& h : http) still_open += !h.expect_closed(d.left());
  BOOST_TEST(still_open == 0);
}

}  // namespace

// ---- 1-5: flags, start-up errors --------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(startup)

BOOST_AUTO_TEST_CASE(version_prints_and_exits_0) {
  nsqd_process nsqd;
  auto r = nsqd.run_exact({"--version"});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.output.starts_with("nsqd v1.3.0"), "output: " << r.output);
}

// Go's flag package (ExitOnError): the error, then the usage, on stderr; exit code 2.
BOOST_AUTO_TEST_CASE(unknown_flag_exits_2_naming_it) {
  nsqd_process nsqd;
  auto r = nsqd.run_to_exit({"--no-such-flag"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.output.starts_with("flag provided but not defined: -no-such-flag\nUsage of nsqd:\n"),
             "output: " << r.output);
  BOOST_TEST(contains(r.output, "  -tcp-address string"), "output: " << r.output);
}

BOOST_AUTO_TEST_CASE(bad_flag_value_exits_2) {
  nsqd_process nsqd;
  auto r = nsqd.run_to_exit({"--max-rdy-count=abc"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(contains(r.output, "max-rdy-count"), "output: " << r.output);
  BOOST_TEST(contains(r.output, "Usage of nsqd:"), "output: " << r.output);
}

BOOST_AUTO_TEST_CASE(bad_config_file_exits_1) {
  nsqd_process nsqd;
  auto r = nsqd.run_to_exit({"--config=" + nsqd.dir().file("missing.cfg")});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.output, "failed to load config file"), "output: " << r.output);
}

BOOST_AUTO_TEST_CASE(node_id_out_of_range_exits_1) {
  nsqd_process nsqd;
  auto r = nsqd.run_to_exit({"--node-id=1024"});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.output, "node-id"), "output: " << r.output);
}

BOOST_AUTO_TEST_CASE(go_style_flag_forms_are_accepted) {
  nsqd_process nsqd;
  // "-tcp-address 127.0.0.1:P" (one dash, value as the next argument), "--http-address=...".
  nsqd.start({"-tcp-address", nsqd.tcp_address()});
  BOOST_TEST(http_get(nsqd.http_port(), "/ping").body == "OK");
  wire_client c(nsqd.tcp_port());
  c.send_magic();
  check_nop_then_invalid_command(c);
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_CASE(missing_data_path_exits_1) {
  nsqd_process nsqd;
  std::string missing = nsqd.dir().file("no-such-dir");
  auto r = nsqd.run_to_exit({"--data-path=" + missing});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.output, missing), "output: " << r.output);
  BOOST_TEST(!std::filesystem::exists(missing));
}

BOOST_AUTO_TEST_CASE(busy_tcp_port_exits_1) {
  nsqd_process nsqd;
  held_listener busy;
  std::string addr = "127.0.0.1:" + std::to_string(busy.port());
  auto r = nsqd.run_to_exit({"--tcp-address=" + addr});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.output, "listen (" + addr + ") failed"), "output: " << r.output);
}

BOOST_AUTO_TEST_CASE(busy_http_port_exits_1) {
  nsqd_process nsqd;
  held_listener busy;
  std::string addr = "127.0.0.1:" + std::to_string(busy.port());
  auto r = nsqd.run_to_exit({"--http-address=" + addr});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.output, "listen (" + addr + ") failed"), "output: " << r.output);
}

// The ports nsqd_process picks are free when picked, not reserved: when another program binds
// one before nsqd does, start() (start_on_free_ports) starts again on fresh ones.
BOOST_AUTO_TEST_CASE(start_moves_off_a_port_another_program_took) {
  nsqd_process nsqd;
  held_listener tcp_taken(nsqd.tcp_port());
  nsqd.start({"--cores=2"});
  BOOST_TEST(nsqd.tcp_port() != tcp_taken.port());
  BOOST_TEST(port_accepts(nsqd.tcp_port()));
  BOOST_TEST(nsqd.stop() == 0);
  BOOST_TEST(contains(read_file(nsqd.log_path()), "listen tcp 127.0.0.1:" + std::to_string(tcp_taken.port()) +
                                                      ": bind: address already in use"));
  // The same for the HTTP port (the holder accepts but never answers /ping).
  nsqd_process second;
  held_listener http_taken(second.http_port());
  second.start({"--cores=2"});
  BOOST_TEST(second.http_port() != http_taken.port());
  BOOST_TEST(http_get(second.http_port(), "/ping").body == "OK");
  BOOST_TEST(second.stop() == 0);
  BOOST_TEST(contains(read_file(second.log_path()), "listen tcp 127.0.0.1:" + std::to_string(http_taken.port()) +
                                                        ": bind: address already in use"));
}

// After kill -9 the kernel tears the dead process's io_uring down asynchronously and holds its
// listening sockets for tens of milliseconds; a start at once must still bind (issue 13).
BOOST_AUTO_TEST_CASE(starts_right_after_kill_9) {
  nsqd_process nsqd;
  for (int round = 0; round < 20; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      nsqd.start({"--cores=2"});
      // Live connections, so the ring has operations in flight when it dies.
      wire_client consumer(nsqd.tcp_port());
      consumer.send_magic();
      consumer.send_command("SUB restart c");
      BOOST_TEST(consumer.read_frame() == (frame{frame_response, "OK"}));
      consumer.send_command("RDY 10");
      http_client(nsqd.http_port()).post("/pub?topic=restart", "m");
      nsqd.kill();
    }
  }
  nsqd.start({"--cores=2"});
  BOOST_TEST(nsqd.stop(SIGTERM) == 0);
}

BOOST_AUTO_TEST_CASE(locked_data_path_exits_1) {
  nsqd_process first;
  first.start();
  nsqd_process second;
  auto r = second.run_to_exit({"--data-path=" + first.data_path()});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.output, "cannot flock directory"), "output: " << r.output);
  BOOST_TEST(http_get(first.http_port(), "/ping").status == 200);  // the first one is unharmed
  BOOST_TEST(first.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- 6: HTTP ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(http)

BOOST_AUTO_TEST_CASE(ping_and_not_found) {
  nsqd_process nsqd;
  nsqd.start();
  auto ping = http_get(nsqd.http_port(), "/ping");
  BOOST_TEST(ping.status == 200);
  BOOST_TEST(ping.body == "OK");
  auto missing = http_get(nsqd.http_port(), "/no/such/path");
  BOOST_TEST(missing.status == 404);
  BOOST_TEST(missing.body == "{\"message\":\"NOT_FOUND\"}");
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_CASE(keep_alive_serves_several_requests) {
  nsqd_process nsqd;
  nsqd.start();
  http_client h(nsqd.http_port());
  for (int i = 0; i < 3; ++i) {
    auto r = h.get("/ping");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.body == "OK");
  }
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
  nsqd_process nsqd;
  nsqd.start();
  http_client h(nsqd.http_port());
  std::string host = nsqd.http_address();
  h.send_raw(http_request_bytes("GET", "/ping", host, {}, {}) +
             http_request_bytes("GET", "/nope", host, {}, {}) +
             http_request_bytes("GET", "/ping", host, {}, {}));
  auto a = h.read_response();
  auto b = h.read_response();
  auto c = h.read_response();
  BOOST_TEST(a.status == 200);
  BOOST_TEST(a.body == "OK");
  BOOST_TEST(b.status == 404);
  BOOST_TEST(b.body == "{\"message\":\"NOT_FOUND\"}");
  BOOST_TEST(c.status == 200);
  BOOST_TEST(c.body == "OK");
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_CASE(http_1_0_is_answered_then_closed) {
  nsqd_process nsqd;
  nsqd.start();
  http_client h(nsqd.http_port());
  h.send_raw("GET /ping HTTP/1.0\r\n\r\n");
  auto r = h.read_response();
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "OK");
  BOOST_TEST(h.expect_closed(2s));
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- 7: TCP protocol V2 -----------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(tcp)

BOOST_AUTO_TEST_CASE(nop_is_silent_and_unknown_command_is_fatal) {
  nsqd_process nsqd;
  nsqd.start();
  wire_client c(nsqd.tcp_port());
  c.send_magic();
  check_nop_then_invalid_command(c);
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_CASE(wrong_magic_gets_bad_protocol_and_close) {
  nsqd_process nsqd;
  nsqd.start();
  wire_client c(nsqd.tcp_port());
  c.send_magic("  V3");
  BOOST_TEST(c.read_frame() == (frame{frame_error, "E_BAD_PROTOCOL"}));
  BOOST_TEST(c.expect_closed(2s));
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- 8: graceful stop -------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(shutdown)

BOOST_AUTO_TEST_CASE(sigterm_under_load_exits_0_within_a_second) {
  check_graceful_stop(SIGTERM, 64, 64, true);
}

BOOST_AUTO_TEST_CASE(sigint_exits_0_within_a_second) { check_graceful_stop(SIGINT, 8, 8, false); }

BOOST_AUTO_TEST_SUITE_END()

// ---- 9: shards --------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(shards)

BOOST_AUTO_TEST_CASE(four_cores_run_four_shards_that_all_serve) {
  nsqd_process nsqd;
  nsqd.start({"--cores", "4"});
  deadline named(2s);  // threads may be named just after the first /ping answer
  while (shard_threads(nsqd.pid()) != 4 && !named.passed()) std::this_thread::sleep_for(10ms);
  auto names = thread_names(nsqd.pid());
  BOOST_TEST(shard_threads(nsqd.pid()) == 4u);
  for (const char* name : {"shard-0", "shard-1", "shard-2", "shard-3"})
    BOOST_TEST(names.count(name) == 1u, name << " among the threads");

  // All connections open at once, so that SO_REUSEPORT spreads them over the shards.
  std::vector<wire_client> tcp;
  for (int i = 0; i < 40; ++i) tcp.emplace_back(nsqd.tcp_port());
  for (auto& c : tcp) c.send_magic();
  for (auto& c : tcp) c.send_command("NOP");
  for (auto& c : tcp) {
    c.send_command("NOP");
    c.send_command("FOO");
  }
  int good = 0;
  deadline d(5s);
  for (auto& c : tcp) {  // the error frame first: no NOP was answered
    try {
      good += c.read_frame(d.left()) == invalid_foo && c.expect_closed(d.left());
    } catch (const wire_error& e) {
      BOOST_TEST_MESSAGE("TCP connection: " << e.what());
    }
  }
  BOOST_TEST(good == 40);

  std::vector<http_client> http;
  for (int i = 0; i < 40; ++i) http.emplace_back(nsqd.http_port());
  int pinged = 0;
  deadline d2(5s);
  for (auto& h : http) {
    h.send_request("GET", "/ping");
  }
  for (auto& h : http) {
    try {
      auto r = h.read_response(d2.left());
      pinged += r.status == 200 && r.body == "OK";
    } catch (const wire_error& e) {
      BOOST_TEST_MESSAGE("HTTP connection: " << e.what());
    }
  }
  BOOST_TEST(pinged == 40);
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- 10: config file --------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(config_file_sets_the_listen_addresses) {
  nsqd_process nsqd;
  std::string cfg = nsqd.dir().file("nsqd.toml");
  start_on_free_ports(
      [&] {
        write_file(cfg, "tcp_address = \"" + nsqd.tcp_address() + "\"\nhttp_address = \"" +
                            nsqd.http_address() + "\"\n");
        nsqd.start_exact({"--config=" + cfg, "--data-path=" + nsqd.data_path()}, nsqd.http_port());
      },
      [&](std::uint16_t taken) { return nsqd.pick_ports_if_own(taken); });
  wire_client c(nsqd.tcp_port());
  c.send_magic();
  c.send_command("FOO");
  BOOST_TEST(c.read_frame() == invalid_foo);
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_flag_beats_the_config_file) {
  nsqd_process nsqd;
  std::uint16_t file_port = free_port();
  while (file_port == nsqd.http_port() || file_port == nsqd.tcp_port()) file_port = free_port();
  std::string cfg = nsqd.dir().file("nsqd.toml");
  start_on_free_ports(
      [&] {
        write_file(cfg, "tcp_address = \"" + nsqd.tcp_address() + "\"\nhttp_address = \"127.0.0.1:" +
                            std::to_string(file_port) + "\"\n");
        nsqd.start_exact({"--config=" + cfg, "--http-address=" + nsqd.http_address(),
                          "--data-path=" + nsqd.data_path()},
                         nsqd.http_port());
      },
      [&](std::uint16_t taken) { return nsqd.pick_ports_if_own(taken); });
  BOOST_TEST(http_get(nsqd.http_port(), "/ping").body == "OK");
  BOOST_TEST(!port_accepts(file_port));
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_CASE(unknown_config_keys_are_ignored) {
  nsqd_process nsqd;
  std::string cfg = nsqd.dir().file("nsqd.toml");
  write_file(cfg, "no_such_key = 5\nanother_unknown = \"x\"\n\n[some_table]\nk = true\n");
  nsqd.start({"--config=" + cfg});
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_CASE(missing_config_file_exits_1) {
  nsqd_process nsqd;
  auto r = nsqd.run_to_exit({"--config=" + nsqd.dir().file("no-such.toml")});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.output, "no-such.toml"), "output: " << r.output);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- 11: io_uring forbidden -------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(kernel)

BOOST_AUTO_TEST_CASE(forbidden_io_uring_is_a_clear_error) {
  nsqd_process nsqd;
  nsqd.set_child_setup([] { forbid_io_uring(); });
  auto r = nsqd.run_to_exit({});
  BOOST_TEST(r.code == 1, "exit code " << r.code << ", output: " << r.output);
  BOOST_TEST(!r.core);
  BOOST_TEST(contains(r.output, "io_uring"), "output: " << r.output);
}

BOOST_AUTO_TEST_SUITE_END()
