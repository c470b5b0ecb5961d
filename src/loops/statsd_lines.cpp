// statsd lines and their datagrams: upstream's metric names (nsqd/statsd.go), its client's
// line format (`<prefix><stat>:<value>|c` or `|g`, '\n' ended) and its packing.

#include <malloc.h>

#include <cstddef>
#if defined(__SANITIZE_ADDRESS__)
// libasan's allocator statistics (GCC 12 ships no header declaring them).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
extern "C" std::size_t __sanitizer_get_free_bytes();
#endif

#include <cmath>
#include <cstdio>
#include <limits>
#include <unordered_map>

#include "broker/quantile.hpp"
#include "loops/statsd.hpp"

namespace nsqd::loops {

namespace {

constexpr std::size_t go_default_buffer = 4096;  // bufio's size when asked for <= 0

bool ephemeral(const std::string& name) {
  constexpr std::string_view suffix = "#ephemeral";
  return name.size() >= suffix.size() &&
         std::string_view(name).substr(name.size() - suffix.size()) == suffix;
}

// Go's int64(f) on amd64: truncation, and the "indefinite" INT64_MIN where it does not fit.
std::int64_t go_int64(double f) {
  if (!(f > -9223372036854775808.0 && f < 9223372036854775808.0))
    return std::numeric_limits<std::int64_t>::min();
  return std::int64_t(f);
}

// Go's int64(a - b) of two uint64: the wrapped difference read as signed (negative when a
// counter went down, e.g. a topic deleted and made again between two pushes).
std::int64_t delta(std::uint64_t now, std::uint64_t last) { return std::int64_t(now - last); }

class line_writer {
 public:
  line_writer(statsd_packer& out, const std::string& prefix) : _out(out), _prefix(prefix) {}
  void counter(const std::string& stat, std::int64_t v) { line(stat, v, "|c\n"); }
  void gauge(const std::string& stat, std::int64_t v) { line(stat, v, "|g\n"); }
  // stat_base + "e2e_processing_latency_<P>" for each configured quantile.
  void latency(const std::string& stat_base, const broker::latency_summary& e2e) {
    if (e2e.percentiles.empty()) return;  // no window: upstream's nil percentiles
    for (const auto& p : broker::evaluate(e2e).percentiles) {
      char pct[32];
      std::snprintf(pct, sizeof pct, "%.0f", p.quantile * 100.0);  // Go's %.0f: exact rounding
      gauge(stat_base + "e2e_processing_latency_" + pct, go_int64(p.value));
    }
  }

 private:
  void line(const std::string& stat, std::int64_t v, std::string_view type) {
    _line.assign(_prefix);
    _line += stat;
    _line += ':';
    _line += std::to_string(v);
    _line += type;
    _out.add(_line);
  }
  statsd_packer& _out;
  const std::string& _prefix;
  std::string _line;
};

}  // namespace

statsd_packer::statsd_packer(int packet_size)
    : _size(packet_size > 0 ? std::size_t(packet_size) : go_default_buffer) {}

void statsd_packer::add(std::string_view line) {
  if (!_current.empty() && line.size() > _size - _current.size()) {
    _done.push_back(std::move(_current));
    _current.clear();
  }
  if (line.size() > _size) {
    _done.emplace_back(line);  // too long for any datagram: alone, whole (bufio's direct write)
    return;
  }
  _current += line;
}

std::vector<std::string> statsd_packer::finish() {
  if (!_current.empty()) _done.push_back(std::move(_current));
  _current.clear();
  std::vector<std::string> out = std::move(_done);
  _done.clear();
  return out;
}

statsd_memory read_statsd_memory() {
  statsd_memory m;
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer replaces malloc, and glibc's counters then stay at 0: ask its allocator.
  m.heap_in_use_bytes = std::int64_t(__sanitizer_get_current_allocated_bytes());
  m.heap_idle_bytes = std::int64_t(__sanitizer_get_free_bytes());
#else
  struct mallinfo2 mi = ::mallinfo2();  // every arena summed
  m.heap_in_use_bytes = std::int64_t(mi.uordblks + mi.hblkhd);
  m.heap_idle_bytes = std::int64_t(mi.fordblks);
#endif
  return m;
}

void statsd_stats_lines(statsd_packer& out, const std::string& prefix,
                        const std::vector<broker::topic_stats>& now,
                        const std::vector<broker::topic_stats>& last, bool exclude_ephemeral) {
  std::unordered_map<std::string_view, const broker::topic_stats*> last_topics;
  for (const auto& t : last) last_topics.emplace(t.name, &t);
  const broker::topic_stats none;
  line_writer w(out, prefix);
  for (const auto& t : now) {
    if (exclude_ephemeral && ephemeral(t.name)) continue;
    auto found = last_topics.find(t.name);
    const broker::topic_stats& lt = found == last_topics.end() ? none : *found->second;
    const std::string base = "topic." + t.name + ".";
    w.counter(base + "message_count", delta(t.message_count, lt.message_count));
    w.counter(base + "message_bytes", delta(t.message_bytes, lt.message_bytes));
    w.gauge(base + "depth", t.depth);
    w.gauge(base + "backend_depth", t.backend_depth);
    w.latency(base, t.e2e);

    std::unordered_map<std::string_view, const broker::channel_stats*> last_channels;
    for (const auto& c : lt.channels) last_channels.emplace(c.name, &c);
    const broker::channel_stats no_channel;
    for (const auto& c : t.channels) {
      if (exclude_ephemeral && ephemeral(c.name)) continue;
      auto hit = last_channels.find(c.name);
      const broker::channel_stats& lc = hit == last_channels.end() ? no_channel : *hit->second;
      const std::string cb = base + "channel." + c.name + ".";
      w.counter(cb + "message_count", delta(c.message_count, lc.message_count));
      w.gauge(cb + "depth", c.depth);
      w.gauge(cb + "backend_depth", c.backend_depth);
      w.gauge(cb + "in_flight_count", c.in_flight);
      w.gauge(cb + "deferred_count", c.deferred);
      w.counter(cb + "requeue_count", delta(c.requeue_count, lc.requeue_count));
      w.counter(cb + "timeout_count", delta(c.timeout_count, lc.timeout_count));
      w.gauge(cb + "clients", c.client_count);
      w.latency(cb, c.e2e);
    }
  }
}

void statsd_memory_lines(statsd_packer& out, const std::string& prefix, const statsd_memory& mem) {
  line_writer w(out, prefix);
  w.gauge("mem.heap_idle_bytes", mem.heap_idle_bytes);
  w.gauge("mem.heap_in_use_bytes", mem.heap_in_use_bytes);
}

}  // namespace nsqd::loops
