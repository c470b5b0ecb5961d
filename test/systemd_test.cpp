#define BOOST_TEST_MODULE systemd
// Running under systemd: the service notification protocol (a NOTIFY_SOCKET listener in the
// test, as systemd's own), READY=1 / STATUS= / STOPPING=1 / MAINPID, the watchdog's
// WATCHDOG=1 at half of WATCHDOG_USEC and none while a shard is held (stopped with ptrace,
// where the test may trace), socket activation through systemd-socket-activate (Debian's
// systemd package; skipped without it), on 1 and 4 shards; units of the notifier, the
// watchdog settings and the passed-socket rules.

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "net/service_notify.hpp"
#include "net/socket_activation.hpp"
#include "test/support/nsqd_process.hpp"
#include "test/support/socket_activate.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
namespace net = nsqd::net;
namespace bdata = boost::unit_test::data;
using steady = std::chrono::steady_clock;

namespace {

// systemd's side: an AF_UNIX datagram socket at a path (or an abstract name, "@...").
class notify_listener {
 public:
  explicit notify_listener(std::string name) : _name(std::move(name)) {
    _fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, _name.data(), _name.size());
    socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + _name.size());
    if (_name[0] == '@')
      a.sun_path[0] = '\0';
    else
      len += 1;
    if (_fd < 0 || ::bind(_fd, reinterpret_cast<sockaddr*>(&a), len) != 0)
      throw std::runtime_error("notify_listener: cannot bind " + _name);
  }
  ~notify_listener() { ::close(_fd); }
  const std::string& name() const { return _name; }

  // The next datagram within `timeout`.
  std::optional<std::string> next(milliseconds timeout = 10s) {
    pollfd p{_fd, POLLIN, 0};
    if (::poll(&p, 1, int(timeout.count())) <= 0) return std::nullopt;
    char buf[4096];
    ssize_t n = ::recv(_fd, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, std::size_t(n));
  }
  // Datagrams until one contains `text` (it is returned), within `timeout`.
  std::optional<std::string> until(const std::string& text, milliseconds timeout = 10s) {
    const auto end = steady::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<milliseconds>(end - steady::now());
      if (left.count() <= 0) return std::nullopt;
      auto d = next(left);
      if (!d) return std::nullopt;
      if (d->find(text) != std::string::npos) return d;
    }
  }
  // How many datagrams holding `text` arrive within `span`, and when.
  std::vector<steady::time_point> times_of(const std::string& text, milliseconds span) {
    std::vector<steady::time_point> out;
    const auto end = steady::now() + span;
    for (;;) {
      auto left = std::chrono::duration_cast<milliseconds>(end - steady::now());
      if (left.count() <= 0) return out;
      auto d = next(left);
      if (!d) return out;
      if (d->find(text) != std::string::npos) out.push_back(steady::now());
    }
  }

 private:
  std::string _name;
  int _fd = -1;
};

// Sets an environment variable for the nsqd started while it lives (children inherit it).
class scoped_env {
 public:
  scoped_env(const char* name, const std::string& value) : _name(name) { ::setenv(name, value.c_str(), 1); }
  ~scoped_env() { ::unsetenv(_name); }

 private:
  const char* _name;
};

// The thread id of `pid`'s thread named `name`, or -1.
pid_t thread_named(pid_t pid, const std::string& name) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return -1;
  pid_t found = -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream comm(dir + "/" + e->d_name + "/comm");
    std::string line;
    if (std::getline(comm, line) && line == name) found = pid_t(std::atoi(e->d_name));
  }
  ::closedir(d);
  return found;
}

// Starts nsqd as systemd would: NOTIFY_SOCKET, and WATCHDOG_USEC / WATCHDOG_PID when given.
void start_under_systemd(nsqd_process& nsqd, const notify_listener& systemd, const std::vector<std::string>& args,
                         const char* watchdog_usec = nullptr, const char* watchdog_pid = nullptr) {
  scoped_env socket("NOTIFY_SOCKET", systemd.name());
  std::optional<scoped_env> usec, pid;
  if (watchdog_usec) usec.emplace("WATCHDOG_USEC", watchdog_usec);
  if (watchdog_pid) pid.emplace("WATCHDOG_PID", watchdog_pid);
  nsqd.start(args);
}

