#define BOOST_TEST_MODULE tls
// The TLS engine (net/tls.hpp): a server session against a client session, entirely in
// memory. Certificates are made at test time by the openssl command (a CA, a server and a
// client certificate signed by it, a self-signed client, an expired certificate, a key that
// matches nothing, an RSA server).

#include <boost/test/unit_test.hpp>

#include <malloc.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "net/tls.hpp"
#include "test/support/nsqd_process.hpp"
#include "test/support/test_certificates.hpp"

using namespace nsqd::net;
using nsqd::test::certs;
using nsqd::test::temp_dir;
using nsqd::test::write_file;

namespace {

tls_server_options server_options(const std::string& name = "server") {
  tls_server_options o;
  o.cert_file = certs().file(name + ".pem");
  o.key_file = certs().file(name + ".key");
  return o;
}

tls_client_options client_options(std::uint16_t max_version = 0) {
  tls_client_options o;
  o.root_ca_file = certs().file("ca.pem");
  o.max_version = max_version;
  return o;
}

tls_client_options client_with_cert(const std::string& name, std::uint16_t max_version = 0) {
  auto o = client_options(max_version);
  o.cert_file = certs().file(name + ".pem");
  o.key_file = certs().file(name + ".key");
  return o;
}

// Moves what `from` has to send into `to`.
void shuttle(tls_session& from, tls_session& to) {
  const auto out = from.pending_output();
  to.feed(out);
  from.consume_output(out.size());
}

struct outcome {
  tls_handshake client;
  tls_handshake server;
};

// Runs both sides until neither can move.
outcome handshake(tls_session& client, tls_session& server) {
  outcome o{tls_handshake::want_more, tls_handshake::want_more};
  for (int i = 0; i < 10 && (o.client == tls_handshake::want_more ||
                             o.server == tls_handshake::want_more); ++i) {
    if (o.client == tls_handshake::want_more) o.client = client.handshake();
    shuttle(client, server);
    if (o.server == tls_handshake::want_more) o.server = server.handshake();
    shuttle(server, client);
  }
  return o;
}

// Everything `to` can decrypt of what `from` sent; `last` gets the final read() result.
std::string receive(tls_session& from, tls_session& to, std::ptrdiff_t* last = nullptr) {
  shuttle(from, to);
  std::string got;
  char buf[7000];  // not a multiple of a record
  std::ptrdiff_t n;
  while ((n = to.read(buf, sizeof buf)) > 0) got.append(buf, std::size_t(n));
  if (last != nullptr) *last = n;
  shuttle(to, from);  // what reading produced (key update answers, alerts)
  return got;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

struct pair_of_sessions {
  tls_context server_ctx;
  tls_context client_ctx;
  tls_session server{server_ctx};
  tls_session client{client_ctx, "localhost"};
  pair_of_sessions(const tls_server_options& s, const tls_client_options& c)
      : server_ctx(tls_context::server(s)), client_ctx(tls_context::client(c)) {}
};

std::string build_error(const tls_server_options& o) {
  try {
    tls_context::server(o);
  } catch (const tls_error& e) {
    return e.what();
  }
  return "(built)";
}

}  // namespace

// ---- handshakes ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(handshake_tls13) {
  pair_of_sessions p(server_options(), client_options());
  const auto o = handshake(p.client, p.server);
  BOOST_TEST((o.client == tls_handshake::done && o.server == tls_handshake::done));
  BOOST_TEST(p.server.version() == "TLS1.3");
  BOOST_TEST(p.client.version() == "TLS1.3");
  BOOST_TEST(p.server.cipher_suite() == "TLS_AES_128_GCM_SHA256");
  BOOST_TEST(p.server.cipher_suite_id() == 0x1301);
  BOOST_TEST(upstream_stats_cipher_suite(p.server.cipher_suite_id()) == "Unknown 4865");
  BOOST_TEST(!p.server.peer_certificate().present);  // policy none asks for none
  const auto server_cert = p.client.peer_certificate();
  BOOST_TEST(server_cert.verified);
  BOOST_TEST(server_cert.common_name == "localhost");
}

