#include "test/support/nsqd_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "test/support/wire_client.hpp"

namespace nsqd::test {

namespace {

using clock = std::chrono::steady_clock;

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

// Flag name of a Go-style argument ("--a-b=v", "-a-b" -> "a-b"); empty for values.
std::string_view flag_name(std::string_view arg) {
  if (!arg.starts_with('-') || arg == "-" || arg == "--") return {};
  arg.remove_prefix(arg.starts_with("--") ? 2 : 1);
  return arg.substr(0, arg.find('='));
}

// Value of flag `name` in `args` ("--name=v" or "--name v"); the last one wins, like Go.
std::optional<std::string> flag_value(const std::vector<std::string>& args, std::string_view name) {
  std::optional<std::string> value;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (flag_name(args[i]) != name) continue;
    auto eq = args[i].find('=');
    if (eq != std::string::npos) value = args[i].substr(eq + 1);
    else if (i + 1 < args.size()) value = args[i + 1];
  }
  return value;
}

// `args` sets flag `name` (in any Go spelling: -x, --x, -x=v, --x v).
bool sets_flag(const std::vector<std::string>& args, std::string_view name) {
  for (const auto& a : args)
    if (flag_name(a) == name) return true;
  return false;
}

std::string join(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

void append_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::app | std::ios::binary);
  f << text;
}

std::uintmax_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// The running Boost.Test case has failed so far (false outside a test case).
bool current_test_failed() {
  namespace ut = boost::unit_test;
  try {
    return !ut::results_collector.results(ut::framework::current_test_case().p_id).passed();
  } catch (...) {
    return false;
  }
}

void write_all(int fd, const char* s) { (void)!::write(fd, s, std::strlen(s)); }

// The port of a failed TCP listen in a child's output: "listen tcp 127.0.0.1:4150: bind:
// address already in use", as upstream's Go programs and our nsqd say it.
std::optional<std::uint16_t> port_in_use(const std::string& output) {
  static const std::regex in_use(R"(listen tcp \S*:([0-9]+): bind: address already in use)");
  std::smatch m;
  if (!std::regex_search(output, m, in_use)) return std::nullopt;
  return std::uint16_t(std::stoul(m[1]));
}

// Process `pid` holds a TCP socket listening on `port` (on any local address): found by the
// socket inodes of the listeners in /proc/net/tcp{,6} among the links in /proc/<pid>/fd. A
// ping answered on a port the child was to take proves nothing when another program took
// the port first: that one may answer while the child is still failing to bind.
bool listens_on(pid_t pid, std::uint16_t port) {
  char port_hex[8];
  std::snprintf(port_hex, sizeof port_hex, ":%04X", unsigned(port));
  std::set<std::string> sockets;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream lines(read_file(table));
    std::string line;
    std::getline(lines, line);  // the heading
    while (std::getline(lines, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
      std::istringstream f(line);
      std::string sl, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      f >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      if (state == "0A" && local.ends_with(port_hex)) sockets.insert("socket:[" + inode + "]");  // 0A: LISTEN
    }
  }
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code link_ec;
    auto target = std::filesystem::read_symlink(fd.path(), link_ec);
    if (!link_ec && sockets.count(target.string())) return true;
  }
  return false;
}

}  // namespace

std::string nsqd_binary() {
  if (const char* env = std::getenv("NSQD_BINARY"); env && *env) {
    if (::access(env, X_OK) != 0) throw sys_error(std::string("NSQD_BINARY=") + env);
    return env;
  }
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto guess = (self.parent_path() / ".." / "src" / "nsqd").lexically_normal();
    if (::access(guess.c_str(), X_OK) == 0) return guess.string();
  }
  throw std::runtime_error("nsqd binary not found: set NSQD_BINARY (meson test does)");
}

// Picked at random below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768
// and up by default), which every connect() and bind(0) on the machine draws from: a suite
// that opens thousands of connections beside ours would otherwise take, for its clients'
// ends, ports we picked before our child binds them. bind(0) only where that range leaves
// too little room below it.
std::uint16_t free_port() {
  constexpr int lowest = 10000;
  static std::mt19937 random(std::random_device{}());
  int ephemeral_low = 0;
  std::istringstream(read_file("/proc/sys/net/ipv4/ip_local_port_range")) >> ephemeral_low;
  if (ephemeral_low > lowest + 1000) {
    std::uniform_int_distribution<int> pick(lowest, ephemeral_low - 1);
    for (int attempt = 0; attempt < 100; ++attempt) {
      try {
        held_listener probe(std::uint16_t(pick(random)));
        return probe.port();
      } catch (const std::runtime_error&) {  // in use: another one
      }
    }
  }
  held_listener probe;
  return probe.port();
}