const std::vector<int> shard_counts = {1, 4};

// ---- units -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(watchdog_interval_follows_sd_watchdog_enabled) {
  const pid_t self = ::getpid();
  BOOST_TEST(!net::watchdog_interval(nullptr, nullptr, self).has_value());
  BOOST_TEST(net::watchdog_interval("3000000", nullptr, self)->count() == 3000000);
  BOOST_TEST(net::watchdog_interval("3000000", std::to_string(self).c_str(), self).has_value());
  BOOST_TEST(!net::watchdog_interval("3000000", std::to_string(self + 1).c_str(), self).has_value());
  BOOST_TEST(!net::watchdog_interval("0", nullptr, self).has_value());
  BOOST_TEST(!net::watchdog_interval("-5", nullptr, self).has_value());
  BOOST_TEST(!net::watchdog_interval("12s", nullptr, self).has_value());
}

BOOST_AUTO_TEST_CASE(notifier_reaches_paths_and_abstract_names_and_ignores_the_rest) {
  temp_dir dir;
  notify_listener at_path(dir.file("notify"));
  BOOST_TEST(net::service_notifier(at_path.name()).notify("READY=1"));
  BOOST_TEST(at_path.next(1s).value_or("") == "READY=1");
  notify_listener abstract("@nsqd-test-" + std::to_string(::getpid()));
  BOOST_TEST(net::service_notifier(abstract.name()).notify("STATUS=x"));
  BOOST_TEST(abstract.next(1s).value_or("") == "STATUS=x");
  // Not run by systemd, or a value that names no socket: nothing to do, and no failure.
  BOOST_TEST(!net::service_notifier("").enabled());
  BOOST_TEST(!net::service_notifier("relative/path").enabled());
  BOOST_TEST(!net::service_notifier("").notify("READY=1"));
  // A socket that went away: the send fails at once, without waiting.
  BOOST_TEST(!net::service_notifier(dir.file("gone")).notify("READY=1"));
}

BOOST_AUTO_TEST_CASE(passed_sockets_follow_sd_listen_fds) {
  const pid_t self = ::getpid();
  const std::string me = std::to_string(self);
  BOOST_TEST(net::passed_sockets(nullptr, "2", nullptr, self).empty());
  BOOST_TEST(net::passed_sockets(std::to_string(self + 1).c_str(), "2", nullptr, self).empty());
  BOOST_TEST(net::passed_sockets(me.c_str(), "0", nullptr, self).empty());
  BOOST_TEST(net::passed_sockets(me.c_str(), "x", nullptr, self).empty());
  // Descriptors 3 and 4 are whatever this test process has open; only names are checked here.
  auto named = net::passed_sockets(me.c_str(), "2", "http:tcp", self);
  BOOST_TEST_REQUIRE(named.size() == 2u);
  BOOST_TEST(net::take_passed(named, "tcp", 0).value_or(-1) == 4);
  BOOST_TEST(net::take_passed(named, "http", 1).value_or(-1) == 3);
  BOOST_TEST(!net::take_passed(named, "https", 2).has_value());
  auto unnamed = net::passed_sockets(me.c_str(), "2", nullptr, self);
  BOOST_TEST(net::take_passed(unnamed, "tcp", 0).value_or(-1) == 3);
  BOOST_TEST(net::take_passed(unnamed, "http", 1).value_or(-1) == 4);
  auto unknown = net::passed_sockets(me.c_str(), "1", "unknown", self);  // systemd's "no name"
  BOOST_TEST(net::take_passed(unknown, "tcp", 0).value_or(-1) == 3);
  // One .socket unit with two ListenStream= lines: both named after the unit, taken in order.
  auto unit = net::passed_sockets(me.c_str(), "2", "nsqd.socket:nsqd.socket", self);
  BOOST_TEST(net::take_passed(unit, "tcp", 0).value_or(-1) == 3);
  BOOST_TEST(net::take_passed(unit, "http", 1).value_or(-1) == 4);
  // A socket named for one listener is never taken for another by position.
  auto only_http = net::passed_sockets(me.c_str(), "1", "http", self);
  BOOST_TEST(!net::take_passed(only_http, "tcp", 0).has_value());
  BOOST_TEST(net::take_passed(only_http, "http", 1).value_or(-1) == 3);
  // Not a listening socket: refused with a clear error.
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  BOOST_CHECK_THROW(net::shared_listener(fd, 2, "tcp"), net::listen_error);
  ::close(fd);
}

