#define BOOST_TEST_MODULE connections
// Idle connections hold no buffers (issue 17): a connection takes a small input buffer when
// it reads and gives it back after net::connection::idle_after (1 s) with nothing buffered; a
// V2 client's output buffers go the same way. Black-box on four shards: memory per idle
// connection, and that nothing a client sends is lost or cut across the give-back (a command
// split by a pause, a body split by one, a large request after one).

#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "test/support/nsqd_process.hpp"
#include "test/support/process_figures.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;

namespace {

const frame ok_frame{frame_response, "OK"};
constexpr auto past_idle = std::chrono::milliseconds(1600);  // idle_after (1 s) and a margin

void raise_descriptor_limit() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
}


}  // namespace

BOOST_AUTO_TEST_SUITE(idle_connections)

BOOST_AUTO_TEST_CASE(hold_no_buffers_and_still_serve_after) {
  raise_descriptor_limit();
  nsqd_process nsqd;
  nsqd.start({"--cores=4"});
  {  // the topic exists before the baseline: only connections grow it
    wire_client warm(nsqd.tcp_port());
    warm.send_magic();
    warm.send_command("PUB idle", "warm-up");
    BOOST_REQUIRE(warm.read_frame() == ok_frame);
  }
  std::this_thread::sleep_for(past_idle);
  const long before_kb = resident_kb(nsqd.pid());

  constexpr int count = 2000;
  std::vector<wire_client> clients;
  clients.reserve(count);
  for (int i = 0; i < count; ++i) {
    clients.emplace_back(nsqd.tcp_port());
    clients.back().send_magic();
    clients.back().send_command("PUB idle", "m" + std::to_string(i));  // input and output used
  }
  deadline d(30s);
  for (auto& c : clients) BOOST_REQUIRE(c.read_frame(d.left()) == ok_frame);
  std::this_thread::sleep_for(past_idle);
  const long per_connection_bytes = (resident_kb(nsqd.pid()) - before_kb) * 1024 / count;
  BOOST_TEST_MESSAGE("resident memory per idle connection: " << per_connection_bytes << " B");
#if !defined(__SANITIZE_ADDRESS__)  // (AddressSanitizer's redzones and quarantine add their own)
  // With a 16 KB input buffer each it was 19-20 KB (frames, client state: about 3 KB).
  BOOST_TEST(per_connection_bytes < 8 * 1024);
#endif

  // Every connection takes a buffer again when it speaks.
  for (auto& c : clients) c.send_command("PUB idle", "again");
  deadline again(30s);
  for (auto& c : clients) BOOST_REQUIRE(c.read_frame(again.left()) == ok_frame);
}

BOOST_AUTO_TEST_CASE(a_command_or_body_split_by_a_pause_is_read_whole) {
  nsqd_process nsqd;
  nsqd.start({"--cores=4"});
  wire_client consumer(nsqd.tcp_port());
  consumer.send_magic();
  consumer.send_command("SUB split ch");
  BOOST_REQUIRE(consumer.read_frame() == ok_frame);
  consumer.send_command("RDY 10");

  wire_client p(nsqd.tcp_port());
  p.send_magic();
  const std::string first(3000, 'a');
  p.send("PUB spl");  // a line cut by a pause
  std::this_thread::sleep_for(past_idle);
  p.send("it\n" + be32(std::uint32_t(first.size())) + first.substr(0, 1000));  // and its body
  std::this_thread::sleep_for(past_idle);
  p.send(first.substr(1000));
  BOOST_TEST(p.read_frame() == ok_frame);

  std::this_thread::sleep_for(past_idle);  // idle with nothing buffered: the buffer goes back
  std::vector<std::string> bodies;
  std::string mpub = be32(20);
  for (int i = 0; i < 20; ++i) {
    bodies.push_back(std::string(5000 + std::size_t(i), char('b' + i % 20)));
    mpub += be32(std::uint32_t(bodies.back().size())) + bodies.back();
  }
  p.send_command("MPUB split", mpub);  // 100 KB at once into a buffer taken anew
  BOOST_TEST(p.read_frame() == ok_frame);

  std::optional<wire_message> m = next_message(consumer, 10s);
  BOOST_REQUIRE(m);
  BOOST_TEST(m->body == first);
  consumer.send("FIN " + m->id + "\n");
  for (const auto& want : bodies) {
    m = next_message(consumer, 10s);
    BOOST_REQUIRE(m);
    BOOST_TEST(m->body == want);
    consumer.send("FIN " + m->id + "\n");
  }
}

BOOST_AUTO_TEST_CASE(a_kept_alive_http_connection_takes_a_large_request_after_a_pause) {
  nsqd_process nsqd;
  nsqd.start({"--cores=4"});
  wire_client h(nsqd.http_port());
  h.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(h.read_until("\r\n\r\n").starts_with("HTTP/1.1 200"));
  BOOST_TEST(h.read_exact(2) == "OK");
  std::this_thread::sleep_for(past_idle);
  const std::string body(20000, 'h');
  h.send("POST /pub?topic=http_idle HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(6000, 'p') +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  BOOST_TEST(h.read_until("\r\n\r\n").starts_with("HTTP/1.1 200"));
  BOOST_TEST(h.read_exact(2) == "OK");
}

BOOST_AUTO_TEST_SUITE_END()
