#include "net/tcp_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "net/accept_loop.hpp"
#include "net/connection.hpp"
#include "net/protocol_v2.hpp"

namespace nsqd::net {

namespace {

core::task<void> client(int fd, const broker::options* opts, const core::logger* log) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  connection conn{unique_fd(fd)};
  log->debug("TCP: new client(", conn.remote_address(), ")");
  co_await serve_client(conn, *opts, *log);
  log->debug("PROTOCOL: [", conn.remote_address(), "] exiting");
}

}  // namespace

core::task<void> serve_tcp(int listener_fd, const broker::options& opts, const core::logger& log) {
  co_await accept_loop(listener_fd, log, "TCP", [&](int fd) { return client(fd, &opts, &log); });
}

}  // namespace nsqd::net
