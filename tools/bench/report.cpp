#include "bench/report.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "bench/sockets.hpp"

namespace nsqd::bench {

namespace {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string duration_text(std::chrono::nanoseconds d) {
  double s = double(d.count()) / 1e9;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

double median_of(const std::vector<sample>& runs, const std::function<double(const sample&)>& f) {
  std::vector<double> v;
  v.reserve(runs.size());
  for (const sample& s : runs) v.push_back(f(s));
  return median(std::move(v));
}

std::string spread(const std::vector<sample>& runs) {
  if (runs.empty()) return "-";
  auto [lo, hi] = std::minmax_element(
      runs.begin(), runs.end(), [](const sample& a, const sample& b) { return a.rate < b.rate; });
  return with_commas(lo->rate) + " – " + with_commas(hi->rate);
}

std::string percent(const std::vector<sample>& runs, double sample::*field) {
  if (runs.empty()) return "-";
  return fixed(100 * median_of(runs, [field](const sample& s) { return s.*field; }), 0) + " %";
}

// Server CPU per round trip, in microseconds: the cost that matters once a side saturates.
std::string cpu_per_trip(const std::vector<sample>& runs) {
  if (runs.empty()) return "-";
  return fixed(
      median_of(runs, [](const sample& s) { return s.rate > 0 ? 1e6 * s.server_cpu / s.rate : 0; }),
      2);
}

std::string per_trip(const std::vector<sample>& runs, uint64_t reactor_totals::*field) {
  if (runs.empty()) return "-";
  return fixed(median_of(runs,
                         [field](const sample& s) {
                           return s.round_trips ? double(s.totals.*field) / double(s.round_trips)
                                                : 0;
                         }),
               2);
}

}  // namespace

double paired_ratio(const cell_result& c) {
  std::vector<double> ratios;
  for (size_t i = 0; i < c.epoll.size() && i < c.reactor.size(); ++i)
    if (c.epoll[i].rate > 0) ratios.push_back(c.reactor[i].rate / c.epoll[i].rate);
  return median(std::move(ratios));
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string with_commas(double value) {
  if (!std::isfinite(value)) return "-";
  long long v = std::llround(value);
  bool negative = v < 0;
  std::string digits = std::to_string(negative ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return negative ? "-" + out : out;
}

std::string markdown_report(const std::vector<cell_result>& cells, const bench_options& o) {
  std::string out;
  utsname u{};
  uname(&u);
  std::vector<int> cpus = allowed_cpus();
  int client0 = client_cpu(cpus, o.shards, 0);
  out += "Command: `" + o.command_line + "`\n\n";
  out += "Loopback TCP echo, one request outstanding per connection; " +
         std::to_string(cpus.size()) + " CPUs, Linux " + u.release + "; " +
         std::to_string(o.shards) + " server thread(s), " + std::to_string(o.client_threads) +
         " client thread(s)" +
         (client0 >= 0 ? " from CPU " + std::to_string(client0) : std::string(" (unpinned)")) +
         "; epoll " + (o.edge_triggered ? "edge" : "level") + "-triggered; reactor recv: " +
         (o.reactor_recv == recv_kind::plain        ? "core::recv"
          : o.reactor_recv == recv_kind::poll_first ? "POLL_FIRST"
                                                    : "multishot + buffer ring") +
         (o.spin ? "; servers spin (never sleep)" : "") + "; " + duration_text(o.duration) +
         " after " + duration_text(o.warmup) + " of warm-up; median of " + std::to_string(o.runs) +
         " alternating runs.\n\n";

  out += "| connections | size (B) | epoll msg/s | reactor msg/s | reactor/epoll |\n";
  out += "|---:|---:|---:|---:|---:|\n";
  for (const cell_result& c : cells) {
    double e = median_of(c.epoll, [](const sample& s) { return s.rate; });
    double r = median_of(c.reactor, [](const sample& s) { return s.rate; });
    out += "| " + std::to_string(c.connections) + " | " + std::to_string(c.size) + " | " +
           (c.epoll.empty() ? "-" : with_commas(e)) + " | " +
           (c.reactor.empty() ? "-" : with_commas(r)) + " | " +
           (c.epoll.empty() || c.reactor.empty() || e <= 0 ? "-" : fixed(paired_ratio(c), 2)) +
           " |\n";
  }

  size_t noisy = 0, total = 0;
  for (const cell_result& c : cells)
    for (const auto* runs : {&c.epoll, &c.reactor})
      for (const sample& s : *runs) {
        ++total;
        noisy += s.noisy;
      }
  if (noisy)
    out += "\n" + std::to_string(noisy) + " of " + std::to_string(total) +
           " runs had other processes using more than " + fixed(o.max_other_load, 2) +
           " CPUs even after retries: treat these numbers with care.\n";

  out +=
      "\nDiagnostics (medians; CPU is CPU-seconds per second; reactor counters per round trip, "
      "warm-up included):\n\n";
  out +=
      "| connections | size (B) | epoll range msg/s | reactor range msg/s | epoll server CPU | "
      "reactor server CPU | server µs CPU/msg (epoll / reactor) | client CPU (epoll / reactor) | "
      "other load (epoll / reactor) | io_uring_enter | CQEs | loop turns |\n";
  out += "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const cell_result& c : cells) {
    out += "| " + std::to_string(c.connections) + " | " + std::to_string(c.size) + " | " +
           spread(c.epoll) + " | " + spread(c.reactor) + " | " +
           percent(c.epoll, &sample::server_cpu) + " | " + percent(c.reactor, &sample::server_cpu) +
           " | " + cpu_per_trip(c.epoll) + " / " + cpu_per_trip(c.reactor) + " | " +
           percent(c.epoll, &sample::client_cpu) + " / " + percent(c.reactor, &sample::client_cpu) +
           " | " + percent(c.epoll, &sample::others_cpu) + " / " +
           percent(c.reactor, &sample::others_cpu) + " | " +
           per_trip(c.reactor, &reactor_totals::enters) + " | " +
           per_trip(c.reactor, &reactor_totals::cqes) + " | " +
           per_trip(c.reactor, &reactor_totals::loop_turns) + " |\n";
  }
  return out;
}

}  // namespace nsqd::bench
