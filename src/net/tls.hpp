#pragma once
// tls: TLS (OpenSSL 3) over memory buffers, for connections whose bytes move through io_uring.
//
//   net::tls_server_options options;          // --tls-cert, --tls-key, ...
//   options.cert_file = "cert.pem";
//   options.key_file = "key.pem";
//   auto ctx = net::tls_context::server(options);   // at start-up; throws tls_error
//   net::tls_session tls(ctx);                 // one per connection
//   tls.feed(received);                        // ciphertext that came from the socket
//   switch (tls.handshake()) {                 // done | want_more | failed (tls.error())
//     ...
//   }
//   send(tls.pending_output());                // handshake messages, records, alerts
//   tls.consume_output(sent);
//   std::ptrdiff_t n = tls.read(buf, sizeof buf);   // plaintext, or need_input/closed/failed
//   tls.write("hello");                        // records appended to pending_output()
//   tls.close();                               // close_notify appended to pending_output()
//
// Nothing here touches a socket or blocks: the caller moves the bytes. After every call,
// whatever the peer must receive is in pending_output() (send it even when a call failed:
// it may hold the alert that tells the peer why).
//
// A tls_context is immutable once built and may be shared by every shard (OpenSSL's SSL_CTX
// is safe to use from several threads; copies share it). A tls_session belongs to one
// connection on one shard, is not thread-safe, and is pinned in memory (OpenSSL calls back
// into it): hold it in place or in a unique_ptr. A session keeps its context alive.
//
// Upstream nsqd's choices, kept: the server's certificate chain and key are loaded as Go's
// tls.LoadX509KeyPair does (and fail with its texts); the client certificate policy is
// --tls-client-auth-policy's; client certificates are checked against --tls-root-ca-file
// alone when it is given (else the system's roots).
// Go's crypto/tls defaults, approximated: ECDHE with AES-GCM, ChaCha20-Poly1305 and (for
// TLS 1.0/1.1 clients) AES-CBC-SHA; the three TLS 1.3 suites, AES-128-GCM first; groups
// X25519, P-256, P-384, P-521; one session ticket and no server-side session cache; no
// renegotiation (a renegotiation attempt fails the session, as Go's server does). With a
// minimum below TLS 1.2 (upstream's default is tls1.0) OpenSSL's security level is 0, as
// TLS 1.0/1.1 need SHA-1 signatures; from TLS 1.2 up it is 1.

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace nsqd::net {

// A context that could not be built. what() is the text upstream nsqd fails with after its
// "failed to instantiate nsqd - " prefix, e.g.
//   "failed to build TLS config - open /etc/nsqd/cert.pem: no such file or directory"
// cause() is the part after "... config - " (Go's error).
class tls_error : public std::runtime_error {
 public:
  tls_error(const std::string& prefix, std::string cause)
      : std::runtime_error(prefix + " - " + cause), _cause(std::move(cause)) {}
  const std::string& cause() const noexcept { return _cause; }

 private:
  std::string _cause;
};

// TLS protocol versions as their wire numbers (as config::tls_version_1_0 ... and Go's
// tls.VersionTLS10 ...).
inline constexpr std::uint16_t tls_v1_0 = 0x0301;
inline constexpr std::uint16_t tls_v1_1 = 0x0302;
inline constexpr std::uint16_t tls_v1_2 = 0x0303;
inline constexpr std::uint16_t tls_v1_3 = 0x0304;

// --tls-client-auth-policy: "require" (a certificate, not verified: Go's
// RequireAnyClientCert), "require-verify" (verified against --tls-root-ca-file, else the
// system's roots: RequireAndVerifyClientCert); anything else is `none`, as upstream
// (NoClientCert: no certificate is asked for).
enum class tls_client_auth { none, require, require_verify };
tls_client_auth parse_tls_client_auth_policy(std::string_view flag) noexcept;

struct tls_server_options {
  std::string cert_file;     // PEM: the certificate first, then its chain
  std::string key_file;      // PEM: PKCS#1, SEC 1 or PKCS#8, unencrypted (RSA, ECDSA, Ed25519)
  std::string root_ca_file;  // PEM; empty: none (client certificates checked against the
                             // system's roots under require-verify)
  tls_client_auth client_auth = tls_client_auth::none;
  std::uint16_t min_version = tls_v1_0;  // upstream's default; tls_v1_0 .. tls_v1_3
};

// For connections nsqd opens (auth servers over HTTPS; the tests' peers).
struct tls_client_options {
  std::string root_ca_file;  // PEM; empty: the system's roots
  std::string cert_file;     // optional client certificate (both or neither)
  std::string key_file;
  std::uint16_t min_version = tls_v1_0;
  std::uint16_t max_version = 0;  // 0: the highest OpenSSL speaks (TLS 1.3)
  bool verify_peer = true;        // false: Go's InsecureSkipVerify
};

class tls_context {
 public:
  // Throw tls_error with upstream's texts, prefixed "failed to build TLS config" (server)
  // or "failed to build client TLS config" (client). See tls_context.cpp for the texts
  // that differ from Go's.
  static tls_context server(const tls_server_options& options);
  static tls_context client(const tls_client_options& options);

  bool is_server() const noexcept { return _server; }
  SSL_CTX* native_handle() const noexcept { return _ctx.get(); }

 private:
  tls_context(std::shared_ptr<SSL_CTX> ctx, bool server) : _ctx(std::move(ctx)), _server(server) {}

  std::shared_ptr<SSL_CTX> _ctx;
  bool _server = false;
};

// What the peer's certificate said (the client's, on a server session).
struct tls_peer_certificate {
  bool present = false;
  std::string subject;      // RFC 2253 ("CN=client,O=example")
  std::string common_name;  // what upstream hands auth servers as the TLS identity
  bool verified = false;    // the chain checked out against the trusted roots
  std::string verify_error; // OpenSSL's text when not verified
};

enum class tls_handshake { done, want_more, failed };

class tls_session {
 public:
  // read() results besides a byte count (> 0), as stream_decoder::read's.
  static constexpr std::ptrdiff_t need_input = 0;  // feed more ciphertext
  static constexpr std::ptrdiff_t failed = -1;     // error() says why; the connection must end
  static constexpr std::ptrdiff_t closed = -2;     // the peer sent close_notify

  // `server_name` (client sessions only): sent as SNI and checked against the server's
  // certificate (a DNS name or an IP address); empty: no SNI and no name check.
  explicit tls_session(const tls_context& context, std::string_view server_name = {});
  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  // Ciphertext received from the peer (copied; any amount, any split).
  void feed(std::string_view ciphertext);

  // Bytes to send to the peer, in order; consume_output(n) drops the first n once sent.
  std::string_view pending_output() const noexcept {
    return std::string_view(_out).substr(_out_begin);
  }
  void consume_output(std::size_t n) noexcept;
  // Moves all of pending_output() into `into` (replacing what it held; no copy when nothing
  // was consumed yet).
  void take_output(std::string& into);

  // Advances the handshake with what was fed. A client session starts it (its first call
  // puts the ClientHello in pending_output()). Once done, stays done.
  tls_handshake handshake();
  bool handshake_done() const noexcept { return _handshake_done; }

  // Up to `cap` (> 0) bytes of plaintext into `dst`: how many, or need_input, closed or
  // failed. Finishes the handshake first if needed.
  std::ptrdiff_t read(char* dst, std::size_t cap);
  // Encrypts all of `plaintext` into records appended to pending_output(). False (and
  // nothing written) before the handshake is done, once the session failed or after
  // close(); a peer's close_notify does not stop it (TLS allows half-closed sessions).
  bool write(std::string_view plaintext);
  // Appends close_notify to pending_output(); write() refuses afterwards. Idempotent.
  void close();

  bool is_failed() const noexcept { return !_error.empty(); }
  // Why the session failed, in Go's words where Go has them ("tls: first record does not
  // look like a TLS handshake", "tls: client didn't provide a certificate", "remote error:
  // tls: bad certificate", ...); empty while it has not.
  const std::string& error() const noexcept { return _error; }

  // Once the handshake is done. version() as upstream's /stats shows it ("TLS1.3");
  // cipher_suite() by Go's name ("TLS_AES_128_GCM_SHA256"); upstream's /stats spells fewer
  // suites: upstream_stats_cipher_suite(cipher_suite_id()) gives its text.
  std::string version() const;
  std::uint16_t cipher_suite_id() const;  // IANA number
  std::string cipher_suite() const;
  tls_peer_certificate peer_certificate() const;

  SSL* native_handle() const noexcept { return _ssl; }

 private:
  static void info_callback(const SSL* ssl, int where, int ret);
  void drain_output();
  void fail(int ssl_error);

  SSL* _ssl = nullptr;
  BIO* _in = nullptr;       // ciphertext from the peer; owned by _ssl
  BIO* _out_bio = nullptr;  // ciphertext for the peer, drained into _out; owned by _ssl
  std::string _out;
  std::size_t _out_begin = 0;
  std::string _error;
  bool _handshake_done = false;
  bool _close_sent = false;          // close() was called
  bool _peer_closed = false;         // close_notify received
  bool _first_handshake_over = false;  // seen by OpenSSL's info callback
  bool _renegotiation_seen = false;  // a new handshake began after the first (TLS <= 1.2)
};

// ---- Go's names (tls_names.cpp) -----------------------------------------------------------

// Upstream's /stats tls_version: "TLS1.0" .. "TLS1.3", else "Unknown <n>".
std::string tls_version_name(std::uint16_t version);
// Go's tls.CipherSuiteName for an IANA number ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
// "TLS_AES_128_GCM_SHA256"); "0x%04X" for suites Go does not know.
std::string go_cipher_suite_name(std::uint16_t id);
// The same from OpenSSL's name ("ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256");
// empty for a name not in the table.
std::string go_cipher_suite_name(std::string_view openssl_name);
// What upstream nsqd v1.3's /stats prints as tls_cipher_suite: its own short list of names
// (TLS 1.2 CBC, RC4, 3DES, and the two ECDHE AES-128-GCM suites), "Unknown <n>" for the rest
// (every TLS 1.3 suite included: "Unknown 4865" for TLS_AES_128_GCM_SHA256).
std::string upstream_stats_cipher_suite(std::uint16_t id);

}  // namespace nsqd::net
