#include "protocol/tcp_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "net/accept_loop.hpp"
#include "net/connection.hpp"
#include "protocol/protocol_v2.hpp"

namespace nsqd::protocol {

namespace {

core::task<void> client(int fd, broker::broker_shard* broker, v2_tls tls) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  net::connection conn{net::unique_fd(fd)};
  broker->log().debug("TCP: new client(", conn.remote_address(), ")");
  co_await serve_client(conn, *broker, tls);
  broker->log().debug("PROTOCOL: [", conn.remote_address(), "] exiting");
}

}  // namespace

core::task<void> serve_tcp(int listener_fd, broker::broker_shard& broker, v2_tls tls) {
  co_await net::accept_loop(listener_fd, broker.log(), "TCP", [&](int fd) { return client(fd, &broker, tls); });
}

}  // namespace nsqd::protocol