// ---- black box ---------------------------------------------------------------------------------

BOOST_DATA_TEST_CASE(ready_once_serving_status_and_stopping, bdata::make(shard_counts), cores) {
  nsqd_process nsqd;
  notify_listener systemd(nsqd.dir().file("notify"));
  {
    scoped_env env("NOTIFY_SOCKET", systemd.name());
    nsqd.spawn(nsqd.args_with_defaults({"--cores=" + std::to_string(cores)}));
  }
  BOOST_TEST(systemd.until("STATUS=starting: loading metadata").has_value());
  auto ready = systemd.until("READY=1");
  BOOST_TEST_REQUIRE(ready.has_value());
  // By READY=1 the listeners answer.
  BOOST_TEST(http_get(nsqd.http_port(), "/ping").body == "OK");
  BOOST_TEST(ready->find("MAINPID=" + std::to_string(nsqd.pid())) != std::string::npos, *ready);
  BOOST_TEST(ready->find("STATUS=serving: TCP " + nsqd.tcp_address() + ", HTTP " + nsqd.http_address() + ", " +
                         std::to_string(cores) + " shards") != std::string::npos,
             *ready);
  ::kill(nsqd.pid(), SIGTERM);
  auto stopping = systemd.until("STOPPING=1");
  BOOST_TEST_REQUIRE(stopping.has_value());
  BOOST_TEST(stopping->find("STATUS=stopping") != std::string::npos, *stopping);
  BOOST_TEST(systemd.until("STATUS=stopped").has_value());
  BOOST_TEST(nsqd.wait_exit().code == 0);
}