// Why: a port from free_port() is free when chosen, yet the child binds it only later; any
// other program may bind it in between (the ASan suites of tools/test.sh run in two lanes at
// once, each starting daemons on such ports). Reserving the port is impossible for upstream's
// programs, so the launcher notices the loss and starts again on fresh ports.
void start_on_free_ports(const std::function<void()>& start, const std::function<bool(std::uint16_t)>& repick,
                         int attempts) {
  for (int attempt = 1;; ++attempt) {
    try {
      start();
      return;
    } catch (const port_taken_error& e) {
      if (attempt >= attempts || !repick(e.port())) throw;
      std::cerr << "start_on_free_ports: port " << e.port() << " was taken by another program before the child"
                << " bound it; starting again on fresh ports (attempt " << attempt + 1 << " of " << attempts
                << ")\n";
    }
  }
}

held_listener::held_listener(std::uint16_t port) {
  _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (_fd < 0) throw sys_error("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(_fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(_fd, 64) != 0 ||
      ::getsockname(_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    auto e = sys_error("listen on 127.0.0.1:" + std::to_string(port));
    ::close(_fd);
    throw e;
  }
  _port = ntohs(addr.sin_port);
}

held_listener::~held_listener() { ::close(_fd); }

bool port_accepts(std::uint16_t port) {
  try {
    wire_client probe(port, 1s);
    return true;
  } catch (const wire_error&) {
    return false;
  }
}

temp_dir::temp_dir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw sys_error("mkdtemp " + pattern);
  _path = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(_path, ec);
}

std::string temp_dir::file(const std::string& name) const { return _path + "/" + name; }

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc | std::ios::binary);
  f << text;
  f.close();
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::optional<std::string> shared_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("NSQ_SHARED"); env && *env) return std::string(env);
  std::vector<fs::path> starts;
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) starts.push_back(self.parent_path());
  starts.push_back(fs::current_path(ec));
  for (fs::path p : starts) {
    for (; !p.empty(); p = p.parent_path()) {
      if (fs::exists(p / "shared" / "fixtures" / "upstream-data" / "expected.json", ec)) return (p / "shared").string();
      if (p == p.parent_path()) break;
    }
  }
  return std::nullopt;
}

std::optional<std::string> upstream_bin() {
  const char* env = std::getenv("NSQ_UPSTREAM_BIN");
  if (!env || !*env) return std::nullopt;
  std::string dir(env);
  if (::access((dir + "/nsqd").c_str(), X_OK) != 0) return std::nullopt;
  return dir;
}

boost::test_tools::assertion_result needs_shared(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result ok(shared_dir().has_value());
  if (!ok) ok.message() << "SKIPPED: ../shared not found (set NSQ_SHARED)";
  return ok;
}

boost::test_tools::assertion_result needs_upstream_bin(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result ok(upstream_bin().has_value());
  if (!ok) ok.message() << "SKIPPED: upstream programs not found (set NSQ_UPSTREAM_BIN)";
  return ok;
}

data_dir::data_dir(const std::string& prefix) : temp_dir(prefix) {
  _fd = ::open(path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (_fd < 0) throw std::runtime_error("cannot open " + path());
}

data_dir::~data_dir() { ::close(_fd); }

bool data_dir::exists(const std::string& name) const { return ::access(file(name).c_str(), F_OK) == 0; }

// ---- child_process -------------------------------------------------------------------------

child_process::child_process(const std::vector<std::string>& argv, const std::string& output_path,
                             const child_setup& setup)
    : _output_path(output_path) {
  if (argv.empty()) throw std::invalid_argument("child_process: empty argv");
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int out = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) throw sys_error("open " + output_path);
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    auto e = sys_error("open /dev/null");
    ::close(out);
    throw e;
  }
  pid_t parent = ::getpid();

  _pid = ::fork();
  if (_pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the parent died before prctl took effect
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);  // no leaked test sockets
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD, SIGHUP}) ::signal(sig, SIG_DFL);
    if (setup) setup();
    ::execv(cargv[0], cargv.data());
    write_all(2, "child_process: exec failed: ");
    write_all(2, cargv[0]);
    write_all(2, "\n");
    ::_exit(127);
  }
  int fork_errno = errno;
  ::close(in);
  ::close(out);
  if (_pid < 0) {
    errno = fork_errno;
    throw sys_error("fork");
  }
}

