#include "net/socket_activation.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "go/go_syntax.hpp"

namespace nsqd::net {

namespace {

constexpr int first_passed_fd = 3;  // SD_LISTEN_FDS_START

bool parse_number(const char* text, std::int64_t& out) {
  return text && go::parse_int(text, 10, out) == go::num_error::none;
}

}  // namespace

std::vector<passed_socket> passed_sockets(const char* listen_pid, const char* listen_fds, const char* listen_fdnames,
                                          pid_t self) {
  std::int64_t pid = 0, count = 0;
  if (!parse_number(listen_pid, pid) || pid != self) return {};
  if (!parse_number(listen_fds, count) || count <= 0 || count > 1024) return {};
  std::vector<std::string> names;
  if (listen_fdnames) {
    std::string_view all(listen_fdnames);
    for (;;) {
      const auto colon = all.find(':');
      names.emplace_back(all.substr(0, colon));
      if (colon == std::string_view::npos) break;
      all.remove_prefix(colon + 1);
    }
  }
  std::vector<passed_socket> out;
  for (int i = 0; i < int(count); ++i) {
    const int fd = first_passed_fd + i;
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    std::string name = std::size_t(i) < names.size() ? names[std::size_t(i)] : "";
    out.push_back({std::move(name), fd});
  }
  return out;
}

std::optional<int> take_passed(const std::vector<passed_socket>& passed, std::string_view name, std::size_t position) {
  for (const passed_socket& p : passed)
    if (p.name == name) return p.fd;
  if (position >= passed.size()) return std::nullopt;
  const std::string& at = passed[position].name;
  if (at == "tcp" || at == "http" || at == "https") return std::nullopt;  // named for another listener
  return passed[position].fd;
}

std::vector<unique_fd> shared_listener(int fd, unsigned count, std::string_view name) {
  int listening = 0, type = 0;
  socklen_t len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening ||
      (len = sizeof type, ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) || type != SOCK_STREAM)
    throw listen_error("socket " + std::string(name) + " (fd " + std::to_string(fd) +
                       ") passed by the service manager is not a listening stream socket");
  std::vector<unique_fd> out;
  out.emplace_back(fd);
  for (unsigned i = 1; i < count; ++i) {
    unique_fd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!copy) throw listen_error("dup of passed socket " + std::string(name) + ": " + std::strerror(errno));
    out.push_back(std::move(copy));
  }
  return out;
}

}  // namespace nsqd::net
