#pragma once
// Protocol V2 on one TCP connection (SPEC B): the 4-byte magic, then commands until the
// client leaves, a fatal error, a missed read deadline or shutdown.
//
// `  V2` enters the protocol; anything else gets an E_BAD_PROTOCOL error frame and a close.
// After the magic the connection is a client (protocol/v2_client.hpp) served by two coroutines
// in one task group: the reader (protocol/v2_commands.hpp) and the writer, the only one that sends.
// When both have ended the client leaves its channel (its in-flight messages stay in flight
// until they time out) and serve_client returns; the caller owns and closes the socket.
//
// Runs on the connection's shard with that shard's broker part; options and logger come from
// broker.opts() / broker.log(). Never throws: failures are logged and end the connection.

#include "broker/broker.hpp"
#include "core/task.hpp"
#include "net/connection.hpp"
#include "protocol/v2_tls.hpp"

namespace nsqd::protocol {

// `tls.server` (null: none configured) serves the IDENTIFY tls_v1 upgrade; `tls.client`
// reaches https auth servers.
core::task<void> serve_client(net::connection& conn, broker::broker_shard& broker, v2_tls tls);

}  // namespace nsqd::protocol
