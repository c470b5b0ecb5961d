#include "net/protocol_v2.hpp"

#include <string>

#include "net/command.hpp"
#include "net/frame.hpp"

namespace nsqd::net {

namespace {

constexpr std::string_view magic_v2 = "  V2";

// Sends one error frame; the caller closes the connection after it (every error here is fatal).
core::task<void> send_fatal(connection& conn, std::string_view code, std::string_view text) {
  append_error_frame(conn.out(), code, text);
  co_await conn.flush();
}

core::task<void> serve_v2(connection& conn, const core::logger& log) {
  for (;;) {
    auto line = co_await conn.read_line(max_line_length);
    if (!line) {
      if (conn.line_too_long())
        log.error("[", conn.remote_address(), "] command line too long, closing");
      co_return;
    }
    command_line cmd = command_line::parse(*line);
    switch (cmd.kind()) {
      case command_kind::nop:
        conn.consume(line->size() + 1);
        continue;
      default: {
        std::string text = "invalid command ";
        text.append(cmd.name());
        log.error("[", conn.remote_address(), "] - E_INVALID ", text);
        co_await send_fatal(conn, "E_INVALID", text);
        co_return;
      }
    }
  }
}

}  // namespace

core::task<void> serve_client(connection& conn, broker::broker_shard& broker) {
  const broker::options& opts = broker.opts();
  const core::logger& log = broker.log();
  conn.set_read_timeout(opts.client_timeout);
  if (!co_await conn.fill(magic_v2.size())) co_return;
  std::string_view magic = conn.buffered().substr(0, magic_v2.size());
  if (magic != magic_v2) {
    log.error("client(", conn.remote_address(), ") bad protocol magic '", magic, "'");
    append_error_frame(conn.out(), "E_BAD_PROTOCOL");
    co_await conn.flush();
    co_return;
  }
  conn.consume(magic_v2.size());
  co_await serve_v2(conn, log);
}

}  // namespace nsqd::net
