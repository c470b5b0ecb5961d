// Tests of the black-box harness itself (child processes, ports, temp dirs, wire and HTTP
// clients), against /bin/sh and in-process fake peers: they need no nsqd.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <functional>
#include <set>
#include <linux/io_uring.h>
#include <thread>

#include "test/support/nsqd_process.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
using clock_type = std::chrono::steady_clock;

namespace {

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

child_process sh(const temp_dir& dir, const std::string& script,
                 const child_process::child_setup& setup = {}) {
  return child_process({"/bin/sh", "-c", script}, dir.file("out.log"), setup);
}

// The child's exit code, or -999 if it is still running after 5 s.
int exit_code(child_process& child) { return child.wait_for(5s).value_or(-999); }

// Polls until `cond` holds or 5 s pass.
bool eventually(const std::function<bool()>& cond) {
  auto deadline = clock_type::now() + 5s;
  while (clock_type::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

// The process is gone: no such pid, or a zombie left for someone else to reap.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

void write_str(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    s.remove_prefix(std::size_t(n));
  }
}

std::string read_n(int fd, std::size_t n) {
  std::string out;
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    char buf[4096];
    ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) break;
    out.append(buf, std::size_t(got));
  }
  return out;
}

// Accepts one connection on a free loopback port and runs `script(fd)` on it in a thread,
// then closes it. Gives up after 5 s without a client.
class fake_peer {
 public:
  explicit fake_peer(std::function<void(int)> script) {
    _listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE(::bind(_listen_fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    BOOST_REQUIRE(::listen(_listen_fd, 4) == 0);
    ::getsockname(_listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    _port = ntohs(addr.sin_port);
    _thread = std::thread([this, script = std::move(script)] {
      pollfd p{_listen_fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;
      int fd = ::accept4(_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      script(fd);
      ::close(fd);
    });
  }
  ~fake_peer() {
    _thread.join();
    ::close(_listen_fd);
  }
  std::uint16_t port() const { return _port; }

 private:
  int _listen_fd = -1;
  std::uint16_t _port = 0;
  std::thread _thread;
};

std::string wire_frame(std::int32_t type, std::string_view data) {
  return be32(std::uint32_t(4 + data.size())) + be32(std::uint32_t(type)) + std::string(data);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(harness_process)

BOOST_AUTO_TEST_CASE(exit_code_and_both_streams_are_captured) {
  temp_dir dir;
  auto child = sh(dir, "echo out; echo err >&2; exit 3");
  BOOST_TEST(exit_code(child) == 3);
  BOOST_TEST(contains(child.output(), "out\n"));
  BOOST_TEST(contains(child.output(), "err\n"));
  BOOST_TEST(!child.running());
}

BOOST_AUTO_TEST_CASE(death_by_signal_is_a_negative_code) {
  temp_dir dir;
  auto child = sh(dir, "kill -USR1 $$; sleep 5");
  BOOST_TEST(exit_code(child) == -SIGUSR1);
  BOOST_TEST(!child.dumped_core());
}

BOOST_AUTO_TEST_CASE(wait_times_out_then_kill_reaps) {
  temp_dir dir;
  auto child = sh(dir, "exec sleep 30");
  auto t0 = clock_type::now();
  BOOST_TEST(!child.wait_for(100ms).has_value());
  BOOST_TEST((clock_type::now() - t0) >= 100ms);
  BOOST_TEST(child.running());
  BOOST_TEST(child.kill() == -SIGKILL);
  BOOST_TEST(!child.running());
  BOOST_TEST(process_gone(child.pid()));
}

BOOST_AUTO_TEST_CASE(stop_delivers_the_signal) {
  temp_dir dir;
  auto child = sh(dir, "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done");
  BOOST_REQUIRE(eventually([&] { return contains(child.output(), "ready"); }));
  BOOST_TEST(child.stop(SIGTERM, 5s) == 7);
}

BOOST_AUTO_TEST_CASE(stop_escalates_to_sigkill) {
  temp_dir dir;
  auto child = sh(dir, "trap '' TERM; echo ready; exec sleep 30");
  BOOST_REQUIRE(eventually([&] { return contains(child.output(), "ready"); }));
  auto t0 = clock_type::now();
  BOOST_TEST(child.stop(SIGTERM, 200ms) == -SIGKILL);
  BOOST_TEST((clock_type::now() - t0) < 5s);
}

BOOST_AUTO_TEST_CASE(destructor_kills_the_whole_process_group) {
  temp_dir dir;
  pid_t grandchild = -1, child_pid = -1;
  {
    auto child = sh(dir, "sleep 30 & echo pid=$!; wait");
    child_pid = child.pid();
    BOOST_REQUIRE(eventually([&] { return contains(child.output(), "\n"); }));
    std::string out = child.output();
    BOOST_REQUIRE(out.starts_with("pid="));
    grandchild = pid_t(std::stoi(out.substr(4)));
  }
  BOOST_TEST(process_gone(child_pid));
  BOOST_TEST(eventually([&] { return process_gone(grandchild); }));
}

BOOST_AUTO_TEST_CASE(exec_failure_is_127_with_a_message) {
  temp_dir dir;
  child_process child({"/nonexistent/nsqd"}, dir.file("out.log"));
  BOOST_TEST(exit_code(child) == 127);
  BOOST_TEST(contains(child.output(), "exec failed: /nonexistent/nsqd"));
}

BOOST_AUTO_TEST_CASE(child_gets_no_inherited_sockets) {
  temp_dir dir;
  int leaky = ::socket(AF_INET, SOCK_STREAM, 0);  // not close-on-exec
  BOOST_REQUIRE(leaky >= 0);
  auto child = sh(dir, "ls /proc/self/fd | wc -l");
  int code = exit_code(child);
  ::close(leaky);
  BOOST_REQUIRE(code == 0);
  // 0, 1, 2 and the fd ls uses to read the directory.
  BOOST_TEST(std::stoi(child.output()) <= 4);
}

BOOST_AUTO_TEST_CASE(forbid_io_uring_makes_setup_fail_with_eperm) {
  temp_dir dir;
  auto probe = [] {
    forbid_io_uring();
    io_uring_params params{};
    long fd = ::syscall(SYS_io_uring_setup, 4, &params);
    ::_exit(fd < 0 && errno == EPERM ? 0 : 1);
  };
  child_process child({"/bin/true"}, dir.file("out.log"), probe);
  BOOST_TEST(exit_code(child) == 0);
  BOOST_TEST(child.output() == "");
  // The filter is the child's alone: exec'ing a shell under it still works.
  auto shell = sh(dir, "exit 4", [] { forbid_io_uring(); });
  BOOST_TEST(exit_code(shell) == 4);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(harness_resources)

BOOST_AUTO_TEST_CASE(free_ports_can_be_listened_on) {
  std::uint16_t a = free_port(), b = free_port();
  BOOST_TEST(a != 0);
  BOOST_TEST(b != 0);
  held_listener la(a);
  BOOST_TEST(la.port() == a);
  BOOST_TEST(port_accepts(a));
}

BOOST_AUTO_TEST_CASE(held_listener_keeps_the_port_busy) {
  std::uint16_t port;
  {
    held_listener held;
    port = held.port();
    BOOST_CHECK_THROW(held_listener{port}, std::runtime_error);
    BOOST_TEST(port_accepts(port));
  }
  BOOST_TEST(!port_accepts(port));
}

BOOST_AUTO_TEST_CASE(temp_dir_is_removed_with_its_contents) {
  std::string path;
  {
    temp_dir dir("harness");
    path = dir.path();
    BOOST_TEST(std::filesystem::is_directory(path));
    std::filesystem::create_directory(dir.file("sub"));
    write_file(dir.file("sub/x.txt"), "hello");
    BOOST_TEST(read_file(dir.file("sub/x.txt")) == "hello");
  }
  BOOST_TEST(!std::filesystem::exists(path));
  BOOST_TEST(read_file(path + "/sub/x.txt") == "");
}

BOOST_AUTO_TEST_CASE(defaults_yield_to_explicit_flags_in_any_go_spelling) {
  nsqd_process p("/bin/sh");
  auto args = p.args_with_defaults({"-tcp-address", "127.0.0.1:1", "--data-path=/x"});
  std::vector<std::string> expected{"--http-address=" + p.http_address(), "-tcp-address",
                                    "127.0.0.1:1", "--data-path=/x"};
  BOOST_TEST(args == expected, boost::test_tools::per_element());
  auto all = p.args_with_defaults({"--cores=2"});
  std::vector<std::string> expected_all{"--tcp-address=" + p.tcp_address(),
                                        "--http-address=" + p.http_address(),
                                        "--data-path=" + p.data_path(), "--cores=2"};
  BOOST_TEST(all == expected_all, boost::test_tools::per_element());
  auto tls = p.args_with_defaults({"--tls-cert=c.pem"});
  std::vector<std::string> expected_tls{"--tcp-address=" + p.tcp_address(), "--http-address=" + p.http_address(),
                                        "--https-address=" + p.https_address(), "--data-path=" + p.data_path(),
                                        "--tls-cert=c.pem"};
  BOOST_TEST(tls == expected_tls, boost::test_tools::per_element());
  BOOST_TEST(p.tcp_port() != p.http_port());
  BOOST_TEST(std::filesystem::is_directory(p.data_path()));
}

BOOST_AUTO_TEST_CASE(start_fails_fast_with_the_log_when_the_process_exits) {
  nsqd_process p("/bin/sh");  // sh rejects --tcp-address=... and exits 2
  auto t0 = clock_type::now();
  bool thrown = false;
  try {
    p.start();
  } catch (const std::runtime_error& e) {
    thrown = true;
    BOOST_TEST(contains(e.what(), "exited (code 2)"));
    BOOST_TEST(contains(e.what(), "/bin/sh: "));  // sh's complaint, from the log
  }
  BOOST_TEST(thrown);
  BOOST_TEST((clock_type::now() - t0) < 10s);
}

BOOST_AUTO_TEST_CASE(wait_ready_times_out_on_a_silent_process) {
  nsqd_process p("/bin/sh");
  p.spawn({"-c", "exec sleep 30"});
  BOOST_CHECK_THROW(p.wait_ready(p.http_port(), 300ms), std::runtime_error);
  BOOST_TEST(p.running());
  BOOST_TEST(p.kill() == -SIGKILL);
}

BOOST_AUTO_TEST_CASE(wait_ready_takes_no_answer_from_another_process) {
  nsqd_process p("/bin/sh");
  p.spawn({"-c", "exec sleep 30"});
  std::string request;
  {
    // A fake server in this process (not the child) that answers the first ping: as when
    // another program took the child's port first.
    fake_peer server([&](int fd) {
      request = read_n(fd, 1);
      std::string more;
      while (!contains(request, "\r\n\r\n") && !(more = read_n(fd, 1)).empty()) request += more;
      write_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
    });
    // Its 200 is not taken: wait_ready keeps asking (the next ping, never answered, times out).
    BOOST_CHECK_THROW(p.wait_ready(server.port(), 300ms), std::runtime_error);
  }
  BOOST_TEST(request.starts_with("GET /ping HTTP/1.1\r\n"));
  BOOST_TEST(p.stop(SIGTERM) == -SIGTERM);
}

// Says what upstream's Go programs and our nsqd say when the port of --tcp-address is taken.
const char* const port_taken_script = R"(#!/bin/sh
for a; do case $a in --tcp-address=*) addr=${a#--tcp-address=};; esac; done
echo "FATAL: listen ($addr) failed - listen tcp $addr: bind: address already in use"
exit 1
)";

BOOST_AUTO_TEST_CASE(wait_ready_tells_a_port_taken_by_another_program) {
  nsqd_process p("/bin/sh");
  p.spawn({"-c", "echo 'listen tcp 127.0.0.1:4567: bind: address already in use'; exit 1"});
  try {
    p.wait_ready(p.http_port(), 5s);
    BOOST_TEST(false, "no error");
  } catch (const port_taken_error& e) {
    BOOST_TEST(e.port() == 4567);
    BOOST_TEST(contains(e.what(), "exited (code 1)"));
  }
  p.spawn({"-c", "echo 'listen unix /x: bind: address already in use'; exit 1"});  // no port: no retry
  try {
    p.wait_ready(p.http_port(), 5s);
    BOOST_TEST(false, "no error");
  } catch (const port_taken_error&) {
    BOOST_TEST(false, "a port_taken_error for a unix socket");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(contains(e.what(), "exited (code 1)"));
  }
}

BOOST_AUTO_TEST_CASE(start_picks_fresh_ports_only_for_its_own) {
  temp_dir dir("harness");
  write_file(dir.file("taken.sh"), port_taken_script);
  BOOST_TEST_REQUIRE(::chmod(dir.file("taken.sh").c_str(), 0755) == 0);
  auto starts = [](const nsqd_process& p) {
    std::string log = read_file(p.log_path());
    std::size_t n = 0;
    for (auto at = log.find("---- exec: "); at != std::string::npos; at = log.find("---- exec: ", at + 1)) ++n;
    return n;
  };
  {
    // Its own tcp port "taken" every time: five starts, each on fresh ports, then the error.
    nsqd_process p(dir.file("taken.sh"));
    std::set<std::uint16_t> ports;
    BOOST_CHECK_THROW(p.start(), port_taken_error);
    BOOST_TEST(starts(p) == 5u);
    std::string log = read_file(p.log_path());
    for (auto at = log.find("--tcp-address=127.0.0.1:"); at != std::string::npos;
         at = log.find("--tcp-address=127.0.0.1:", at + 1))
      ports.insert(std::uint16_t(std::stoul(log.substr(at + 24))));
    BOOST_TEST(ports.size() == 5u);
  }
  {
    // A port the test passed itself (its own tcp_address() included): no second start.
    nsqd_process p(dir.file("taken.sh"));
    BOOST_CHECK_THROW(p.start({"--tcp-address=" + p.tcp_address()}), port_taken_error);
    BOOST_TEST(starts(p) == 1u);
  }
}

BOOST_AUTO_TEST_CASE(start_on_free_ports_gives_up_after_its_attempts) {
  int runs = 0, repicks = 0;
  auto taken = [&] {
    ++runs;
    throw port_taken_error(1234, "taken");
  };
  BOOST_CHECK_THROW(start_on_free_ports(taken, [&](std::uint16_t p) { return ++repicks, p == 1234; }, 3),
                    port_taken_error);
  BOOST_TEST(runs == 3);
  BOOST_TEST(repicks == 2);
  runs = 0;
  BOOST_CHECK_THROW(start_on_free_ports(taken, [](std::uint16_t) { return false; }), port_taken_error);
  BOOST_TEST(runs == 1);
  runs = 0;
  start_on_free_ports([&] { if (++runs < 3) throw port_taken_error(1, "taken"); }, [](std::uint16_t) { return true; });
  BOOST_TEST(runs == 3);
  BOOST_CHECK_THROW(start_on_free_ports([] { throw std::runtime_error("other"); }, [](std::uint16_t) { return true; }),
                    std::runtime_error);
}

BOOST_AUTO_TEST_CASE(output_is_per_child_and_the_log_keeps_all) {
  nsqd_process p("/bin/sh");
  auto first = p.run_exact({"-c", "echo one"});
  auto second = p.run_exact({"-c", "echo two; exit 9"});
  BOOST_TEST(first.code == 0);
  BOOST_TEST(first.output == "one\n");
  BOOST_TEST(second.code == 9);
  BOOST_TEST(second.output == "two\n");
  std::string log = read_file(p.log_path());
  BOOST_TEST(contains(log, "one\n"));
  BOOST_TEST(contains(log, "---- exec: /bin/sh -c echo two; exit 9\n"));
}

BOOST_AUTO_TEST_CASE(run_to_exit_kills_after_the_timeout) {
  nsqd_process p("/bin/sh");
  auto r = p.run_exact({"-c", "exec sleep 30"}, 200ms);
  BOOST_TEST(r.code == -SIGKILL);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(harness_wire)

BOOST_AUTO_TEST_CASE(frames_are_split_and_joined_correctly) {
  std::string received;
  fake_peer peer([&](int fd) {
    received = read_n(fd, 4 + 6 + 4 + 5);
    write_str(fd, wire_frame(0, "OK") + wire_frame(1, "E_INVALID x"));  // two in one write
    std::string third = wire_frame(2, std::string(100, 'm'));
    write_str(fd, third.substr(0, 6));  // one split across writes, mid-header
    std::this_thread::sleep_for(50ms);
    write_str(fd, third.substr(6));
  });
  wire_client c(peer.port());
  c.send_magic();
  c.send_command("PUB t", "hello");
  BOOST_TEST(c.read_frame() == (frame{frame_response, "OK"}));
  BOOST_TEST(c.read_frame() == (frame{frame_error, "E_INVALID x"}));
  BOOST_TEST(c.read_frame() == (frame{frame_message, std::string(100, 'm')}));
  BOOST_TEST(c.expect_closed());
  BOOST_TEST(received == "  V2PUB t\n" + be32(5) + "hello");
}

BOOST_AUTO_TEST_CASE(silence_is_reported_as_no_frame) {
  fake_peer peer([](int fd) {
    read_n(fd, 1);  // the client's go-ahead
    write_str(fd, wire_frame(0, "_heartbeat_"));
  });
  wire_client c(peer.port());
  BOOST_TEST(!c.read_frame_within(100ms).has_value());
  BOOST_TEST(!c.expect_closed(50ms));  // timed out: open and silent
  c.send("x");
  auto f = c.read_frame_within(5s);
  BOOST_REQUIRE(f.has_value());
  BOOST_TEST(*f == (frame{frame_response, "_heartbeat_"}));
  BOOST_CHECK_THROW(c.read_frame_within(5s), wire_error);  // closed now
}

BOOST_AUTO_TEST_CASE(pending_data_is_not_a_close) {
  fake_peer peer([](int fd) { write_str(fd, "abc"); });
  wire_client c(peer.port());
  BOOST_TEST(!c.expect_closed());
  BOOST_TEST(c.pending() == "abc");
  BOOST_TEST(c.read_exact(3) == "abc");
  BOOST_TEST(c.expect_closed());
}

BOOST_AUTO_TEST_CASE(reset_counts_as_closed) {
  fake_peer peer([](int fd) {
    read_n(fd, 1);
    linger l{1, 0};  // close with RST
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  });
  wire_client c(peer.port());
  c.send("x");
  BOOST_TEST(c.expect_closed());
}

BOOST_AUTO_TEST_CASE(truncated_and_malformed_frames_throw) {
  {
    fake_peer peer([](int fd) { write_str(fd, be32(10) + be32(0) + "ab"); });
    wire_client c(peer.port());
    BOOST_CHECK_THROW(c.read_frame(), wire_error);
  }
  {
    fake_peer peer([](int fd) { write_str(fd, be32(2) + "xx"); });
    wire_client c(peer.port());
    BOOST_CHECK_THROW(c.read_frame(), wire_error);
  }
  {
    fake_peer peer([](int fd) { read_n(fd, 1); });
    wire_client c(peer.port());
    BOOST_CHECK_THROW(c.read_frame(200ms), wire_error);  // timeout
    c.send("x");
  }
}

BOOST_AUTO_TEST_CASE(connect_to_a_closed_port_throws) {
  std::uint16_t port = free_port();
  BOOST_CHECK_THROW(wire_client{port}, wire_error);
}

BOOST_AUTO_TEST_CASE(http_responses_by_length_chunks_and_close) {
  std::string received;
  fake_peer peer([&](int fd) {
    received = read_n(fd, 1);
    write_str(fd,
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A:  spaced  \r\n\r\nOK"
              "HTTP/1.1 404 Not Found\r\ncontent-length: 23\r\n\r\n{\"message\":\"NOT_FOUND\"}"
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n"
              "HTTP/1.1 204 No Content\r\n\r\n"
              "HTTP/1.0 200 OK\r\n\r\nuntil close");
  });
  http_client h(peer.port());
  h.send_raw("GET /a HTTP/1.1\r\n\r\n");
  auto a = h.read_response();
  BOOST_TEST(a.status == 200);
  BOOST_TEST(a.version == "HTTP/1.1");
  BOOST_TEST(a.reason == "OK");
  BOOST_TEST(a.body == "OK");
  BOOST_TEST(a.header("x-a").value_or("") == "spaced");
  BOOST_TEST(!a.header("X-Missing").has_value());
  auto b = h.read_response();
  BOOST_TEST(b.status == 404);
  BOOST_TEST(b.body == "{\"message\":\"NOT_FOUND\"}");
  BOOST_TEST(b.header("Content-Length").value_or("") == "23");
  auto c = h.read_response();
  BOOST_TEST(c.body == "abc0123456789");
  auto d = h.read_response();
  BOOST_TEST(d.status == 204);
  BOOST_TEST(d.body == "");
  auto e = h.read_response();
  BOOST_TEST(e.version == "HTTP/1.0");
  BOOST_TEST(e.body == "until close");
  BOOST_TEST(h.expect_closed());
}

BOOST_AUTO_TEST_CASE(http_requests_are_well_formed) {
  std::string received;
  const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  fake_peer peer([&](int fd) {
    received = read_n(fd, 1);
    while (std::count(received.begin(), received.end(), '\n') < 8) {
      std::string more = read_n(fd, 1);
      if (more.empty()) break;
      received += more;
    }
    received += read_n(fd, 4);  // the POST body
    write_str(fd, reply + reply);
  });
  http_client h(peer.port());
  h.send_request("GET", "/ping", {}, {"Connection: keep-alive"});
  h.send_request("POST", "/pub?topic=t", "body");
  BOOST_TEST(h.read_response().status == 200);
  BOOST_TEST(h.read_response().status == 200);
  std::string host = "Host: 127.0.0.1:" + std::to_string(peer.port()) + "\r\n";
  BOOST_TEST(received == "GET /ping HTTP/1.1\r\n" + host + "Connection: keep-alive\r\n\r\n" +
                             "POST /pub?topic=t HTTP/1.1\r\n" + host + "Content-Length: 4\r\n\r\nbody");
}

BOOST_AUTO_TEST_CASE(malformed_http_throws) {
  {
    fake_peer peer([](int fd) { write_str(fd, "HTTX/1.1 200 OK\r\n\r\n"); });
    http_client h(peer.port());
    BOOST_CHECK_THROW(h.read_response(), wire_error);
  }
  {
    fake_peer peer([](int fd) { write_str(fd, "HTTP/1.1 200 OK\r\nno colon\r\n\r\n"); });
    http_client h(peer.port());
    BOOST_CHECK_THROW(h.read_response(), wire_error);
  }
  {
    fake_peer peer([](int fd) { write_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"); });
    http_client h(peer.port());
    BOOST_CHECK_THROW(h.read_response(), wire_error);  // closed mid-body
  }
  {
    fake_peer peer([](int fd) { write_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"); });
    http_client h(peer.port());
    BOOST_CHECK_THROW(h.read_response(), wire_error);
  }
}

BOOST_AUTO_TEST_SUITE_END()