BOOST_AUTO_TEST_CASE(an_abstract_notify_socket_and_no_socket_at_all) {
  nsqd_process nsqd;
  notify_listener systemd("@nsqd-systemd-test-" + std::to_string(::getpid()));
  start_under_systemd(nsqd, systemd, {"--cores=2"});
  BOOST_TEST(systemd.until("READY=1").has_value());
  BOOST_TEST(nsqd.stop() == 0);
  // A NOTIFY_SOCKET nobody listens on does not keep nsqd from serving or stopping.
  scoped_env env("NOTIFY_SOCKET", nsqd.dir().file("nobody"));
  nsqd.start({"--cores=2"});
  BOOST_TEST(http_get(nsqd.http_port(), "/ping").body == "OK");
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_DATA_TEST_CASE(watchdog_at_half_the_interval, bdata::make(shard_counts), cores) {
  nsqd_process nsqd;
  notify_listener systemd(nsqd.dir().file("notify"));
  start_under_systemd(nsqd, systemd, {"--cores=" + std::to_string(cores)}, "400000");  // a keep-alive every 0.2 s
  BOOST_TEST(systemd.until("READY=1").has_value());
  const auto times = systemd.times_of("WATCHDOG=1", 2000ms);
  BOOST_TEST(times.size() >= 6u);   // 10 expected; a loaded machine may lose a few
  BOOST_TEST(times.size() <= 11u);  // never faster than half the interval
  for (std::size_t i = 1; i < times.size(); ++i)
    BOOST_TEST((times[i] - times[i - 1] >= 150ms), "keep-alive " << i << " came early");
  BOOST_TEST(nsqd.stop() == 0);
}

BOOST_AUTO_TEST_CASE(no_watchdog_for_another_pid_or_without_watchdog_usec) {
  nsqd_process nsqd;
  notify_listener systemd(nsqd.dir().file("notify"));
  start_under_systemd(nsqd, systemd, {"--cores=2"}, "200000", "1");  // meant for another process
  BOOST_TEST(systemd.until("READY=1").has_value());
  BOOST_TEST(systemd.times_of("WATCHDOG=1", 800ms).empty());
  BOOST_TEST(nsqd.stop() == 0);
}

// A shard that does not answer stops the keep-alives; once it runs again they resume.
BOOST_AUTO_TEST_CASE(no_watchdog_while_a_shard_is_held) {
  nsqd_process nsqd;
  notify_listener systemd(nsqd.dir().file("notify"));
  start_under_systemd(nsqd, systemd, {"--cores=4"}, "400000");
  BOOST_TEST(systemd.until("WATCHDOG=1").has_value());
  const pid_t shard = thread_named(nsqd.pid(), "shard-2");
  BOOST_TEST_REQUIRE(shard > 0);
  // Hold shard 2's thread alone (a ptrace stop; the other shards run on).
  if (::ptrace(PTRACE_SEIZE, shard, nullptr, nullptr) != 0) {
    BOOST_TEST_MESSAGE("cannot ptrace here (" << std::strerror(errno) << "): the held-shard check is not run");
    BOOST_TEST(nsqd.stop() == 0);
    return;
  }
  BOOST_TEST_REQUIRE(::ptrace(PTRACE_INTERRUPT, shard, nullptr, nullptr) == 0);
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(shard, &status, __WALL) == shard);
  systemd.times_of("WATCHDOG=1", 300ms);  // one already on its way may still come
  BOOST_TEST(systemd.times_of("WATCHDOG=1", 1500ms).empty());
  BOOST_TEST(::ptrace(PTRACE_DETACH, shard, nullptr, nullptr) == 0);
  BOOST_TEST(systemd.times_of("WATCHDOG=1", 1000ms).size() >= 2u);
  BOOST_TEST(nsqd.stop() == 0);
}

// ---- socket activation -------------------------------------------------------------------------


// nsqd under systemd-socket-activate, which listens on the TCP and HTTP ports, starts nsqd
// at the first connection and passes both sockets (named, or by position when `names` is
// empty). --tcp-address and --http-address name ports held by someone else: binding them
// would fail, so nsqd must serve the passed sockets.
struct activated_nsqd {
  nsqd_process paths;  // its temp dir, data dir and free ports (the ones passed)
  held_listener busy_tcp, busy_http;
  std::optional<child_process> process;

  activated_nsqd(int cores, const std::string& names) {
    std::vector<std::string> argv = {socket_activate, "-l", paths.tcp_address(), "-l", paths.http_address()};
    if (!names.empty()) argv.push_back("--fdname=" + names);
    argv.insert(argv.end(), {"--", nsqd_binary(), "--data-path=" + paths.data_path(), "--cores=" + std::to_string(cores),
                             "--tcp-address=127.0.0.1:" + std::to_string(busy_tcp.port()),
                             "--http-address=127.0.0.1:" + std::to_string(busy_http.port())});
    process.emplace(argv, paths.dir().file("activated.log"));
    // Listening before it starts nsqd: wait until it accepts, then the first request starts nsqd.
    const auto until = steady::now() + 5s;
    while (!port_accepts(paths.http_port()) && steady::now() < until) std::this_thread::sleep_for(20ms);
  }
  std::string output() const { return process->output(); }
};

