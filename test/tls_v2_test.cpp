#define BOOST_TEST_MODULE tls_v2
// TLS on the V2 protocol, black-box: the IDENTIFY tls_v1 upgrade (answer plain, handshake,
// "OK" inside TLS), compression inside TLS, --tls-required, client certificates, start-up
// errors with upstream's texts, and handshakes that go wrong. Certificates are made at test
// time (test/support/test_certificates.hpp); the client side is net/tls.hpp's engine.

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "net/tls.hpp"
#include "test/support/nsqd_process.hpp"
#include "test/support/script_server.hpp"
#include "test/support/test_certificates.hpp"
#include "test/support/tls_client.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
using namespace std::chrono_literals;

namespace {

const frame ok_frame{frame_response, "OK"};

// Magic and IDENTIFY with `features` (JSON members after feature_negotiation); returns the
// negotiation answer (plain).
frame identify(wire_client& c, const std::string& features) {
  c.send_magic();
  c.send_command("IDENTIFY", R"({"feature_negotiation":true,)" + features + "}");
  return c.read_frame();
}

// A TLS V2 connection, ready for commands.
wire_client tls_client(const nsqd_process& nsqd, const nsqd::net::tls_context& ctx) {
  wire_client c(nsqd.tcp_port());
  frame answer = identify(c, R"("tls_v1":true)");
  BOOST_REQUIRE(answer.data.find(R"("tls_v1":true)") != std::string::npos);
  start_tls(c, ctx);
  BOOST_REQUIRE(c.read_frame() == ok_frame);
  return c;
}

void publish(wire_client& c, const std::string& topic, const std::string& body) {
  c.send_command("PUB " + topic, body);
  BOOST_REQUIRE(c.read_frame() == ok_frame);
}

// SUB + RDY 1; the next message's body.
std::string consume_one(wire_client& c, const std::string& topic) {
  c.send_command("SUB " + topic + " c");
  BOOST_REQUIRE(c.read_frame() == ok_frame);
  c.send_command("RDY 1");
  std::optional<wire_message> m = parse_message(c.read_frame());
  BOOST_REQUIRE(m);
  c.send_command("FIN " + m->id);
  return m->body;
}

// The /stats fields of the channel's only client, as `"key":value` text.
std::string client_stats(const nsqd_process& nsqd) {
  http_response r = http_get(nsqd.http_port(), "/stats?format=json&include_clients=true");
  BOOST_REQUIRE(r.status == 200);
  return r.body;
}

// The resident memory of process `pid`, in KiB (VmRSS), or -1.
long resident_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tls_v1_upgrade_carries_publish_and_consume) {
  const auto ctx = client_context();
  for (int cores : {1, 4}) {
    nsqd_process nsqd;
    nsqd.start(tls_server_flags({"--cores=" + std::to_string(cores)}));
    wire_client p = tls_client(nsqd, ctx);
    publish(p, "t", "over tls");
    wire_client c = tls_client(nsqd, ctx);
    BOOST_TEST(consume_one(c, "t") == "over tls");
    // /stats shows the consumer's TLS as upstream does (Go has no name for TLS 1.3 suites).
    const std::string stats = client_stats(nsqd);
    BOOST_TEST(stats.find(R"("tls":true,"tls_cipher_suite":"Unknown 4865","tls_version":"TLS1.3")") !=
               std::string::npos, stats);
    BOOST_TEST(nsqd.stop(SIGTERM) == 0);
  }
}

BOOST_AUTO_TEST_CASE(tls12_client_gets_go_cipher_names) {
  nsqd_process nsqd;
  nsqd.start(tls_server_flags());
  wire_client c = tls_client(nsqd, client_context("", nsqd::net::tls_v1_2));
  c.send_command("SUB t c");
  BOOST_REQUIRE(c.read_frame() == ok_frame);
  const std::string stats = client_stats(nsqd);
  BOOST_TEST(stats.find(R"("tls_cipher_suite":"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256","tls_version":"TLS1.2")") !=
             std::string::npos, stats);
}

BOOST_AUTO_TEST_CASE(without_a_certificate_tls_v1_is_refused_and_the_connection_stays_plain) {
  nsqd_process nsqd;
  nsqd.start();
  wire_client c(nsqd.tcp_port());
  frame answer = identify(c, R"("tls_v1":true)");
  BOOST_TEST(answer.data.find(R"("tls_v1":false)") != std::string::npos, answer);
  publish(c, "t", "plain");
}

