#pragma once
// TCP side of one shard: accepts on the shard's own SO_REUSEPORT listener and runs one
// protocol coroutine per client, all in the shard's task group. Cancelling the caller stops
// accepting and ends every connection (their reads are cancelled, their sockets closed).

#include "broker/broker.hpp"
#include "core/task.hpp"
#include "protocol/v2_tls.hpp"

namespace nsqd::protocol {

// Runs until cancelled; listener_fd stays owned by the caller. Clients use this shard's broker
// and `tls`'s contexts.
core::task<void> serve_tcp(int listener_fd, broker::broker_shard& broker, v2_tls tls);

}  // namespace nsqd::protocol
