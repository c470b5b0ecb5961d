#include "bench/options.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string_view>

namespace nsqd::bench {

namespace {

uint64_t parse_positive(std::string_view text, std::string_view what) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != text.npos)
    throw std::invalid_argument(std::string(what) + ": not a positive integer: '" +
                                std::string(text) + "'");
  uint64_t v = std::strtoull(std::string(text).c_str(), nullptr, 10);
  if (v == 0) throw std::invalid_argument(std::string(what) + ": must be at least 1");
  return v;
}

unsigned parse_count(const std::string& text, std::string_view what, uint64_t max) {
  uint64_t v = parse_positive(text, what);
  if (v > max) throw std::invalid_argument(std::string(what) + ": at most " + std::to_string(max));
  return unsigned(v);
}

}  // namespace

std::chrono::nanoseconds parse_duration(const std::string& text) {
  size_t unit_at = text.find_first_not_of("0123456789.");
  std::string number = text.substr(0, unit_at);
  std::string unit = unit_at == text.npos ? "s" : text.substr(unit_at);
  if (number.empty() || number.find('.') != number.rfind('.') || number == ".")
    throw std::invalid_argument("bad duration: '" + text + "'");
  double scale;
  if (unit == "s")
    scale = 1e9;
  else if (unit == "ms")
    scale = 1e6;
  else if (unit == "us")
    scale = 1e3;
  else
    throw std::invalid_argument("bad duration unit in '" + text + "' (use s, ms or us)");
  double ns = std::strtod(number.c_str(), nullptr) * scale;
  if (ns > 86400e9) throw std::invalid_argument("duration too long: '" + text + "'");
  return std::chrono::nanoseconds(int64_t(ns));
}

std::vector<uint64_t> parse_list(const std::string& text) {
  std::vector<uint64_t> out;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    out.push_back(parse_positive(std::string_view(text).substr(start, comma - start), "list"));
    if (comma == text.npos) break;
    start = comma + 1;
  }
  return out;
}

bench_options parse(int argc, char** argv) {
  bench_options o;
  for (int i = 0; i < argc; ++i) {
    if (i) o.command_line += ' ';
    o.command_line += argv[i];
  }
  bool sizes_given = false, connections_given = false, duration_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    std::string name = arg.substr(0, eq);
    std::string value = eq == arg.npos ? std::string() : arg.substr(eq + 1);
    bool has_value = eq != arg.npos;
    auto need_value = [&] {
      if (!has_value || value.empty()) throw std::invalid_argument(name + " needs a value");
    };
    if (name == "--connections") {
      need_value();
      o.connections.clear();
      for (uint64_t v : parse_list(value)) {
        if (v > 60000) throw std::invalid_argument("--connections: at most 60000");
        o.connections.push_back(unsigned(v));
      }
      connections_given = true;
    } else if (name == "--sizes") {
      need_value();
      o.sizes.clear();
      for (uint64_t v : parse_list(value)) {
        if (v > (16u << 20)) throw std::invalid_argument("--sizes: at most 16 MiB");
        o.sizes.push_back(size_t(v));
      }
      sizes_given = true;
    } else if (name == "--runs") {
      need_value();
      o.runs = parse_count(value, name, 1000);
    } else if (name == "--duration") {
      need_value();
      o.duration = parse_duration(value);
      if (o.duration.count() <= 0) throw std::invalid_argument("--duration must be positive");
      duration_given = true;
    } else if (name == "--warmup") {
      need_value();
      o.warmup = parse_duration(value);
    } else if (name == "--shards") {
      need_value();
      o.shards = parse_count(value, name, 256);
    } else if (name == "--threads") {
      need_value();
      o.client_threads = parse_count(value, name, 256);
    } else if (name == "--mode") {
      need_value();
      if (value == "both")
        o.mode = run_mode::both;
      else if (value == "reactor")
        o.mode = run_mode::reactor;
      else if (value == "epoll")
        o.mode = run_mode::epoll;
      else
        throw std::invalid_argument("--mode: one of both, reactor, epoll");
    } else if (name == "--epoll") {
      need_value();
      if (value == "lt")
        o.edge_triggered = false;
      else if (value == "et")
        o.edge_triggered = true;
      else
        throw std::invalid_argument("--epoll: lt or et");
    } else if (name == "--reactor-recv") {
      need_value();
      if (value == "plain")
        o.reactor_recv = recv_kind::plain;
      else if (value == "poll-first")
        o.reactor_recv = recv_kind::poll_first;
      else if (value == "multishot")
        o.reactor_recv = recv_kind::multishot;
      else
        throw std::invalid_argument("--reactor-recv: plain, poll-first or multishot");
    } else if (name == "--max-other-load") {
      need_value();
      char* end = nullptr;
      o.max_other_load = std::strtod(value.c_str(), &end);
      if (*end != '\0' || !(o.max_other_load >= 0) || o.max_other_load > 1024)
        throw std::invalid_argument("--max-other-load: a number of CPUs, e.g. 0.1 (0: off)");
    } else if (name == "--patience") {
      need_value();
      o.patience = parse_duration(value);
    } else if (name == "--spin" && !has_value) {
      o.spin = true;
    } else if (name == "--verbose" && !has_value) {
      o.verbose = true;
    } else if (name == "--serve" && !has_value) {
      o.what = role::serve;
    } else if (name == "--port") {
      need_value();
      o.port = uint16_t(parse_count(value, name, 65535));
    } else if (name == "--connect") {
      need_value();
      o.what = role::connect;
      o.port = uint16_t(parse_count(value, name, 65535));
    } else {
      throw std::invalid_argument("unknown argument: " + arg);
    }
  }
  if (o.what != role::matrix) {
    if (o.sizes.size() != 1 || !sizes_given)
      throw std::invalid_argument("--serve and --connect need exactly one --sizes value");
    if (o.what == role::connect && o.connections.size() != 1 && connections_given)
      throw std::invalid_argument("--connect needs exactly one --connections value");
    if (o.what == role::connect && !connections_given) o.connections = {1};
    if (o.what == role::serve && o.mode == run_mode::both)
      throw std::invalid_argument("--serve needs --mode=reactor or --mode=epoll");
    if (o.what == role::serve && !duration_given) o.duration = std::chrono::seconds(10);
  }
  return o;
}

std::string usage() {
  return "usage:\n"
         "  runtime_bench [--connections=1,64] [--sizes=64,512,4096] [--runs=5] [--duration=3s]\n"
         "                [--warmup=500ms] [--shards=1] [--threads=1] [--mode=both|reactor|epoll]\n"
         "                [--epoll=lt|et] [--reactor-recv=plain|poll-first|multishot] [--spin]\n"
         "                [--max-other-load=0.1] [--patience=120s] [--verbose]\n"
         "      loopback echo round trips per second, epoll server vs reactor server; a run\n"
         "      during which other processes used more than --max-other-load CPUs is redone\n"
         "  runtime_bench --serve --mode=reactor|epoll --sizes=N [--port=0] [--shards=1]\n"
         "                [--duration=10s]\n"
         "      one server alone (e.g. under strace -f -c); prints its port\n"
         "  runtime_bench --connect=PORT --sizes=N [--connections=1] [--threads=1]\n"
         "                [--shards=1] [--warmup=500ms] [--duration=3s]\n"
         "      the client alone, against a --serve process\n";
}

}  // namespace nsqd::bench
