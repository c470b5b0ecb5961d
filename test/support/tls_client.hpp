#pragma once
// The client side of the V2 upgrades for black-box tests: TLS (with the engine in
// net/tls.hpp) and, inside it, snappy or deflate (net/compression.hpp), as wire_client
// filters.
//
//   c.send_command("IDENTIFY", R"({"feature_negotiation":true,"tls_v1":true})");
//   c.read_frame();                                  // the negotiation answer, plain
//   start_tls(c, client_context());                  // the handshake; throws wire_error
//   BOOST_TEST(c.read_frame() == ok_frame);          // the first frame inside TLS

#include <memory>
#include <string>

#include "net/compression.hpp"
#include "net/tls.hpp"
#include "test/support/wire_client.hpp"

namespace nsqd::test {

// A client context that trusts the test CA (test_certificates.hpp), optionally with the
// client certificate `cert_name` ("client" for client.pem/.key) and a highest version.
net::tls_context client_context(const std::string& cert_name = "", std::uint16_t max_version = 0);

// The client handshake over `c`'s socket within `timeout`, then every byte of `c` through
// the session. Throws wire_error with the session's error (or "closed"/"timed out").
// `server_name`: checked against the server's certificate (SNI too); "" checks nothing.
void start_tls(wire_client& c, const net::tls_context& context, const std::string& server_name = "localhost",
               milliseconds timeout = 5s);

// Inside TLS (after start_tls) or alone: compression from now on ("snappy" or "deflate").
void start_compression(wire_client& c, const std::string& kind);

}  // namespace nsqd::test
