#include "test/support/fake_lookupd.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "test/support/wire_client.hpp"

namespace nsqd::test {

namespace {

// Reads until `out` holds `n` bytes; false on EOF, error or `stop`.
bool read_n(int fd, std::string& out, std::size_t n, const std::atomic<bool>& stop) {
  char buf[4096];
  while (out.size() < n) {
    if (stop) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) return false;
    out.append(buf, std::size_t(got));
  }
  return true;
}

// Reads one '\n'-ended line (without it), byte by byte (nothing read past it).
bool read_line(int fd, std::string& line, const std::atomic<bool>& stop) {
  line.clear();
  for (;;) {
    std::string ch;
    if (!read_n(fd, ch, 1, stop)) return false;
    if (ch[0] == '\n') return true;
    line += ch[0];
  }
}

void send_frame(int fd, const std::string& data) {
  std::string out = be32(std::uint32_t(data.size())) + data;
  ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= line.size()) {
    std::size_t sp = line.find(' ', at);
    if (sp == std::string::npos) sp = line.size();
    if (sp > at) out.push_back(line.substr(at, sp - at));
    at = sp + 1;
  }
  return out;
}

}  // namespace

fake_lookupd::fake_lookupd(std::uint16_t http_port) : _http_port(http_port) {
  _listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (_listen_fd < 0 || ::bind(_listen_fd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      ::listen(_listen_fd, 64) != 0 || ::getsockname(_listen_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("fake_lookupd: cannot listen");
  _port = ntohs(a.sin_port);
  _acceptor = std::thread([this] { accept_loop(); });
}

fake_lookupd::~fake_lookupd() {
  _stop = true;
  _acceptor.join();
  for (std::thread& t : _workers) t.join();
  for (int fd : _fds)
    if (fd >= 0) ::close(fd);
  ::close(_listen_fd);
}

void fake_lookupd::accept_loop() {
  while (!_stop) {
    pollfd p{_listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::size_t index;
    {
      std::lock_guard lock(_mutex);
      index = _peers.size();
      _peers.emplace_back();
      _fds.push_back(fd);
    }
    _workers.emplace_back([this, fd, index] { serve(fd, index); });
  }
}

void fake_lookupd::serve(int fd, std::size_t index) {
  auto closed = [&] {
    std::lock_guard lock(_mutex);
    _peers[index].open = false;
    _peers[index].registered.clear();
  };
  std::string magic;
  if (!read_n(fd, magic, 4, _stop) || magic != "  V1") return closed();
  std::string line;
  while (read_line(fd, line, _stop)) {
    std::vector<std::string> w = words(line);
    if (w.empty()) continue;
    const mode m = _mode;
    if (w[0] == "IDENTIFY") {
      std::string size, body;
      if (!read_n(fd, size, 4, _stop)) break;
      if (!read_n(fd, body, load_be(size, 0, 4), _stop)) break;
      {
        std::lock_guard lock(_mutex);
        _peers[index].identify = body;
      }
      if (m == mode::garbage) {
        send_frame(fd, "this is not json");
      } else if (m == mode::e_invalid) {
        send_frame(fd, "E_INVALID");
      } else if (m == mode::huge_size) {
        std::string out = be32(0x7fffffff);
        ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      } else if (m == mode::truncated) {
        std::string out = be32(100) + "0123456789";
        ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        break;
      } else if (m != mode::stall) {
        send_frame(fd, R"({"tcp_port":)" + std::to_string(_port) + R"(,"http_port":)" + std::to_string(_http_port) +
                           R"(,"version":"1.3.0","broadcast_address":"127.0.0.1","hostname":"fake"})");
      }
      continue;
    }
    {
      std::lock_guard lock(_mutex);
      peer& p = _peers[index];
      p.commands.push_back(line);
      if (w[0] == "REGISTER" && w.size() >= 2) {
        p.registered.insert(w[1]);
        if (w.size() >= 3) p.registered.insert(w[1] + ":" + w[2]);
      } else if (w[0] == "UNREGISTER" && w.size() == 3) {
        p.registered.erase(w[1] + ":" + w[2]);
      } else if (w[0] == "UNREGISTER" && w.size() == 2) {
        p.registered.erase(w[1]);
        for (auto it = p.registered.begin(); it != p.registered.end();)
          it = it->rfind(w[1] + ":", 0) == 0 ? p.registered.erase(it) : std::next(it);
      }
    }
    if (m == mode::error_on_register && w[0] == "REGISTER") {
      send_frame(fd, "E_BAD_TOPIC REGISTER topic name is not valid");
      break;
    }
    send_frame(fd, "OK");
  }
  closed();
  std::lock_guard lock(_mutex);
  if (_fds[index] >= 0) ::shutdown(_fds[index], SHUT_RDWR);
}

std::vector<fake_lookupd::peer> fake_lookupd::peers() const {
  std::lock_guard lock(_mutex);
  return _peers;
}

std::set<std::string> fake_lookupd::registrations() const {
  std::lock_guard lock(_mutex);
  std::set<std::string> out;
  for (const peer& p : _peers)
    if (p.open) out.insert(p.registered.begin(), p.registered.end());
  return out;
}

std::size_t fake_lookupd::count(const std::string& line) const {
  std::lock_guard lock(_mutex);
  std::size_t n = 0;
  for (const peer& p : _peers)
    for (const std::string& c : p.commands) n += c == line;
  return n;
}

void fake_lookupd::drop_connections() {
  std::lock_guard lock(_mutex);
  for (int fd : _fds)
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

bool fake_lookupd::wait_for(const std::function<bool()>& condition, milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace nsqd::test