BOOST_AUTO_TEST_CASE(compression_inside_tls) {
  const auto ctx = client_context();
  for (std::string kind : {"snappy", "deflate"}) {
    nsqd_process nsqd;
    nsqd.start(tls_server_flags({"--cores=2"}));
    auto upgraded = [&] {
      wire_client c(nsqd.tcp_port());
      frame answer = identify(c, R"("tls_v1":true,")" + kind + R"(":true)");
      BOOST_REQUIRE(answer.data.find("\"" + kind + "\":true") != std::string::npos);
      start_tls(c, ctx);
      BOOST_REQUIRE(c.read_frame() == ok_frame);  // inside TLS
      start_compression(c, kind);
      BOOST_REQUIRE(c.read_frame() == ok_frame);  // inside compression inside TLS
      return c;
    };
    wire_client p = upgraded();
    const std::string body(100000, 'z');  // compresses well, spans several TLS records
    publish(p, "t", body);
    wire_client c = upgraded();
    BOOST_TEST(consume_one(c, "t") == body, kind);
  }
}

BOOST_AUTO_TEST_CASE(tls_required_rejects_plain_commands_until_the_upgrade) {
  const auto ctx = client_context();
  for (std::string required : {"true", "tcp-https"}) {
    nsqd_process nsqd;
    nsqd.start(tls_server_flags({"--tls-required=" + required}));
    // Plain HTTP: refused under `true` (test/https_test.cpp), served under `tcp-https`.
    BOOST_TEST(http_get(nsqd.http_port(), "/ping").status == (required == "true" ? 403 : 200));
    wire_client plain(nsqd.tcp_port());
    plain.send_magic();
    plain.send_command("PUB t", std::string("x"));
    BOOST_TEST(plain.read_frame() == (frame{frame_error, "E_INVALID cannot PUB in current state (TLS required)"}));
    BOOST_TEST(plain.expect_closed());
    // IDENTIFY without tls_v1 is allowed, and changes nothing.
    wire_client identified(nsqd.tcp_port());
    identify(identified, R"("tls_v1":false)");
    identified.send_command("SUB t c");
    BOOST_TEST(identified.read_frame() == (frame{frame_error, "E_INVALID cannot SUB in current state (TLS required)"}));
    wire_client secure = tls_client(nsqd, ctx);
    publish(secure, "t", "secure");
  }
}

BOOST_AUTO_TEST_CASE(client_certificates_under_require_verify) {
  nsqd_process nsqd;
  nsqd.start(tls_server_flags({"--tls-client-auth-policy=require-verify",
                                "--tls-root-ca-file=" + certs().file("ca.pem")}));
  // Without a certificate, with one the CA did not sign: no TLS, and the connection ends.
  for (std::string cert : {"", "rogue"}) {
    wire_client c(nsqd.tcp_port());
    identify(c, R"("tls_v1":true)");
    bool refused = false;
    try {
      start_tls(c, client_context(cert));
      c.send_command("PUB t", std::string("x"));
      refused = c.expect_closed();  // TLS 1.3: the client learns after its Finished
    } catch (const wire_error&) {
      refused = true;
    }
    BOOST_TEST(refused, "client certificate '" << cert << "'");
  }
  wire_client c = tls_client(nsqd, client_context("client"));
  publish(c, "t", "verified");
}

BOOST_AUTO_TEST_CASE(auth_over_tls_tells_the_auth_server_tls_and_the_certificate_name) {
  script_server auth([](const seen_request&) {
    return status(200, R"({"ttl":3600,"identity":"tls-user","identity_url":"",)"
                       R"("authorizations":[{"topic":".*","channels":[".*"],"permissions":["publish","subscribe"]}]})");
  });
  nsqd_process nsqd;
  nsqd.start(tls_server_flags({"--auth-http-address=" + auth.address(), "--tls-client-auth-policy=require",
                                "--tls-required=tcp-https"}));
  wire_client c = tls_client(nsqd, client_context("client"));
  c.send_command("AUTH", std::string("secret"));
  BOOST_TEST(c.read_frame().data == R"({"identity":"tls-user","identity_url":"","permission_count":1})");
  publish(c, "t", "authed over tls");
  auto requests = auth.requests();
  BOOST_REQUIRE(requests.size() == 1u);
  BOOST_TEST(requests[0].query["tls"] == "true");
  BOOST_TEST(requests[0].query["common_name"] == "test-client");
  BOOST_TEST(requests[0].query["secret"] == "secret");
}

