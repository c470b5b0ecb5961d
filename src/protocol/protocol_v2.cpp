#include "protocol/protocol_v2.hpp"

#include <exception>
#include <string_view>

#include "core/task_group.hpp"
#include "protocol/frame.hpp"
#include "protocol/v2_client.hpp"
#include "protocol/v2_commands.hpp"

namespace nsqd::protocol {

namespace {

constexpr std::string_view magic_v2 = "  V2";

core::task<void> serve_v2(net::connection& conn, broker::broker_shard& broker, v2_tls tls) {
  core::task_group group{co_await core::this_context()};
  client c(conn, broker, group, tls);
  group.spawn(c.write_loop());
  group.spawn(read_loop(c));
  try {
    co_await group.join();
  } catch (const std::exception& e) {
    broker.log().error("PROTOCOL(V2): [", conn.remote_address(), "] closing - ", e.what());
  } catch (...) {
    broker.log().error("PROTOCOL(V2): [", conn.remote_address(), "] closing - unknown error");
  }
  c.leave();
}

}  // namespace

core::task<void> serve_client(net::connection& conn, broker::broker_shard& broker, v2_tls tls) {
  const core::logger& log = broker.log();
  conn.set_read_timeout(broker.opts().client_timeout);
  bool got_magic = co_await conn.fill(magic_v2.size());
  if (!got_magic) co_return;
  std::string_view magic = conn.buffered().substr(0, magic_v2.size());
  if (magic != magic_v2) {
    log.error("client(", conn.remote_address(), ") bad protocol magic '", magic, "'");
    append_error_frame(conn.out(), "E_BAD_PROTOCOL");
    co_await conn.flush();
    co_return;
  }
  conn.consume(magic_v2.size());
  co_await serve_v2(conn, broker, tls);
  log.info("PROTOCOL(V2): [", conn.remote_address(), "] exiting ioloop");
}

}  // namespace nsqd::protocol
