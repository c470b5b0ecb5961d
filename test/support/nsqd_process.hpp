#pragma once
// Black-box test harness: run the built nsqd (or any program) as a child process.
//
//   nsqd_process nsqd;                 // picks two free loopback ports and a fresh temp dir
//   nsqd.start({"--cores=2"});         // + --tcp-address/--http-address/--data-path, waits
//                                      //   for GET /ping -> 200 (throws with the log if not)
//   ... talk to nsqd.tcp_port() / nsqd.http_port() (see wire_client.hpp) ...
//   BOOST_TEST(nsqd.stop(SIGTERM) == 0);
//
//   auto r = nsqd.run_to_exit({"--node-id=1024"});   // expected to exit by itself
//   BOOST_TEST(r.code == 1);  BOOST_TEST(r.output.find("node-id") != std::string::npos);
//
// Exit codes everywhere: the exit status (0..255), or -N when the child died of signal N.
// Children run in their own process group and get SIGKILL if the test thread that spawned
// them dies (PR_SET_PDEATHSIG), so a crashing test leaves nothing behind; every destructor
// kills and reaps. Spawn from the test's main thread (the death signal follows the thread).
// Nothing here is thread-safe: one object, one thread.

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/tools/assertion_result.hpp>
#include <boost/test/tree/test_unit.hpp>

namespace nsqd::test {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Path of the nsqd under test: $NSQD_BINARY (set by meson test), else ../src/nsqd next to
// the running test executable (handy when running a test binary by hand). Throws if neither
// names an executable file.
std::string nsqd_binary();

// A loopback TCP port that was free a moment ago (bound, then released), below the kernel's
// ephemeral range (see nsqd_process.cpp). Not reserved: a child started on it later may find that another program (a test suite
// running beside this one, say) took it first. Launchers start such children through
// start_on_free_ports, which picks again then.
std::uint16_t free_port();

// A child exited at start-up because a TCP port it was to listen on was in use: its output
// says "listen tcp <host>:<port>: bind: address already in use" (the words of upstream's Go
// programs, and of ours). Thrown by nsqd_process::wait_ready.
class port_taken_error : public std::runtime_error {
 public:
  port_taken_error(std::uint16_t port, const std::string& what) : std::runtime_error(what), _port(port) {}
  std::uint16_t port() const { return _port; }

 private:
  std::uint16_t _port;
};

// The one way to start a child on ports from free_port(). `start` spawns it on the current
// ports and waits until it is ready (nsqd_process::start_exact). When that throws
// port_taken_error, `repick(port)` is asked: if the launcher chose that port itself, it picks
// fresh ports and returns true, and `start` runs again (at most `attempts` runs in all); it
// returns false for a port the test passed on purpose (a "port in use" test), and the error
// goes on at once.
void start_on_free_ports(const std::function<void()>& start, const std::function<bool(std::uint16_t)>& repick,
                         int attempts = 5);

// A TCP socket listening on 127.0.0.1 (port 0 = any free port), without SO_REUSEPORT, so
// that nobody else can listen on that port while it lives. For "port already in use" tests.
class held_listener {
 public:
  explicit held_listener(std::uint16_t port = 0);
  ~held_listener();
  held_listener(const held_listener&) = delete;
  held_listener& operator=(const held_listener&) = delete;

  std::uint16_t port() const { return _port; }

 private:
  int _fd = -1;
  std::uint16_t _port = 0;
};

// True if something accepts TCP connections on 127.0.0.1:port right now.
bool port_accepts(std::uint16_t port);

// A fresh directory from mkdtemp under $TMPDIR (default /tmp); removed recursively, with
// everything in it, by the destructor.
class temp_dir {
 public:
  explicit temp_dir(const std::string& prefix = "nsqd-test");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return _path; }
  // path() + "/" + name
  std::string file(const std::string& name) const;

 private:
  std::string _path;
};

// Writes `text` to `path` (truncating). Throws on failure.
void write_file(const std::string& path, const std::string& text);
// The whole file; empty if it cannot be read.
std::string read_file(const std::string& path);

