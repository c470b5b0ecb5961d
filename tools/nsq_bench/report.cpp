#include "nsq_bench/report.hpp"

#include <cstdio>

#include <boost/json.hpp>

namespace nsqd::nsq_bench {

namespace {

std::string printf_string(const char* fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

double per_second(std::uint64_t n, std::uint64_t window_ns) {
  return window_ns ? double(n) * 1e9 / double(window_ns) : 0.0;
}

const char* mode_name(run_mode m) {
  return m == run_mode::both ? "both" : m == run_mode::pub ? "pub" : "sub";
}

std::string settings(const bench_options& o) {
  std::string out = printf_string("nsq_bench %s:%u topic=%s channel=%s mode=%s", o.host.c_str(),
                                  unsigned(o.port), o.topic.c_str(), o.channel.c_str(),
                                  mode_name(o.mode));
  if (o.mode != run_mode::sub)
    out += printf_string(" publishers=%u %s batch=%u size=%zu pipeline=%u rate=%s", o.publishers,
                         o.command == pub_command::mpub ? "mpub" : "pub", o.batch, o.size,
                         o.pipeline, o.rate ? std::to_string(o.rate).c_str() : "max");
  if (o.mode != run_mode::pub) out += printf_string(" consumers=%u rdy=%u", o.consumers, o.rdy);
  if (o.count) out += " count=" + std::to_string(*o.count);
  if (o.duration) out += " duration=" + format_ns(std::uint64_t(o.duration->count()));
  return out;
}

}  // namespace

std::string format_ns(std::uint64_t ns) {
  double v = double(ns);
  if (ns < 1000) return printf_string("%lluns", (unsigned long long)ns);
  if (ns < 1000000) return printf_string("%.1fus", v / 1e3);
  if (ns < 1000000000) return printf_string("%.2fms", v / 1e6);
  return printf_string("%.2fs", v / 1e9);
}

std::string format_text(const bench_options& o, const bench_summary& s) {
  std::string out = settings(o) + "\n";
  if (o.mode != run_mode::sub) {
    double rate = per_second(s.published, s.pub_window_ns);
    out += printf_string("publish: %llu msgs in %s = %.0f msgs/s, %.2f MB/s (%llu commands)\n",
                         (unsigned long long)s.published, format_ns(s.pub_window_ns).c_str(),
                         rate, rate * double(o.size) / 1e6,
                         (unsigned long long)s.pub_commands);
  }
  if (o.mode != run_mode::pub) {
    double rate = per_second(s.received, s.sub_window_ns);
    double bytes = per_second(s.received_bytes, s.sub_window_ns);
    out += printf_string("consume: %llu msgs in %s = %.0f msgs/s, %.2f MB/s (rdy %u)\n",
                         (unsigned long long)s.received, format_ns(s.sub_window_ns).c_str(),
                         rate, bytes / 1e6, s.rdy);
    const latency_histogram& h = s.latency;
    if (h.count() == 0)
      out += "latency (publish -> receive): no samples\n";
    else
      out += "latency (publish -> receive): p50 " + format_ns(h.percentile(50)) + "  p99 " +
             format_ns(h.percentile(99)) + "  p99.9 " + format_ns(h.percentile(99.9)) +
             "  max " + format_ns(h.max()) + "  min " + format_ns(h.min()) + "  mean " +
             format_ns(std::uint64_t(h.mean())) + "  (" + std::to_string(h.count()) +
             " samples)\n";
    out += printf_string("messages: unique %llu, lost %s, duplicated %llu, redelivered %llu, "
                         "foreign %llu",
                         (unsigned long long)s.unique,
                         s.lost ? std::to_string(*s.lost).c_str() : "n/a",
                         (unsigned long long)s.duplicates, (unsigned long long)s.redelivered,
                         (unsigned long long)s.foreign);
    if (s.fin_failed) out += printf_string(", FIN failed %llu", (unsigned long long)s.fin_failed);
    if (s.clock_skew)
      out += printf_string(", from the future %llu", (unsigned long long)s.clock_skew);
    out += "\n";
  }
  if (s.interrupted) out += "interrupted\n";
  for (const std::string& e : s.errors) out += "error: " + e + "\n";
  return out;
}

std::string format_json(const bench_options& o, const bench_summary& s) {
  boost::json::object j;
  j["settings"] = settings(o);
  j["run_id"] = s.run_id;
  if (o.mode != run_mode::sub) {
    double rate = per_second(s.published, s.pub_window_ns);
    j["publish"] = {{"messages", s.published},
                    {"commands", s.pub_commands},
                    {"seconds", double(s.pub_window_ns) / 1e9},
                    {"msgs_per_s", rate},
                    {"mb_per_s", rate * double(o.size) / 1e6}};
  }
  if (o.mode != run_mode::pub) {
    const latency_histogram& h = s.latency;
    j["consume"] = {{"messages", s.received},
                    {"seconds", double(s.sub_window_ns) / 1e9},
                    {"msgs_per_s", per_second(s.received, s.sub_window_ns)},
                    {"mb_per_s", per_second(s.received_bytes, s.sub_window_ns) / 1e6},
                    {"rdy", s.rdy}};
    j["latency_ns"] = {{"p50", h.percentile(50)},     {"p99", h.percentile(99)},
                       {"p99_9", h.percentile(99.9)}, {"max", h.max()},
                       {"min", h.min()},              {"mean", h.mean()},
                       {"samples", h.count()}};
    boost::json::object m{{"unique", s.unique},           {"duplicated", s.duplicates},
                          {"redelivered", s.redelivered}, {"foreign", s.foreign},
                          {"fin_failed", s.fin_failed},   {"clock_skew", s.clock_skew}};
    if (s.lost)
      m["lost"] = *s.lost;
    else
      m["lost"] = nullptr;
    j["messages"] = std::move(m);
  }
  j["interrupted"] = s.interrupted;
  boost::json::array errors;
  for (const std::string& e : s.errors) errors.emplace_back(e);
  j["errors"] = std::move(errors);
  return boost::json::serialize(j) + "\n";
}

int exit_code(const bench_summary& s) {
  if (!s.errors.empty()) return 1;
  if ((s.lost && *s.lost > 0) || s.duplicates > 0) return 3;
  return 0;
}

}  // namespace nsqd::nsq_bench