BOOST_AUTO_TEST_CASE(failed_handshakes_end_their_connection_and_nothing_else) {
  nsqd_process nsqd;
  nsqd.start(tls_server_flags({"--cores=1"}));  // one shard: a stuck handshake would stall it
  const auto ctx = client_context();
  // Garbage instead of a ClientHello: an alert and the error, plain, as upstream; closed.
  wire_client garbage(nsqd.tcp_port());
  identify(garbage, R"("tls_v1":true)");
  garbage.send(std::string(64, 'G') + "\n");
  const std::string answer = garbage.read_to_eof(3s);
  BOOST_TEST(answer.find("E_IDENTIFY_FAILED IDENTIFY failed tls: first record does not look like a TLS handshake") !=
             std::string::npos);
  // A client that stops mid-handshake: half a ClientHello, then silence. The shard serves
  // others meanwhile; the stalled one is closed after upstream's 5 s.
  wire_client stalled(nsqd.tcp_port());
  identify(stalled, R"("tls_v1":true)");
  stalled.send(std::string("\x16\x03\x01\x02\x00\x01", 6));
  wire_client other = tls_client(nsqd, ctx);
  publish(other, "t", "meanwhile");
  BOOST_TEST(stalled.read_to_eof(8s).find("E_IDENTIFY_FAILED IDENTIFY failed i/o timeout") != std::string::npos);
  // One that hangs up mid-handshake.
  {
    wire_client gone(nsqd.tcp_port());
    identify(gone, R"("tls_v1":true)");
    gone.send(std::string("\x16\x03\x01", 3));
  }
  wire_client after = tls_client(nsqd, ctx);
  publish(after, "t", "after");
  BOOST_TEST(nsqd.running());
}

BOOST_AUTO_TEST_CASE(start_up_errors_use_upstream_texts) {
  struct bad {
    std::vector<std::string> flags;
    std::string says;
  };
  const std::string missing = certs().dir().file("missing.pem");
  const std::vector<bad> cases = {
      {{"--tls-cert=" + missing, "--tls-key=" + certs().file("server.key")},
       "failed to build TLS config - open " + missing + ": no such file or directory"},
      {{"--tls-cert=" + certs().file("server.pem"), "--tls-key=" + certs().file("other.key")},
       "failed to build TLS config - tls: private key does not match public key"},
      {tls_server_flags({"--tls-root-ca-file=" + missing}),
       "failed to build TLS config - open " + missing + ": no such file or directory"},
      {{"--tls-required=true"}, "cannot require TLS client connections without TLS key and cert"},
      {{"--tls-client-auth-policy=require"}, "cannot require TLS client connections without TLS key and cert"},
      // Without a certificate the server config is not built; the client config (auth
      // servers) still is, from the root CA file.
      {{"--tls-root-ca-file=" + missing}, "failed to build client TLS config - open " + missing + ": no such file or directory"},
  };
  for (const bad& b : cases) {
    nsqd_process nsqd;
    exit_result r = nsqd.run_to_exit(b.flags);
    BOOST_TEST(r.code == 1, b.says);
    BOOST_TEST(r.output.find("FATAL: failed to instantiate nsqd - " + b.says) != std::string::npos, r.output);
  }
}

BOOST_AUTO_TEST_CASE(handshakes_in_a_row_leave_no_memory_behind) {
  nsqd_process nsqd;
  nsqd.start(tls_server_flags({"--cores=2"}));
  const auto ctx = client_context();
  auto handshakes = [&](int n) {
    for (int i = 0; i < n; ++i) {
      wire_client c = tls_client(nsqd, ctx);
      c.send_command("NOP");
    }
  };
  handshakes(300);  // warm-up: allocator pools, session ticket keys, the shards' buffers
  const long before = resident_kib(nsqd.pid());
  handshakes(1500);
  const long after = resident_kib(nsqd.pid());
  // A session kept per connection would be 1500 x several KiB. (Under ASan freed memory waits
  // in its quarantine, so there LSan's check at exit is the test.)
#ifndef __SANITIZE_ADDRESS__
  BOOST_TEST(after - before < 2048, "resident memory grew from " << before << " KiB to " << after << " KiB");
#else
  BOOST_TEST(after > 0, "resident memory " << before << " KiB, then " << after << " KiB");
#endif
  BOOST_TEST(nsqd.stop(SIGTERM) == 0);
}
