// runtime_bench: loopback request/response throughput of the core runtime (io_uring reactor)
// against a plain epoll loop of the same shape, side by side, as a Markdown table.
// See tools/bench/options.hpp for the flags and tools/bench/README.md for what it measures.

#include <csignal>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <vector>

#include "bench/options.hpp"
#include "bench/report.hpp"
#include "bench/runner.hpp"

namespace {

using namespace nsqd::bench;

void progress(const bench_options& o, const char* name, const cell_result& c, unsigned run,
              const sample& s) {
  if (!o.verbose) return;
  std::fprintf(stderr,
               "%-7s conns=%-5u size=%-6zu run %u: %12s msg/s  server CPU %3.0f%%  client CPU "
               "%3.0f%%  others %3.0f%%",
               name, c.connections, c.size, run + 1, with_commas(s.rate).c_str(),
               100 * s.server_cpu, 100 * s.client_cpu, 100 * s.others_cpu);
  if (s.totals.enters && s.round_trips)
    std::fprintf(stderr, "  enters/msg %.2f  cqes/msg %.2f",
                 double(s.totals.enters) / double(s.round_trips),
                 double(s.totals.cqes) / double(s.round_trips));
  std::fprintf(stderr, "%s\n", s.noisy ? "  (noisy)" : "");
}

int run_matrix(const bench_options& o) {
  bool want_epoll = o.mode != run_mode::reactor;
  bool want_reactor = o.mode != run_mode::epoll;
  std::vector<cell_result> cells;
  for (unsigned conns : o.connections) {
    for (size_t size : o.sizes) {
      cell_result c;
      c.connections = conns;
      c.size = size;
      if (!o.verbose) std::fprintf(stderr, "conns=%u size=%zu ...\n", conns, size);
      for (unsigned run = 0; run < o.runs; ++run) {
        // Alternate which server goes first, so that a drift in the machine's load hits both.
        bool epoll_first = run % 2 == 0;
        for (int turn = 0; turn < 2; ++turn) {
          bool epoll_now = (turn == 0) == epoll_first;
          if (epoll_now && want_epoll) {
            c.epoll.push_back(measure(server_kind::epoll, conns, size, o));
            progress(o, "epoll", c, run, c.epoll.back());
          } else if (!epoll_now && want_reactor) {
            c.reactor.push_back(measure(server_kind::reactor, conns, size, o));
            progress(o, "reactor", c, run, c.reactor.back());
          }
        }
      }
      cells.push_back(std::move(c));
    }
  }
  std::fputs(markdown_report(cells, o).c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  bench_options o;
  try {
    o = parse(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "runtime_bench: %s\n%s", e.what(), usage().c_str());
    return 2;
  }
  try {
    switch (o.what) {
      case role::serve:
        return serve_alone(o);
      case role::connect:
        return connect_alone(o);
      case role::matrix:
        return run_matrix(o);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "runtime_bench: %s\n", e.what());
    return 1;
  }
  return 1;
}
