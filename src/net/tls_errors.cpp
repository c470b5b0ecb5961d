#include "net/tls_errors.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace nsqd::net::tls_detail {

namespace {

// Go's alert texts (crypto/tls alert.go), by alert number.
const char* go_alert_text(int alert) {
  switch (alert) {
    case 0: return "close notify";
    case 10: return "unexpected message";
    case 20: return "bad record MAC";
    case 21: return "decryption failed";
    case 22: return "record overflow";
    case 30: return "decompression failure";
    case 40: return "handshake failure";
    case 42: return "bad certificate";
    case 43: return "unsupported certificate";
    case 44: return "revoked certificate";
    case 45: return "expired certificate";
    case 46: return "unknown certificate";
    case 47: return "illegal parameter";
    case 48: return "unknown certificate authority";
    case 49: return "access denied";
    case 50: return "error decoding message";
    case 51: return "error decrypting message";
    case 60: return "export restriction";
    case 70: return "protocol version not supported";
    case 71: return "insufficient security level";
    case 80: return "internal error";
    case 86: return "inappropriate fallback";
    case 90: return "user canceled";
    case 100: return "no renegotiation";
    case 109: return "missing extension";
    case 110: return "unsupported extension";
    case 111: return "certificate unobtainable";
    case 112: return "unrecognized name";
    case 113: return "bad certificate status response";
    case 114: return "bad certificate hash value";
    case 115: return "unknown PSK identity";
    case 116: return "certificate required";
    case 120: return "no application protocol";
    default: return nullptr;
  }
}

// crypto/x509's texts for the verification failures Go has words for.
std::string x509_text(long result) {
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "x509: certificate has expired or is not yet valid";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "x509: certificate signed by unknown authority";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "x509: certificate is not valid for the requested name";
    default:
      return std::string("x509: ") + X509_verify_cert_error_string(result);
  }
}

}  // namespace

std::string openssl_error_text(const char* fallback) {
  const unsigned long e = ERR_peek_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  return std::string("tls: ") + (reason != nullptr ? reason : fallback);
}

std::string describe_failure(const SSL* ssl, int ssl_error) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return "EOF";  // close_notify mid-handshake
  const unsigned long e = ERR_peek_error();
  if (ssl_error != SSL_ERROR_SSL || e == 0 || ERR_GET_LIB(e) != ERR_LIB_SSL)
    return openssl_error_text("internal error");
  const int reason = ERR_GET_REASON(e);
  // A server that has not taken in a ClientHello yet failed on the first record: not TLS.
  if (SSL_is_server(ssl) && SSL_get_state(ssl) == TLS_ST_BEFORE &&
      reason < SSL_AD_REASON_OFFSET)
    return "tls: first record does not look like a TLS handshake";
  if (reason >= SSL_AD_REASON_OFFSET) {  // the peer's alert
    const char* text = go_alert_text(reason - SSL_AD_REASON_OFFSET);
    return text != nullptr ? std::string("remote error: tls: ") + text
                           : "remote error: tls: alert(" +
                                 std::to_string(reason - SSL_AD_REASON_OFFSET) + ")";
  }
  switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
      return SSL_is_server(ssl)
                 ? "tls: client offered only unsupported versions"
                 : "tls: server selected unsupported protocol version";
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return "tls: client didn't provide a certificate";
    case SSL_R_NO_SHARED_CIPHER:
      return "tls: no cipher suite supported by both client and server";
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return "tls: failed to verify certificate: " + x509_text(SSL_get_verify_result(ssl));
    default:
      return openssl_error_text("internal error");
  }
}

}  // namespace nsqd::net::tls_detail
