#pragma once
// The V2 reader (SPEC B.1, B.4, B.5): reads command lines and their bodies, runs each command
// against the client and the broker, and queues the response or error frame on the client.
//
// Errors are upstream's, text for text. Only E_FIN_FAILED, E_REQ_FAILED and E_TOUCH_FAILED
// leave the connection open; after any other error frame the reader stops and the writer
// sends what is queued, then the connection closes. A line of 16 KiB or more, EOF, the read
// deadline (2 x heartbeat interval) and cancellation end the reader without an error frame.
//
// Bodies are read once, straight into their final buffer (message_body::allocate), taking
// what the connection has already buffered first.

#include "core/task.hpp"
#include "protocol/v2_client.hpp"

namespace nsqd::protocol {

// Runs until the connection's input ends or a fatal error; always ends with
// c.reader_done(). Never throws for anything a client sends.
core::task<void> read_loop(client& c);

}  // namespace nsqd::protocol
