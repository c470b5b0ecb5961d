#pragma once
// tls_errors: OpenSSL's failures in Go's words, for tls_context.cpp and tls_session.cpp.
// Internal to net/ (tls.hpp is the interface).

#include <openssl/types.h>

#include <string>

namespace nsqd::net::tls_detail {

// The oldest error on this thread's OpenSSL error queue as "tls: <reason>" (or `fallback`
// when the queue is empty). Leaves the queue as it is.
std::string openssl_error_text(const char* fallback);

// Why `ssl` failed with SSL_get_error() == `ssl_error`, as Go's crypto/tls would put it
// where a counterpart exists:
//   not TLS at all (first record)         "tls: first record does not look like a TLS handshake"
//   client's versions below our minimum   "tls: client offered only unsupported versions"
//   no client certificate under require   "tls: client didn't provide a certificate"
//   certificate not verified              "tls: failed to verify certificate: x509: ..."
//   no shared cipher suite                "tls: no cipher suite supported by both client and
//                                          server"
//   an alert from the peer                "remote error: tls: <alert>" (Go's alert texts)
// and "tls: <OpenSSL's reason>" otherwise. Reads, does not clear, the error queue.
std::string describe_failure(const SSL* ssl, int ssl_error);

}  // namespace nsqd::net::tls_detail