child_process::~child_process() {
  try {
    if (_pid > 0 && !_code) kill();
  } catch (const std::exception& e) {
    std::cerr << "child_process: " << e.what() << "\n";
  }
}

void child_process::reaped(int status) {
  if (WIFEXITED(status)) {
    _code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    _code = -WTERMSIG(status);
    _core = WCOREDUMP(status);
  } else {
    _code = -1;
  }
}

bool child_process::running() { return !wait_for(0ms).has_value(); }

std::optional<int> child_process::wait_for(milliseconds timeout) {
  if (_code) return _code;
  auto deadline = clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(_pid, &status, WNOHANG);
    if (r == _pid) {
      reaped(status);
      return _code;
    }
    if (r < 0 && errno != EINTR) throw sys_error("waitpid " + std::to_string(_pid));
    auto now = clock::now();
    if (now >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::min<clock::duration>(1ms, deadline - now));
  }
}

void child_process::signal(int sig) {
  if (!_code) ::kill(_pid, sig);
}

int child_process::kill() {
  if (_code) return *_code;
  ::kill(-_pid, SIGKILL);
  ::kill(_pid, SIGKILL);
  int status = 0;
  while (::waitpid(_pid, &status, 0) < 0) {
    if (errno != EINTR) throw sys_error("waitpid " + std::to_string(_pid));
  }
  reaped(status);
  return *_code;
}

int child_process::stop(int sig, milliseconds timeout) {
  signal(sig);
  if (auto code = wait_for(timeout)) return *code;
  return kill();
}

void forbid_io_uring() {
#if defined(__x86_64__)
  constexpr std::uint32_t arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
  constexpr std::uint32_t arch = AUDIT_ARCH_AARCH64;
#else
#error "forbid_io_uring: unknown architecture"
#endif
  sock_filter code[] = {
      // Another ABI's syscall numbers mean something else: let those through.
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    write_all(2, "forbid_io_uring: cannot install the seccomp filter\n");
    ::_exit(125);
  }
}

// ---- nsqd_process --------------------------------------------------------------------------

nsqd_process::nsqd_process(std::string binary)
    : _binary(binary.empty() ? nsqd_binary() : std::move(binary)),
      _dir("nsqd-bb"),
      _data_path(_dir.file("data")),
      _log_path(_dir.file("nsqd.log")) {
  if (::mkdir(_data_path.c_str(), 0755) != 0) throw sys_error("mkdir " + _data_path);
  pick_ports();
}

bool nsqd_process::pick_ports_if_own(std::uint16_t taken) {
  if (taken != _tcp_port && taken != _http_port && taken != _https_port) return false;
  pick_ports();
  return true;
}

void nsqd_process::pick_ports() {
  _tcp_port = free_port();
  do {
    _http_port = free_port();
  } while (_http_port == _tcp_port);
  do {
    _https_port = free_port();
  } while (_https_port == _tcp_port || _https_port == _http_port);
}

nsqd_process::~nsqd_process() {
  if (_child && (std::uncaught_exceptions() > 0 || current_test_failed())) {
    std::string log = read_file(_log_path);
    constexpr std::size_t tail = 8192;
    if (log.size() > tail) log = "...\n" + log.substr(log.size() - tail);
    const std::string program = std::filesystem::path(_binary).filename().string();
    std::cerr << "==== " << program << " log (" << _log_path << ") ====\n"
              << log << "==== end of " << program << " log ====\n";
  }
  _child.reset();  // kills and reaps before the temp dir goes
}

std::string nsqd_process::tcp_address() const { return "127.0.0.1:" + std::to_string(_tcp_port); }
std::string nsqd_process::http_address() const { return "127.0.0.1:" + std::to_string(_http_port); }
std::string nsqd_process::https_address() const { return "127.0.0.1:" + std::to_string(_https_port); }