BOOST_AUTO_TEST_CASE(handshake_tls12) {
  pair_of_sessions p(server_options(), client_options(tls_v1_2));
  const auto o = handshake(p.client, p.server);
  BOOST_TEST((o.client == tls_handshake::done && o.server == tls_handshake::done));
  BOOST_TEST(p.server.version() == "TLS1.2");
  BOOST_TEST(p.server.cipher_suite() == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
  BOOST_TEST(p.client.cipher_suite() == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");

  pair_of_sessions rsa(server_options("rsa"), client_options(tls_v1_2));
  const auto r = handshake(rsa.client, rsa.server);
  BOOST_TEST((r.client == tls_handshake::done && r.server == tls_handshake::done));
  BOOST_TEST(rsa.server.cipher_suite() == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  BOOST_TEST(upstream_stats_cipher_suite(rsa.server.cipher_suite_id()) ==
             "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
}

// Upstream's default --tls-min-version is tls1.0: older clients still get in.
BOOST_AUTO_TEST_CASE(handshake_tls11_under_default_minimum) {
  auto client = client_options(tls_v1_1);
  pair_of_sessions p(server_options(), client);
  const auto o = handshake(p.client, p.server);
  BOOST_TEST((o.client == tls_handshake::done && o.server == tls_handshake::done),
             p.server.error() << " / " << p.client.error());
  BOOST_TEST(p.server.version() == "TLS1.1");
  BOOST_TEST(p.server.cipher_suite() == "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA");
}

BOOST_AUTO_TEST_CASE(min_version_refused) {
  for (auto [server_min, client_max] : {std::pair{tls_v1_2, tls_v1_1}, {tls_v1_3, tls_v1_2}}) {
    auto s = server_options();
    s.min_version = server_min;
    auto c = client_options(client_max);
    c.min_version = tls_v1_0;
    pair_of_sessions p(s, c);
    const auto o = handshake(p.client, p.server);
    BOOST_TEST((o.server == tls_handshake::failed));
    BOOST_TEST(p.server.error() == "tls: client offered only unsupported versions");
    BOOST_TEST((o.client == tls_handshake::failed));
    BOOST_TEST(p.client.error() == "remote error: tls: protocol version not supported");
  }
}

BOOST_AUTO_TEST_CASE(server_name_checked) {
  auto server_ctx = tls_context::server(server_options());
  auto client_ctx = tls_context::client(client_options());
  {
    tls_session server(server_ctx), client(client_ctx, "127.0.0.1");
    const auto o = handshake(client, server);
    BOOST_TEST((o.client == tls_handshake::done && o.server == tls_handshake::done));
  }
  tls_session server(server_ctx), client(client_ctx, "example.com");
  const auto o = handshake(client, server);
  BOOST_TEST((o.client == tls_handshake::failed));
  BOOST_TEST(client.error() ==
             "tls: failed to verify certificate: x509: certificate is not valid for the "
             "requested name");
  BOOST_TEST((o.server == tls_handshake::failed));
}

// Like Go's loader, an expired certificate loads; a verifying client refuses it.
BOOST_AUTO_TEST_CASE(expired_server_certificate) {
  pair_of_sessions p(server_options("expired"), client_options());
  const auto o = handshake(p.client, p.server);
  BOOST_TEST((o.client == tls_handshake::failed));
  BOOST_TEST(p.client.error() ==
             "tls: failed to verify certificate: x509: certificate has expired or is not yet "
             "valid");
  BOOST_TEST((o.server == tls_handshake::failed));
  BOOST_TEST(p.server.error() == "remote error: tls: expired certificate");
}

// ---- data ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(data_both_ways) {
  for (std::uint16_t version : {tls_v1_2, tls_v1_3}) {
    pair_of_sessions p(server_options(), client_options(version));
    handshake(p.client, p.server);
    BOOST_REQUIRE(p.client.handshake_done());
    BOOST_REQUIRE(p.server.handshake_done());

    const std::string up = random_bytes(1 << 20, 1), down = random_bytes(1 << 20, 2);
    BOOST_TEST(p.client.write(up));
    BOOST_TEST(p.server.write(down));
    BOOST_TEST(p.client.pending_output().size() > up.size());
    BOOST_TEST((receive(p.client, p.server) == up));
    BOOST_TEST((receive(p.server, p.client) == down));

    // Many small writes, delivered in odd-sized pieces of ciphertext.
    std::string expected;
    for (int i = 0; i < 10000; ++i) {
      const std::string msg = "message " + std::to_string(i) + "\n";
      BOOST_REQUIRE(p.server.write(msg));
      expected += msg;
    }
    std::string got;
    char buf[512];
    for (std::string_view wire = p.server.pending_output(); !wire.empty();) {
      const std::size_t piece = std::min<std::size_t>(wire.size(), 333);
      p.client.feed(wire.substr(0, piece));
      wire.remove_prefix(piece);
      for (std::ptrdiff_t n; (n = p.client.read(buf, sizeof buf)) > 0;) got.append(buf, std::size_t(n));
    }
    p.server.consume_output(p.server.pending_output().size());
    BOOST_TEST(got == expected);
    BOOST_TEST(p.server.pending_output().empty());
  }
}

BOOST_AUTO_TEST_CASE(close_notify) {
  pair_of_sessions p(server_options(), client_options());
  handshake(p.client, p.server);
  BOOST_REQUIRE(p.client.write("last words"));
  p.client.close();
  BOOST_TEST(!p.client.write("more"));  // nothing after close_notify
  std::ptrdiff_t last = 0;
  BOOST_TEST(receive(p.client, p.server, &last) == "last words");
  BOOST_TEST(last == tls_session::closed);
  BOOST_TEST(p.server.read(nullptr, 1) == tls_session::closed);  // stays closed
  BOOST_TEST(!p.server.is_failed());
  BOOST_TEST(p.server.write("reply after the peer's close"));  // half-close, as TLS allows
  p.server.close();
  BOOST_TEST(receive(p.server, p.client, &last) == "reply after the peer's close");
  BOOST_TEST(last == tls_session::closed);
}

// ---- client certificates ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(client_auth_require) {
  auto s = server_options();
  s.client_auth = parse_tls_client_auth_policy("require");
  s.root_ca_file = certs().file("ca.pem");
  for (std::uint16_t version : {tls_v1_2, tls_v1_3}) {
    {  // none given
      pair_of_sessions p(s, client_options(version));
      const auto o = handshake(p.client, p.server);
      BOOST_TEST((o.server == tls_handshake::failed));
      BOOST_TEST(p.server.error() == "tls: client didn't provide a certificate");
      std::ptrdiff_t last = 0;
      if (o.client == tls_handshake::done) receive(p.server, p.client, &last);  // TLS 1.3
      BOOST_TEST(p.client.is_failed());
    }
    for (const char* name : {"rogue", "client"}) {  // any certificate will do
      pair_of_sessions p(s, client_with_cert(name, version));
      const auto o = handshake(p.client, p.server);
      BOOST_TEST((o.client == tls_handshake::done && o.server == tls_handshake::done),
                 name << ": " << p.server.error());
      const auto peer = p.server.peer_certificate();
      BOOST_TEST(peer.present);
      BOOST_TEST(peer.verified == (std::string(name) == "client"), name);
    }
  }
}

BOOST_AUTO_TEST_CASE(client_auth_require_verify) {
  auto s = server_options();
  s.client_auth = parse_tls_client_auth_policy("require-verify");
  s.root_ca_file = certs().file("ca.pem");
  for (std::uint16_t version : {tls_v1_2, tls_v1_3}) {
    const std::pair<const char*, std::string> refused[] = {
        {"", "tls: client didn't provide a certificate"},
        {"rogue", "tls: failed to verify certificate: x509: certificate signed by unknown "
                  "authority"},
        {"expired", "tls: failed to verify certificate: x509: certificate has expired or is "
                    "not yet valid"},
    };
    for (const auto& [name, error] : refused) {
      pair_of_sessions p(s, *name ? client_with_cert(name, version) : client_options(version));
      const auto o = handshake(p.client, p.server);
      BOOST_TEST((o.server == tls_handshake::failed), name);
      BOOST_TEST(p.server.error() == error);
      if (o.client == tls_handshake::done) receive(p.server, p.client);  // TLS 1.3: told later
      BOOST_TEST(p.client.is_failed(), name);
      BOOST_TEST(p.client.error().starts_with("remote error: tls: "), p.client.error());
    }
    pair_of_sessions p(s, client_with_cert("client", version));
    const auto o = handshake(p.client, p.server);
    BOOST_TEST((o.client == tls_handshake::done && o.server == tls_handshake::done));
    const auto peer = p.server.peer_certificate();
    BOOST_TEST(peer.present);
    BOOST_TEST(peer.verified);
    BOOST_TEST(peer.common_name == "test-client");
    BOOST_TEST(peer.subject == "CN=test-client,O=nsqd-test");
    BOOST_REQUIRE(p.client.write("hi"));
    BOOST_TEST(receive(p.client, p.server) == "hi");
  }
}

BOOST_AUTO_TEST_CASE(client_auth_policy_flag) {
  BOOST_TEST((parse_tls_client_auth_policy("require") == tls_client_auth::require));
  BOOST_TEST((parse_tls_client_auth_policy("require-verify") == tls_client_auth::require_verify));
  // Upstream ignores anything else (and asks for no certificate).
  BOOST_TEST((parse_tls_client_auth_policy("") == tls_client_auth::none));
  BOOST_TEST((parse_tls_client_auth_policy("Require") == tls_client_auth::none));
}

// ---- bad peers -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(garbage_instead_of_client_hello) {
  auto ctx = tls_context::server(server_options());
  const std::string inputs[] = {
      "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
      "  V2IDENTIFY\n",
      random_bytes(4096, 3),
      std::string("\x16\x03\x01\x00\x05" "abcde", 10),  // a handshake record holding junk
      std::string("\x16\x03\x01\xff\xff", 5) + random_bytes(70000, 4),
  };
  for (const auto& input : inputs) {
    tls_session server(ctx);
    server.feed(input);
    BOOST_TEST((server.handshake() == tls_handshake::failed));
    BOOST_TEST(!server.error().empty());
    BOOST_TEST((server.handshake() == tls_handshake::failed));  // stays failed
    char buf[16];
    BOOST_TEST(server.read(buf, sizeof buf) == tls_session::failed);
    BOOST_TEST(!server.write("x"));
  }
  for (int i = 0; i < 3; ++i) {
    tls_session server(ctx);
    server.feed(inputs[i]);
    server.handshake();
    BOOST_TEST(server.error() == "tls: first record does not look like a TLS handshake");
  }
}

// A client that goes away mid-handshake: the session is dropped; LSan finds no leak.
BOOST_AUTO_TEST_CASE(client_stops_mid_handshake) {
  auto server_ctx = tls_context::server(server_options());
  auto client_ctx = tls_context::client(client_options(tls_v1_2));
  for (int i = 0; i < 200; ++i) {
    tls_session server(server_ctx), client(client_ctx);
    BOOST_TEST((client.handshake() == tls_handshake::want_more));
    std::string_view hello = client.pending_output();
    server.feed(hello.substr(0, i % 2 == 0 ? hello.size() : hello.size() / 2));  // half of it
    BOOST_TEST((server.handshake() == tls_handshake::want_more));
    // ... and the client is never heard from again.
  }
}

BOOST_AUTO_TEST_CASE(renegotiation_refused) {
  pair_of_sessions p(server_options(), client_options(tls_v1_2));
  handshake(p.client, p.server);
  BOOST_REQUIRE(p.server.handshake_done());
  // Make the client ask (ours never would): OpenSSL's own client, renegotiation allowed.
  SSL* raw = p.client.native_handle();
  SSL_clear_options(raw, SSL_OP_NO_RENEGOTIATION);
  BOOST_REQUIRE(SSL_renegotiate(raw) == 1);
  char buf[64];
  p.client.read(buf, sizeof buf);  // sends the new ClientHello
  BOOST_TEST(!p.client.pending_output().empty());
  shuttle(p.client, p.server);
  BOOST_TEST(p.server.read(buf, sizeof buf) == tls_session::failed);
  BOOST_TEST(p.server.error() ==
             "tls: received unexpected handshake message of type *tls.clientHelloMsg when "
             "waiting for *tls.helloRequestMsg");
  BOOST_TEST(!p.server.write("x"));
}

// TLS 1.3 key updates are not renegotiations.
BOOST_AUTO_TEST_CASE(tls13_key_update_allowed) {
  pair_of_sessions p(server_options(), client_options());
  handshake(p.client, p.server);
  receive(p.server, p.client);  // the session ticket
  BOOST_REQUIRE(SSL_key_update(p.client.native_handle(), SSL_KEY_UPDATE_REQUESTED) == 1);
  BOOST_REQUIRE(p.client.write("after key update"));
  BOOST_TEST(receive(p.client, p.server) == "after key update");
  BOOST_TEST(!p.server.is_failed());
  BOOST_REQUIRE(p.server.write("answer"));
  BOOST_TEST(receive(p.server, p.client) == "answer");
}

// 10,000 handshakes on two reused contexts, each with a message both ways and close_notify;
// the heap in use after the last is what it was after the first thousand. Under
// AddressSanitizer (where OpenSSL's many small allocations cost 3x) 2,000 of them, for LSan's
// leak check at exit: a leak per session shows in any number of sessions, and glibc's heap
// figures are not ASan's anyway. $NSQD_TLS_HANDSHAKES sets another count.
static int handshake_count() {
  if (const char* n = std::getenv("NSQD_TLS_HANDSHAKES")) return std::max(std::atoi(n), 1001);
#ifdef __SANITIZE_ADDRESS__
  return 2000;
#else
  return 10000;
#endif
}

BOOST_AUTO_TEST_CASE(ten_thousand_handshakes) {
  auto server_ctx = tls_context::server(server_options());
  auto client_ctx = tls_context::client(client_options());
  const auto start = std::chrono::steady_clock::now();
  std::size_t heap_after_warmup = 0;
  const int total = handshake_count();
  for (int i = 0; i < total; ++i) {
    if (i == 1000) heap_after_warmup = mallinfo2().uordblks;
    tls_session server(server_ctx), client(client_ctx, "localhost");
    const auto o = handshake(client, server);
    BOOST_REQUIRE((o.client == tls_handshake::done && o.server == tls_handshake::done));
    BOOST_REQUIRE(client.write("PING"));
    BOOST_REQUIRE(receive(client, server) == "PING");
    BOOST_REQUIRE(server.write("PONG"));
    BOOST_REQUIRE(receive(server, client) == "PONG");
    client.close();
    std::ptrdiff_t last = 0;
    receive(client, server, &last);
    BOOST_REQUIRE(last == tls_session::closed);
  }
  const std::size_t heap_at_end = mallinfo2().uordblks;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE(total << " handshakes in " << seconds << " s; heap in use "
                           << heap_after_warmup << " -> " << heap_at_end << " bytes");
  BOOST_TEST(heap_at_end <= heap_after_warmup + 256 * 1024);
}

// ---- construction errors ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(construction_errors) {
  const auto& c = certs();
  const std::string prefix = "failed to build TLS config - ";
  auto o = server_options();
  o.cert_file = c.file("missing.pem");
  BOOST_TEST(build_error(o) == prefix + "open " + c.file("missing.pem") + ": no such file or directory");
  o = server_options();
  o.key_file = c.file("missing.key");
  BOOST_TEST(build_error(o) == prefix + "open " + c.file("missing.key") + ": no such file or directory");
  o = server_options();
  o.key_file = c.file("other.key");
  BOOST_TEST(build_error(o) == prefix + "tls: private key does not match public key");
  o.key_file = c.file("rsa.key");
  BOOST_TEST(build_error(o) == prefix + "tls: private key type does not match public key type");
  o = server_options();
  o.root_ca_file = c.file("missing-ca.pem");
  BOOST_TEST(build_error(o) == prefix + "open " + c.file("missing-ca.pem") + ": no such file or directory");
  o.root_ca_file = c.file("ca.key");
  BOOST_TEST(build_error(o) == prefix + "failed to append certificate to pool");

  // The PEM-level texts of Go's tls.X509KeyPair.
  write_file(c.file("empty.pem"), "not PEM at all\n");
  o = server_options();
  o.cert_file = c.file("empty.pem");
  BOOST_TEST(build_error(o) == prefix + "tls: failed to find any PEM data in certificate input");
  o.cert_file = c.file("server.key");
  BOOST_TEST(build_error(o) == prefix + "tls: failed to find certificate PEM data in certificate "
                                        "input, but did find a private key; PEM inputs may have "
                                        "been switched");
  o = server_options();
  o.key_file = c.file("empty.pem");
  BOOST_TEST(build_error(o) == prefix + "tls: failed to find any PEM data in key input");
  o.key_file = c.file("server.pem");
  BOOST_TEST(build_error(o) ==
             prefix + "tls: found a certificate rather than a key in the PEM for the private key");
  write_file(c.file("bad-key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  o.key_file = c.file("bad-key.pem");
  BOOST_TEST(build_error(o) == prefix + "tls: failed to parse private key");
  o = server_options();
  o.cert_file = c.dir().path();
  BOOST_TEST(build_error(o) == prefix + "read " + c.dir().path() + ": is a directory");
  o = server_options();
  o.min_version = 0x0300;  // ssl3.0: upstream v1.3 refuses the flag value itself
  BOOST_TEST(build_error(o) == prefix + "unsupported TLS version 768");

  try {
    auto client = client_options();
    client.root_ca_file = c.file("missing-ca.pem");
    tls_context::client(client);
    BOOST_TEST(false);
  } catch (const tls_error& e) {
    BOOST_TEST(e.what() == "failed to build client TLS config - open " + c.file("missing-ca.pem") +
                               ": no such file or directory");
    BOOST_TEST(e.cause() == "open " + c.file("missing-ca.pem") + ": no such file or directory");
  }
  BOOST_TEST(build_error(server_options("expired")) == "(built)");  // as Go: dates not checked
}

// ---- names -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(go_names) {
  BOOST_TEST(tls_version_name(tls_v1_0) == "TLS1.0");
  BOOST_TEST(tls_version_name(tls_v1_3) == "TLS1.3");
  BOOST_TEST(tls_version_name(0x0300) == "Unknown 768");
  BOOST_TEST(go_cipher_suite_name(0xc02f) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  BOOST_TEST(go_cipher_suite_name(0xcca9) == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
  BOOST_TEST(go_cipher_suite_name(0x1303) == "TLS_CHACHA20_POLY1305_SHA256");
  BOOST_TEST(go_cipher_suite_name(0x1234) == "0x1234");
  BOOST_TEST(go_cipher_suite_name("ECDHE-ECDSA-AES256-GCM-SHA384") ==
             "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
  BOOST_TEST(go_cipher_suite_name("ECDHE-RSA-AES128-SHA") == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
  BOOST_TEST(go_cipher_suite_name("TLS_AES_256_GCM_SHA384") == "TLS_AES_256_GCM_SHA384");
  BOOST_TEST(go_cipher_suite_name("NOT-A-SUITE") == "");
  // Every suite our contexts offer has its Go name.
  auto ctx = tls_context::server(server_options());
  SSL* ssl = SSL_new(ctx.native_handle());
  STACK_OF(SSL_CIPHER)* offered = SSL_get1_supported_ciphers(ssl);
  for (int i = 0; i < sk_SSL_CIPHER_num(offered); ++i) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(offered, i);
    BOOST_TEST(go_cipher_suite_name(SSL_CIPHER_get_name(cipher)) ==
               go_cipher_suite_name(SSL_CIPHER_get_protocol_id(cipher)));
    BOOST_TEST(!go_cipher_suite_name(SSL_CIPHER_get_name(cipher)).empty(), SSL_CIPHER_get_name(cipher));
  }
  sk_SSL_CIPHER_free(offered);
  SSL_free(ssl);
  // Upstream's /stats knows only its own short list.
  BOOST_TEST(upstream_stats_cipher_suite(0xc02b) == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
  BOOST_TEST(upstream_stats_cipher_suite(0xc013) == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
  BOOST_TEST(upstream_stats_cipher_suite(0xc030) == "Unknown 49200");
  BOOST_TEST(upstream_stats_cipher_suite(0xcca8) == "Unknown 52392");
}
