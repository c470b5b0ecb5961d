#pragma once
// bench_options: what runtime_bench measures, parsed from argv.
//
//   runtime_bench [--connections=1,64] [--sizes=64,512,4096] [--runs=5] [--duration=3s]
//                 [--warmup=500ms] [--shards=1] [--threads=1] [--mode=both|reactor|epoll]
//                 [--epoll=lt|et] [--reactor-recv=plain|poll-first|multishot] [--spin]
//                 [--max-other-load=0.1] [--patience=120s] [--verbose]
//   runtime_bench --serve --mode=reactor|epoll [--port=0] [--sizes=N] [--duration=10s]
//   runtime_bench --connect=PORT [--connections=N] [--sizes=N] [--duration=3s]
//
// The split roles run one server (or one client) alone, so that `strace -f -c` of a server
// process sees only the server's system calls. parse() throws std::invalid_argument with a
// message naming the bad flag; usage() is the help text.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nsqd::bench {

enum class server_kind { epoll, reactor };
enum class run_mode { both, reactor, epoll };
enum class role { matrix, serve, connect };
// How the reactor server receives (experiments; `plain` is core::recv, what nsqd uses today):
// poll_first sets IORING_RECVSEND_POLL_FIRST (no inline attempt that would see EAGAIN);
// multishot is one multishot RECV per connection on a provided-buffer ring (recv_stream.hpp).
enum class recv_kind { plain, poll_first, multishot };

struct bench_options {
  std::vector<unsigned> connections{1, 64};
  std::vector<size_t> sizes{64, 512, 4096};
  unsigned runs = 5;
  std::chrono::nanoseconds duration = std::chrono::seconds(3);
  std::chrono::nanoseconds warmup = std::chrono::milliseconds(500);
  unsigned shards = 1;          // server threads (reactor shards or epoll loops)
  unsigned client_threads = 1;  // connections are spread round-robin over these
  run_mode mode = run_mode::both;
  bool edge_triggered = false;                // --epoll=et: the epoll server uses EPOLLET
  recv_kind reactor_recv = recv_kind::plain;  // --reactor-recv=plain|poll-first|multishot
  bool spin = false;            // --spin: server threads poll and never sleep (both servers)
  bool verbose = false;         // one line per run on stderr
  double max_other_load = 0.1;  // CPUs others may use during a run before it is redone (0: off)
  std::chrono::nanoseconds patience = std::chrono::seconds(120);  // waiting for quiet, per retry
  role what = role::matrix;
  uint16_t port = 0;         // --serve: where to listen (0: any); --connect: where to go
  std::string command_line;  // argv joined, for the report
};

bench_options parse(int argc, char** argv);
std::string usage();

// "3s", "500ms", "250us", "2.5s", or a bare number of seconds.
std::chrono::nanoseconds parse_duration(const std::string& text);
// "1,64,256": a non-empty list of positive integers.
std::vector<uint64_t> parse_list(const std::string& text);

}  // namespace nsqd::bench
