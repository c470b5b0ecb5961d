#pragma once
// HTTP side of one shard: accepts on the shard's own SO_REUSEPORT listener; one coroutine per
// connection reads requests with the Beast codec (http_codec.hpp) over our own io_uring
// reads, answers them in order (keep-alive and pipelining) and closes when the request asks
// to or the client stalls. Cancelling the caller stops accepting and ends every connection.
//
// Foundation state: `GET /ping` answers `OK`; every other path gets upstream's 404
// `{"message":"NOT_FOUND"}`. The HTTP API issue fills in the endpoints.

#include "broker/options.hpp"
#include "core/log.hpp"
#include "core/task.hpp"

namespace nsqd::net {

// Runs until cancelled; listener_fd stays owned by the caller.
core::task<void> serve_http(int listener_fd, const broker::options& opts, const core::logger& log);

}  // namespace nsqd::net
