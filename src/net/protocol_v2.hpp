#pragma once
// Protocol V2 on one TCP connection (SPEC B): the 4-byte magic, then commands until the
// client leaves or a fatal error closes the connection.
//
// Foundation state: the magic (`  V2` enters the protocol, anything else gets an
// E_BAD_PROTOCOL error frame and a close), line framing (16 KiB limit, close without a frame
// past it), NOP, and `E_INVALID invalid command X` (fatal) for every other command. The
// protocol issue fills in the commands.

#include "broker/broker.hpp"
#include "core/task.hpp"
#include "net/connection.hpp"

namespace nsqd::net {

core::task<void> serve_client(connection& conn, broker::broker_shard& broker);

}  // namespace nsqd::net
