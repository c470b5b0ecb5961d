#pragma once
// nsq_bench options: what to run against which nsqd, parsed from argv.
//
//   nsq_bench [--nsqd-tcp-address=127.0.0.1:4150] [--topic=T] [--channel=C]
//             [--mode=both|pub|sub] [--publishers=1] [--consumers=1]
//             [--pub-cmd=mpub|pub] [--batch=200] [--size=200] [--pipeline=1] [--rate=0]
//             [--rdy=2500] [--duration=10s] [--count=N] [--drain-timeout=5s]
//             [--output-buffer-timeout=DUR] [--tls] [--json] [--quiet]
//
// parse() throws std::invalid_argument naming the bad flag; usage() is the help text.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace nsqd::nsq_bench {

enum class run_mode { both, pub, sub };
enum class pub_command { mpub, pub };

struct bench_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 4150;
  std::string topic = "bench";
  std::string channel = "bench";
  run_mode mode = run_mode::both;
  unsigned publishers = 1;
  unsigned consumers = 1;
  pub_command command = pub_command::mpub;
  unsigned batch = 200;       // messages per MPUB (PUB: always 1)
  std::size_t size = 200;     // message body bytes, >= payload_header_size
  unsigned pipeline = 1;      // PUB/MPUB commands a publisher sends before awaiting their OKs
  std::uint64_t rate = 0;     // total publish cap in msgs/s over all publishers; 0 = no cap
  unsigned rdy = 2500;        // RDY window per consumer (clamped to the server's max_rdy_count)
  // Publishing stops after `duration` (pub/both) or `count` messages, whichever comes first;
  // with --count alone there is no time limit. Consumers in `sub` mode stop likewise.
  std::optional<std::chrono::nanoseconds> duration = std::chrono::seconds(10);
  std::optional<std::uint64_t> count;
  // Consumers give up once publishing is over (or, in `sub` mode with --count, once the
  // first message was seen) and nothing arrived for this long.
  std::chrono::nanoseconds drain_timeout = std::chrono::seconds(5);
  // Sent in the consumers' IDENTIFY when given (else the server default, 250ms upstream):
  // how long nsqd may hold message frames in its output buffer.
  std::optional<std::chrono::milliseconds> output_buffer_timeout;
  bool tls = false;           // IDENTIFY tls_v1 on every connection, then TLS (no cert check)
  bool json = false;          // print the summary as one JSON object instead of text
  bool quiet = false;         // no per-second progress lines on stderr
  bool help = false;
};

bench_options parse(int argc, const char* const* argv);
std::string usage();

// "10s", "500ms", "250us", "1.5s", "2m" or a bare number of seconds.
std::chrono::nanoseconds parse_duration(const std::string& text);
// "host:port" or ":port" (host defaults to 127.0.0.1); "[::1]:4150" for IPv6.
void parse_address(const std::string& text, std::string& host, std::uint16_t& port);

}  // namespace nsqd::nsq_bench
