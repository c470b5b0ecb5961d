#define BOOST_TEST_MODULE https
// HTTPS, black-box. The listener: the whole HTTP API over TLS on every shard, --tls-required
// on the plain port pointing at it, Go's answer to plain HTTP on it, a unix socket path, a
// passed socket, no listener without a certificate or with --https-address="", handshakes
// that go wrong. The client: auth servers over https, trusted through --tls-root-ca-file, and
// upstream's retry on https after a 403 that names an https_port.

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "test/support/nsqd_process.hpp"
#include "test/support/socket_activate.hpp"
#include "test/support/script_server.hpp"
#include "test/support/test_certificates.hpp"
#include "test/support/tls_client.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
using namespace std::chrono_literals;

namespace {

// An HTTP/1.1 client on the HTTPS port, after the handshake.
http_client https_client(const nsqd_process& nsqd, const nsqd::net::tls_context& ctx) {
  http_client h(nsqd.https_port());
  start_tls(h.connection(), ctx);
  return h;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_api_over_https_on_every_shard) {
  const auto ctx = client_context();
  for (int cores : {1, 4}) {
    nsqd_process nsqd;
    nsqd.start(tls_server_flags({"--cores=" + std::to_string(cores)}));
    // Several connections: the kernel spreads them over the shards' listeners.
    for (int i = 0; i < 8; ++i) {
      http_client h = https_client(nsqd, ctx);
      http_response ping = h.get("/ping");
      BOOST_TEST(ping.status == 200);
      BOOST_TEST(ping.body == "OK");
      // Kept alive: more requests on the same TLS connection, a body of several records.
      const std::string body(64 * 1024, char('a' + i));
      BOOST_TEST(h.post("/pub?topic=secure", body).body == "OK");
    }
    http_client h = https_client(nsqd, ctx);
    http_response stats = h.get("/stats?format=json&topic=secure");
    BOOST_TEST(stats.status == 200);
    BOOST_TEST(stats.body.find(R"("message_count":8)") != std::string::npos, stats.body);
    BOOST_TEST(nsqd.output().find("HTTPS: listening on " + nsqd.https_address()) != std::string::npos);
    BOOST_TEST(nsqd.stop(SIGTERM) == 0);
  }
}

BOOST_AUTO_TEST_CASE(tls_required_sends_plain_http_to_the_https_port) {
  nsqd_process nsqd;
  nsqd.start(tls_server_flags({"--tls-required=true"}));
  http_response plain = http_get(nsqd.http_port(), "/ping");
  BOOST_TEST(plain.status == 403);
  BOOST_TEST(plain.body == R"({"message": "TLS_REQUIRED", "https_port": )" + std::to_string(nsqd.https_port()) + "}");
  http_client h = https_client(nsqd, client_context());
  BOOST_TEST(h.get("/ping").status == 200);
  BOOST_TEST(h.post("/pub?topic=t", "x").body == "OK");
}

BOOST_AUTO_TEST_CASE(plain_http_on_the_https_port_gets_gos_answer) {
  nsqd_process nsqd;
  nsqd.start(tls_server_flags());
  wire_client c(nsqd.https_port());
  c.send("GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n");
  BOOST_TEST(c.read_to_eof(3s) == "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
}

BOOST_AUTO_TEST_CASE(no_listener_without_a_certificate_or_an_address) {
  {
    nsqd_process nsqd;
    nsqd.start({"--https-address=" + nsqd.https_address()});
    BOOST_TEST(!port_accepts(nsqd.https_port()));
  }
  {
    nsqd_process nsqd;
    nsqd.start(tls_server_flags({"--https-address="}));
    BOOST_TEST(!port_accepts(nsqd.https_port()));
    BOOST_TEST(nsqd.output().find("HTTPS: listening") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(https_on_a_unix_socket) {
  nsqd_process nsqd;
  const std::string path = nsqd.dir().file("https.sock");
  nsqd.start(tls_server_flags({"--https-address=" + path, "--cores=2"}));
  wire_client c = wire_client::unix_socket(path);
  start_tls(c, client_context());
  c.send(http_request_bytes("GET", "/ping", "localhost", "", {"Connection: close"}));
  const std::string answer = c.read_to_eof();
  BOOST_TEST(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0u, answer);
  BOOST_TEST(answer.substr(answer.size() - 2) == "OK");
  BOOST_TEST(nsqd.stop(SIGTERM) == 0);
  BOOST_TEST(!std::filesystem::exists(path));  // removed at a clean stop, as Go's listener
}

BOOST_AUTO_TEST_CASE(failed_handshakes_end_only_their_connection) {
  nsqd_process nsqd;
  nsqd.start(tls_server_flags({"--cores=1"}));
  const auto ctx = client_context();
  wire_client garbage(nsqd.https_port());
  garbage.send(std::string(64, 'G'));
  garbage.read_to_eof(3s);  // an alert, then the close
  wire_client stalled(nsqd.https_port());
  stalled.send(std::string("\x16\x03\x01\x02\x00\x01", 6));
  http_client other = https_client(nsqd, ctx);
  BOOST_TEST(other.get("/ping").status == 200);
  BOOST_TEST(stalled.read_to_eof(8s).empty());  // closed after the 5 s handshake deadline
  BOOST_TEST(nsqd.output().find("http: TLS handshake error from") != std::string::npos);
  BOOST_TEST(nsqd.running());
}

// systemd-socket-activate holds the three sockets and starts nsqd at the first connection
// (an HTTPS one); --https-address names a path nsqd could not bind, so serving proves it
// took the passed socket.
BOOST_AUTO_TEST_CASE(a_passed_https_socket_is_served, *boost::unit_test::precondition(has_socket_activate)) {
  nsqd_process paths;
  std::vector<std::string> argv = {socket_activate, "-l", paths.tcp_address(), "-l", paths.http_address(),
                                   "-l", paths.https_address(), "--fdname=tcp:http:https", "--",
                                   nsqd_binary(), "--data-path=" + paths.data_path(), "--cores=2",
                                   "--https-address=/nonexistent-dir/https.sock"};
  const std::vector<std::string> tls = tls_server_flags();
  argv.insert(argv.end(), tls.begin(), tls.end());
  child_process activated(argv, paths.dir().file("activated.log"));
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!port_accepts(paths.https_port()) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  http_client h = https_client(paths, client_context());
  BOOST_TEST(h.get("/ping", 10s).body == "OK");
  BOOST_TEST(activated.output().find("HTTPS: listening on socket passed by systemd") != std::string::npos,
             activated.output());
  BOOST_TEST(activated.stop(SIGTERM, 10s) == 0);
}

// ---- auth servers over https -------------------------------------------------------------------

nsqd::net::tls_context auth_server_context() {
  nsqd::net::tls_server_options o;
  o.cert_file = certs().file("server.pem");  // names localhost and 127.0.0.1
  o.key_file = certs().file("server.key");
  return nsqd::net::tls_context::server(o);
}

reply allow_all(const seen_request&) {
  return status(200, R"({"ttl":3600,"identity":"https-user","identity_url":"",)"
                     R"("authorizations":[{"topic":".*","channels":[".*"],"permissions":["publish"]}]})");
}

// AUTH on a plain V2 connection; the answer frame.
frame authenticate(const nsqd_process& nsqd) {
  wire_client c(nsqd.tcp_port());
  c.send_magic();
  c.send_command("AUTH", std::string("s3cret"));
  return c.read_frame();
}

BOOST_AUTO_TEST_CASE(auth_server_over_https_trusted_through_the_root_ca_file) {
  const auto server_ctx = auth_server_context();
  script_server auth(allow_all, &server_ctx);
  nsqd_process nsqd;
  nsqd.start({"--auth-http-address=https://localhost:" + std::to_string(auth.port()) + "/auth",
              "--tls-root-ca-file=" + certs().file("ca.pem")});
  BOOST_TEST(authenticate(nsqd).data == R"({"identity":"https-user","identity_url":"","permission_count":1})");
  BOOST_REQUIRE(auth.count() == 1u);
  BOOST_TEST(auth.requests()[0].query["secret"] == "s3cret");
}

BOOST_AUTO_TEST_CASE(auth_server_over_https_not_trusted_fails_the_auth) {
  const auto server_ctx = auth_server_context();
  script_server auth(allow_all, &server_ctx);
  nsqd_process nsqd;
  nsqd.start({"--auth-http-address=https://localhost:" + std::to_string(auth.port()) + "/auth"});
  const frame f = authenticate(nsqd);
  BOOST_TEST(f.type == frame_error);
  BOOST_TEST(f.data == "E_AUTH_FAILED AUTH failed");  // the reason goes to the log, as upstream
  BOOST_TEST(nsqd.output().find("x509: certificate signed by unknown authority") != std::string::npos, nsqd.output());
  BOOST_TEST(auth.count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_403_naming_an_https_port_is_asked_again_over_https) {
  const auto server_ctx = auth_server_context();
  script_server secure(allow_all, &server_ctx);
  const std::string port = std::to_string(secure.port());
  script_server plain([port](const seen_request&) {
    return status(403, R"({"message": "TLS_REQUIRED", "https_port": )" + port + "}");
  });
  for (std::string method : {"get", "post"}) {
    nsqd_process nsqd;
    nsqd.start({"--auth-http-address=" + plain.address(), "--auth-http-request-method=" + method,
                "--tls-root-ca-file=" + certs().file("ca.pem")});
    BOOST_TEST(authenticate(nsqd).data == R"({"identity":"https-user","identity_url":"","permission_count":1})",
               method);
  }
  BOOST_TEST(plain.count() == 2u);
  BOOST_REQUIRE(secure.count() == 2u);
  BOOST_TEST(secure.requests()[0].method == "GET");
  BOOST_TEST(secure.requests()[0].path == "/auth");
  BOOST_TEST(secure.requests()[0].query["secret"] == "s3cret");  // the query goes along
  BOOST_TEST(secure.requests()[1].method == "POST");
  BOOST_TEST(secure.requests()[1].body.find("s3cret") != std::string::npos);
}