// ../shared (or $NSQ_SHARED): looked for beside every ancestor of the test binary and of the
// working directory; nullopt when there is none (its fixtures are then missing).
std::optional<std::string> shared_dir();

// $NSQ_UPSTREAM_BIN: the directory of upstream's programs (nsqd, nsqlookupd, nsq_tail, ...);
// nullopt when unset or when it holds no nsqd.
std::optional<std::string> upstream_bin();

// Boost.Test preconditions: a case that needs ../shared or upstream's programs is reported
// as skipped (with the reason) where they are absent, never as failed. Use as
//   BOOST_AUTO_TEST_CASE(name, *boost::unit_test::precondition(test::needs_shared))
boost::test_tools::assertion_result needs_shared(boost::unit_test::test_unit_id);
boost::test_tools::assertion_result needs_upstream_bin(boost::unit_test::test_unit_id);

// A temp_dir with a directory fd open on it, for code that works relative to a dirfd (disk
// queues, nsqd.dat), and shorthand for the files in it.
class data_dir : public temp_dir {
 public:
  explicit data_dir(const std::string& prefix = "nsqd-data");
  ~data_dir();

  int fd() const { return _fd; }
  std::string read(const std::string& name) const { return read_file(file(name)); }
  void write(const std::string& name, const std::string& bytes) const { write_file(file(name), bytes); }
  bool exists(const std::string& name) const;

 private:
  int _fd = -1;
};

// What a process that ran to its end left behind.
struct exit_result {
  int code = 0;        // exit status, or -signal
  bool core = false;   // killed by a signal and dumped core
  std::string output;  // stdout and stderr, interleaved as written
};

// One child process: fork + exec of argv[0] (no PATH search) with stdout and stderr both
// appended to `output_path`. Owns the child until it is reaped; the destructor SIGKILLs the
// child's process group and reaps it.
class child_process {
 public:
  // Runs in the child between fork and exec. Only async-signal-safe calls (prctl, syscall,
  // write, _exit): the parent may have threads. Failing setups should write to fd 2 (already
  // the output file) and _exit(125).
  using child_setup = std::function<void()>;

  // Throws std::runtime_error if the output file cannot be opened or fork fails. An exec
  // failure shows as exit code 127 with a message in the output.
  child_process(const std::vector<std::string>& argv, const std::string& output_path,
                const child_setup& setup = {});
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return _pid; }
  bool running();  // not yet exited (reaps it if it has)
  // The exit code once the child has exited (reaped), else nullopt after `timeout`.
  std::optional<int> wait_for(milliseconds timeout);
  // Sends `sig` to the child (not its group). No effect once reaped.
  void signal(int sig);
  // SIGKILL to the child's whole process group, then reap. Returns the exit code.
  int kill();
  // `sig`, then wait up to `timeout`; if still running, kill(). Returns the exit code
  // (-SIGKILL if it had to be killed, unless it exited meanwhile).
  int stop(int sig = SIGTERM, milliseconds timeout = 5s);
  // Killed by a signal with a core dump (valid once reaped).
  bool dumped_core() const { return _core; }
  const std::string& output_path() const { return _output_path; }
  std::string output() const { return read_file(_output_path); }

 private:
  void reaped(int status);

  pid_t _pid = -1;
  std::optional<int> _code;
  bool _core = false;
  std::string _output_path;
};

// A child_setup step: installs a seccomp filter under which io_uring_setup(2) fails with
// EPERM (as container runtimes' default profiles do); everything else is allowed. Writes a
// message to fd 2 and _exit(125)s if the kernel refuses the filter.
void forbid_io_uring();

// An nsqd under test. Owns a temp dir holding `data/` (the --data-path) and `nsqd.log` (all
// output of every process started through this object), and two free loopback ports.
// At most one child at a time; after stop(), start() again restarts on the same data dir and
// ports (for persistence tests). The destructor kills the child; if the running Boost.Test
// case has failed by then (or an exception is unwinding), it prints the log's tail to stderr.
// Ports come from free_port(): free when chosen, not reserved. start() picks fresh ones when
// another program took one of its own first (see start_on_free_ports), so read the ports
// after start(); a restart on the same ports (persistence tests) may move them too.
class nsqd_process {
 public:
  // `binary` defaults to nsqd_binary().
  explicit nsqd_process(std::string binary = {});
  ~nsqd_process();
  nsqd_process(const nsqd_process&) = delete;
  nsqd_process& operator=(const nsqd_process&) = delete;

