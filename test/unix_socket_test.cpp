#define BOOST_TEST_MODULE unix_socket
// --tcp-address and --http-address as unix socket paths, as upstream takes them: V2 publish
// and consume over the socket, the HTTP API with `curl --unix-socket` (skipped without
// curl), upstream's /info, /stats, lookupd IDENTIFY and statsd prefix for such a node, a
// stale socket file refused with upstream's error, the files removed at a clean stop; on 1
// and 4 shards.

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "net/socket.hpp"
#include "test/support/fake_lookupd.hpp"
#include "test/support/nsqd_process.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
namespace net = nsqd::net;
namespace bdata = boost::unit_test::data;
namespace fs = std::filesystem;

namespace {

const std::vector<int> shard_counts = {1, 4};
const char* const curl = "/usr/bin/curl";

// `curl --unix-socket` with `args`; the body it printed (empty when it failed).
std::string curl_unix(const temp_dir& dir, const std::string& socket, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {curl, "-s", "--max-time", "5", "--unix-socket", socket};
  argv.insert(argv.end(), args.begin(), args.end());
  child_process c(argv, dir.file("curl.out"));
  std::optional<int> code = c.wait_for(10s);
  std::string out = c.output();
  ::unlink(dir.file("curl.out").c_str());
  return code == 0 ? out : "";
}

BOOST_AUTO_TEST_CASE(unix_or_tcp_as_go_splits_the_address) {
  BOOST_TEST(net::is_unix_address("/run/nsqd/tcp.sock"));
  BOOST_TEST(net::is_unix_address("relative.sock"));
  BOOST_TEST(net::is_unix_address("::1:4150"));  // too many colons for Go: a path
  BOOST_TEST(!net::is_unix_address("127.0.0.1:4150"));
  BOOST_TEST(!net::is_unix_address("[::1]:4150"));
  BOOST_TEST(!net::is_unix_address(":4150"));
}

BOOST_DATA_TEST_CASE(v2_and_http_over_unix_sockets, bdata::make(shard_counts), cores) {
  nsqd_process nsqd;
  const std::string tcp = nsqd.dir().file("tcp.sock"), http = nsqd.dir().file("http.sock");
  fake_lookupd lookupd;
  nsqd.spawn(nsqd.args_with_defaults({"--cores=" + std::to_string(cores), "--tcp-address=" + tcp,
                                      "--http-address=" + http, "--lookupd-tcp-address=" + lookupd.address()}));
  BOOST_TEST_REQUIRE(fake_lookupd::wait_for([&] { return fs::exists(http) && fs::exists(tcp); }));
  BOOST_TEST(fs::is_socket(tcp));

  // Publishers and a consumer over the TCP protocol's socket.
  for (int i = 0; i < 8; ++i) {
    wire_client p = wire_client::unix_socket(tcp);
    p.send_magic();
    p.send_command("PUB t", "m" + std::to_string(i));
    BOOST_TEST(p.read_frame().data == "OK");
  }
  wire_client consumer = wire_client::unix_socket(tcp);
  consumer.send_magic();
  consumer.send_command("SUB t c");
  BOOST_TEST(consumer.read_frame().data == "OK");
  consumer.send_command("RDY 10");
  int received = 0;
  for (; received < 8; ++received) {
    auto f = consumer.read_frame_within(5s);
    if (!f || !parse_message(*f)) break;
    consumer.send_command("FIN " + parse_message(*f)->id);
  }
  BOOST_TEST(received == 8);

  // nsqlookupd hears upstream's broadcast ports for a unix-socket node: 0.
  BOOST_TEST(fake_lookupd::wait_for([&] { return !lookupd.peers().empty() && !lookupd.peers()[0].identify.empty(); }));
  const auto identify = boost::json::parse(lookupd.peers()[0].identify);
  BOOST_TEST(identify.at("tcp_port").to_number<int>() == 0);
  BOOST_TEST(identify.at("http_port").to_number<int>() == 0);

  if (::access(curl, X_OK) == 0) {
    BOOST_TEST(curl_unix(nsqd.dir(), http, {"http://nsqd/ping"}) == "OK");
    BOOST_TEST(curl_unix(nsqd.dir(), http, {"-d", "over http", "http://nsqd/pub?topic=t"}) == "OK");
    // Upstream's answers for unix sockets: ports -1 in /info, "@" for a client's address.
    const auto info = boost::json::parse(curl_unix(nsqd.dir(), http, {"http://nsqd/info"}));
    BOOST_TEST(info.at("tcp_port").to_number<int>() == -1);
    BOOST_TEST(info.at("http_port").to_number<int>() == -1);
    const auto stats = boost::json::parse(curl_unix(nsqd.dir(), http, {"http://nsqd/stats?format=json"}));
    const auto& client = stats.at("topics").at(0).at("channels").at(0).at("clients").at(0);
    BOOST_TEST(client.at("remote_address").as_string() == "@");
    BOOST_TEST(client.at("client_id").as_string() == "");
    BOOST_TEST(curl_unix(nsqd.dir(), http, {"http://nsqd/config/statsd_prefix"}).ends_with("_0."));
    auto f = consumer.read_frame_within(5s);
    BOOST_TEST_REQUIRE(f.has_value());
    BOOST_TEST(parse_message(*f)->body == "over http");
  } else {
    BOOST_TEST_MESSAGE("no " << curl << ": the HTTP checks over the unix socket are not run");
  }

  // A clean stop removes the socket files.
  BOOST_TEST(nsqd.stop() == 0);
  BOOST_TEST(!fs::exists(tcp));
  BOOST_TEST(!fs::exists(http));
}

BOOST_AUTO_TEST_CASE(a_stale_socket_file_is_refused_as_upstream_does) {
  nsqd_process nsqd;
  const std::string tcp = nsqd.dir().file("tcp.sock");
  nsqd.start({"--cores=2", "--tcp-address=" + tcp});
  nsqd.kill();  // a crash leaves the file behind
  BOOST_TEST(fs::exists(tcp));
  auto r = nsqd.run_to_exit({"--cores=2", "--tcp-address=" + tcp});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.output.find("listen (" + tcp + ") failed - listen unix " + tcp + ": bind: address already in use") !=
                 std::string::npos,
             r.output);
  // Once removed, nsqd starts (and it makes a fresh socket).
  fs::remove(tcp);
  nsqd.start({"--cores=2", "--tcp-address=" + tcp});
  wire_client c = wire_client::unix_socket(tcp);
  c.send_magic();
  c.send_command("NOP");
  c.send_command("PUB t", "x");
  BOOST_TEST(c.read_frame().data == "OK");
  BOOST_TEST(nsqd.stop() == 0);
  BOOST_TEST(!fs::exists(tcp));
}

}  // namespace
