#pragma once
// The report: Markdown tables of medians, ready to paste into a README, headed by the exact
// command line and the machine it ran on.

#include <cstddef>
#include <string>
#include <vector>

#include "bench/options.hpp"
#include "bench/runner.hpp"

namespace nsqd::bench {

// Every run of one matrix cell; either list is empty when --mode left that server out.
struct cell_result {
  unsigned connections = 0;
  size_t size = 0;
  std::vector<sample> epoll;
  std::vector<sample> reactor;
};

// The middle value (the mean of the two middle ones for an even count); 0 for none.
double median(std::vector<double> values);

// The median over runs i of reactor[i].rate / epoll[i].rate (run i of each server ran back to
// back); 0 when either list is empty.
double paired_ratio(const cell_result& c);

// "1,234,567": a rate rounded to an integer, with thousands separators.
std::string with_commas(double value);

// The main table (msg/s medians and reactor/epoll) and a diagnostics table (CPU use,
// spread, reactor counters per round trip).
std::string markdown_report(const std::vector<cell_result>& cells, const bench_options& o);

}  // namespace nsqd::bench