  std::uint16_t tcp_port() const { return _tcp_port; }
  std::uint16_t http_port() const { return _http_port; }
  std::uint16_t https_port() const { return _https_port; }
  const std::string& data_path() const { return _data_path; }
  const temp_dir& dir() const { return _dir; }  // for config files and the like
  std::string tcp_address() const;   // "127.0.0.1:<tcp_port>"
  std::string http_address() const;  // "127.0.0.1:<http_port>"
  std::string https_address() const;  // "127.0.0.1:<https_port>", given when `extra` has --tls-cert

  // --tcp-address=127.0.0.1:P --http-address=127.0.0.1:Q (--https-address=127.0.0.1:S when
  // `extra` has --tls-cert) --data-path=DIR, leaving out each one that `extra` already sets
  // (in any Go spelling: -x, --x, -x=v, --x v), then `extra`.
  std::vector<std::string> args_with_defaults(const std::vector<std::string>& extra) const;

  // Runs between fork and exec of every later spawn (see child_process::child_setup).
  void set_child_setup(child_process::child_setup setup) { _setup = std::move(setup); }

  // Fresh ports from free_port() for tcp_port(), http_port() and https_port(), all distinct
  // (the constructor's choice).
  void pick_ports();
  // A repick for start_on_free_ports: if `taken` is tcp_port(), http_port() or https_port(),
  // pick_ports() and true; else false.
  bool pick_ports_if_own(std::uint16_t taken);

  // Spawns nsqd with args_with_defaults(extra), then wait_ready() on the port of the final
  // --http-address (http_port() unless `extra` sets its own). If another program took one of
  // the ports filled in here (not one `extra` sets), starts again on fresh ones.
  void start(const std::vector<std::string>& extra = {});
  // Spawns nsqd with exactly `args`, then wait_ready(ping_port).
  void start_exact(const std::vector<std::string>& args, std::uint16_t ping_port);
  // Spawns nsqd with exactly `args`; does not wait for anything.
  void spawn(const std::vector<std::string>& args);
  // Polls GET /ping on 127.0.0.1:ping_port until 200 (or the 403 TLS_REQUIRED of
  // --tls-required=true, which refuses plain HTTP) from a listener of the child's own (not
  // from another program that holds the port). Throws std::runtime_error (with the exit code
  // and the log) as soon as the child exits, port_taken_error if it exited because a port was
  // in use, or after `timeout`.
  void wait_ready(std::uint16_t ping_port, milliseconds timeout = 15s);

  bool running();
  pid_t pid() const;  // -1 without a child
  // Signal, wait, SIGKILL after `timeout`: see child_process::stop. Returns the exit code.
  int stop(int sig = SIGTERM, milliseconds timeout = 5s);
  int kill();  // SIGKILL + reap; returns the exit code (-1 without a child)
  // Waits for the child to exit by itself; SIGKILL after `timeout`.
  exit_result wait_exit(milliseconds timeout = 10s);
  // Output of the current (or last) child only. log_path() holds every child's output, each
  // after a "---- exec: <argv>" line.
  std::string output() const;
  const std::string& log_path() const { return _log_path; }

  // For processes expected to exit by themselves (bad flags, --version, start-up errors):
  // args_with_defaults(extra), resp. exactly `args`; killed (code -SIGKILL) after `timeout`.
  exit_result run_to_exit(const std::vector<std::string>& extra, milliseconds timeout = 10s);
  exit_result run_exact(const std::vector<std::string>& args, milliseconds timeout = 10s);

 private:
  std::string _binary;
  temp_dir _dir;
  std::string _data_path;
  std::string _log_path;
  std::uint16_t _tcp_port = 0;
  std::uint16_t _http_port = 0;
  std::uint16_t _https_port = 0;
  child_process::child_setup _setup;
  std::optional<child_process> _child;
  std::size_t _output_offset = 0;  // where the current child's output starts in the log
};

}  // namespace nsqd::test