std::vector<std::string> nsqd_process::args_with_defaults(const std::vector<std::string>& extra) const {
  auto sets = [&extra](std::string_view name) { return sets_flag(extra, name); };
  std::vector<std::string> args;
  if (!sets("tcp-address")) args.push_back("--tcp-address=" + tcp_address());
  if (!sets("http-address")) args.push_back("--http-address=" + http_address());
  // With a certificate nsqd opens HTTPS, by default on 0.0.0.0:4152: a port of its own here.
  if (sets("tls-cert") && !sets("https-address")) args.push_back("--https-address=" + https_address());
  if (!sets("data-path")) args.push_back("--data-path=" + _data_path);
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

void nsqd_process::spawn(const std::vector<std::string>& args) {
  if (_child && _child->running()) throw std::logic_error("nsqd_process: a child is still running");
  _child.reset();
  append_file(_log_path, "---- exec: " + _binary + " " + join(args) + "\n");
  _output_offset = file_size_or_zero(_log_path);
  std::vector<std::string> argv{_binary};
  argv.insert(argv.end(), args.begin(), args.end());
  _child.emplace(argv, _log_path, _setup);
}

void nsqd_process::start(const std::vector<std::string>& extra) {
  auto once = [&] {
    auto args = args_with_defaults(extra);
    std::string http = flag_value(args, "http-address").value_or("");
    auto colon = http.rfind(':');
    if (colon == std::string::npos || colon + 1 == http.size())
      throw std::logic_error("nsqd_process::start: no HTTP port to ping in '" + http +
                             "'; use spawn() or start_exact()");
    start_exact(args, std::uint16_t(std::stoul(http.substr(colon + 1))));
  };
  // Only the ports args_with_defaults filled in are ours to change; one that `extra` sets is
  // the test's, perhaps taken on purpose.
  auto repick = [&](std::uint16_t taken) {
    const bool explicit_port = (taken == _tcp_port && sets_flag(extra, "tcp-address")) ||
                               (taken == _http_port && sets_flag(extra, "http-address")) ||
                               (taken == _https_port && sets_flag(extra, "https-address"));
    return !explicit_port && pick_ports_if_own(taken);
  };
  start_on_free_ports(once, repick);
}

void nsqd_process::start_exact(const std::vector<std::string>& args, std::uint16_t ping_port) {
  spawn(args);
  wait_ready(ping_port);
}

void nsqd_process::wait_ready(std::uint16_t ping_port, milliseconds timeout) {
  if (!_child) throw std::logic_error("nsqd_process::wait_ready: nothing started");
  auto deadline = clock::now() + timeout;
  std::string last = "no answer";
  for (;;) {
    if (auto code = _child->wait_for(0ms)) {
      const std::string out = output();
      const std::string what =
          "nsqd exited (code " + std::to_string(*code) + ") before answering GET /ping; its output:\n" + out;
      if (auto port = port_in_use(out)) throw port_taken_error(*port, what);
      throw std::runtime_error(what);
    }
    try {
      auto r = http_get(ping_port, "/ping", 1s);
      // --tls-required=true: plain HTTP refuses every request, /ping included, once serving.
      const bool ready =
          r.status == 200 || (r.status == 403 && r.body.find(R"("message": "TLS_REQUIRED")") != std::string::npos);
      if (ready && listens_on(_child->pid(), ping_port)) return;
      last = ready ? "answered by another program, not the child" :
                     "status " + std::to_string(r.status) + " body '" + r.body + "'";
    } catch (const wire_error& e) {
      last = e.what();
    }
    if (clock::now() >= deadline) {
      throw std::runtime_error("nsqd did not answer GET /ping on port " + std::to_string(ping_port) +
                               " within " + std::to_string(timeout.count()) + " ms (last: " + last +
                               "); its output:\n" + output());
    }
    std::this_thread::sleep_for(20ms);
  }
}

bool nsqd_process::running() { return _child && _child->running(); }

pid_t nsqd_process::pid() const { return _child ? _child->pid() : -1; }

int nsqd_process::stop(int sig, milliseconds timeout) {
  if (!_child) throw std::logic_error("nsqd_process::stop: nothing started");
  return _child->stop(sig, timeout);
}

int nsqd_process::kill() { return _child ? _child->kill() : -1; }

exit_result nsqd_process::wait_exit(milliseconds timeout) {
  if (!_child) throw std::logic_error("nsqd_process::wait_exit: nothing started");
  exit_result r;
  auto code = _child->wait_for(timeout);
  r.code = code ? *code : _child->kill();
  r.core = _child->dumped_core();
  r.output = output();
  return r;
}

std::string nsqd_process::output() const {
  std::string log = read_file(_log_path);
  return _output_offset < log.size() ? log.substr(_output_offset) : std::string();
}

exit_result nsqd_process::run_to_exit(const std::vector<std::string>& extra, milliseconds timeout) {
  return run_exact(args_with_defaults(extra), timeout);
}

exit_result nsqd_process::run_exact(const std::vector<std::string>& args, milliseconds timeout) {
  spawn(args);
  return wait_exit(timeout);
}

}  // namespace nsqd::test