BOOST_TEST_DECORATOR(*boost::unit_test::precondition(has_socket_activate))
BOOST_DATA_TEST_CASE(socket_activation_serves_the_passed_sockets, bdata::make(shard_counts) * bdata::make({"tcp:http", ""}),
                     cores, names) {
  BOOST_TEST_CONTEXT("cores " << cores << ", names '" << names << "'") {
    activated_nsqd nsqd(cores, names);
    const std::uint16_t tcp = nsqd.paths.tcp_port(), http = nsqd.paths.http_port();
    BOOST_TEST(http_get(http, "/ping", 10s).body == "OK");
    const auto info = http_get(http, "/info").body;
    BOOST_TEST(info.find("\"tcp_port\":" + std::to_string(tcp)) != std::string::npos, info);
    BOOST_TEST(info.find("\"http_port\":" + std::to_string(http)) != std::string::npos, info);
    // Every shard takes connections from the one socket: many clients publish, one consumes all.
    for (int i = 0; i < 16; ++i) {
      wire_client c(tcp);
      c.send_magic();
      c.send_command("PUB activated", "m" + std::to_string(i));
      BOOST_TEST(c.read_frame().data == "OK");
    }
    wire_client consumer(tcp);
    consumer.send_magic();
    consumer.send_command("SUB activated c");
    BOOST_TEST(consumer.read_frame().data == "OK");
    BOOST_TEST(http_client(http).post("/pub?topic=activated", "late").status == 200);
    consumer.send_command("RDY 100");
    int received = 0;
    for (; received < 17; ++received) {
      auto f = consumer.read_frame_within(5s);
      if (!f || !parse_message(*f)) break;
    }
    BOOST_TEST(received == 17);  // the 16 waited at the topic for its first channel
    BOOST_TEST(nsqd.output().find("TCP: listening on socket passed by systemd (" + std::to_string(cores) + " shards)") !=
                   std::string::npos,
               nsqd.output());
    BOOST_TEST(nsqd.process->stop(SIGTERM, 10s) == 0);
  }
}

// ---- the units in contrib/ ----------------------------------------------------------------------

const char* const systemd_analyze = "/usr/bin/systemd-analyze";

boost::test_tools::assertion_result has_systemd_analyze(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result ok(::access(systemd_analyze, X_OK) == 0);
  if (!ok) ok.message() << "SKIPPED: no " << systemd_analyze << " (Debian's systemd package)";
  return ok;
}

// `systemd-analyze verify` on contrib/nsqd.service and nsqd.socket, with ExecStart pointing
// at the built binary (verify checks that it exists): no error and no warning.
BOOST_AUTO_TEST_CASE(units_pass_systemd_analyze_verify, *boost::unit_test::precondition(has_systemd_analyze)) {
  temp_dir dir;
  std::string service = read_file(std::string(NSQD_SOURCE_ROOT) + "/contrib/nsqd.service");
  const std::string exec = "ExecStart=/usr/bin/nsqd ";
  const auto at = service.find(exec);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  service.replace(at, exec.size(), "ExecStart=" + std::filesystem::absolute(nsqd_binary()).string() + " ");
  write_file(dir.file("nsqd.service"), service);
  write_file(dir.file("nsqd.socket"), read_file(std::string(NSQD_SOURCE_ROOT) + "/contrib/nsqd.socket"));
  child_process verify({systemd_analyze, "verify", dir.file("nsqd.service"), dir.file("nsqd.socket")},
                       dir.file("verify.log"));
  BOOST_TEST(verify.wait_for(30s).value_or(-1) == 0, verify.output());
  BOOST_TEST(verify.output().empty(), verify.output());
  // What the unit promises is there.
  for (const char* line : {"Type=notify", "WatchdogSec=", "Restart=on-failure", "DynamicUser=yes", "StateDirectory=nsqd",
                           "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
                           "CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                           "SystemCallFilter=@system-service", "LimitNOFILE=1048576"})
    BOOST_TEST(service.find(line) != std::string::npos, line);
}

// The example config is one nsqd accepts.
BOOST_AUTO_TEST_CASE(the_example_config_starts_nsqd) {
  nsqd_process nsqd;
  nsqd.start({"--config=" + std::string(NSQD_SOURCE_ROOT) + "/contrib/nsqd.conf"});
  BOOST_TEST(http_get(nsqd.http_port(), "/config/mem_queue_size").body == "10000");
  BOOST_TEST(nsqd.stop() == 0);
}

}  // namespace
