#pragma once
// HTTP side of one shard: accepts on the shard's own SO_REUSEPORT listener and serves each
// connection with one coroutine: requests are parsed by the Beast codec (http_codec.hpp) from
// our own io_uring reads and answered in order by the shard's http_api (http_api.hpp).
//
// A connection, as Go's net/http serves nsqd:
//   - keep-alive and pipelining: requests already received are answered in order, and the
//     answers are sent together before the loop waits for more input;
//   - each request's body is bounded at its head by its endpoint (http_api::body_limit): a
//     declared Content-Length over it, or a chunked body growing past it, gets the endpoint's
//     413 and the connection closes; "Expect: 100-continue" gets "100 Continue" first;
//   - malformed input gets Go's canned answer (400, 431, 501, 505...) and a close;
//   - a client that stalls is dropped after the client timeout (60 s): no byte of a body for
//     that long, a request head not complete within it, or answers it does not read. A
//     kept-alive connection may wait 5 minutes for its next request (upstream: forever).
//     A head larger than one read is kept in a side buffer that is given back once the
//     request is parsed, so an idle connection holds only its small (4 KiB) read buffer.
// Cancelling the caller stops accepting and ends every connection.
//
// HTTPS (a listener served with a TLS context): each connection first completes the server
// handshake (within 5 s, as upstream's V2 upgrade), then is served as above with TLS under
// the codec; HTTP/1.1 only (no ALPN, as upstream's). A plain HTTP request on it gets Go's
// answer ("400 ... Client sent an HTTP request to an HTTPS server.") and a close.

#include "broker/broker.hpp"
#include "core/task.hpp"
#include "http/http_shared.hpp"
#include "net/tls.hpp"

namespace nsqd::http {

// Runs until cancelled; listener_fd stays owned by the caller. `shared` is the process's one
// http_shared (owned by the server, outlives every shard's serve_http). With `tls` (which
// outlives it too) the listener is an HTTPS one.
core::task<void> serve_http(int listener_fd, broker::broker_shard& broker, http_shared& shared,
                            const net::tls_context* tls = nullptr);


}  // namespace nsqd::http
