#include "nsq_bench/options.hpp"

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include <boost/program_options.hpp>

#include "nsq_bench/payload.hpp"

namespace nsqd::nsq_bench {

namespace po = boost::program_options;

namespace {

std::uint64_t parse_number(const std::string& text, std::string_view flag, std::uint64_t min,
                           std::uint64_t max) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != text.npos)
    throw std::invalid_argument("--" + std::string(flag) + ": not a non-negative integer: '" +
                                text + "'");
  std::uint64_t v = std::strtoull(text.c_str(), nullptr, 10);
  if (v < min || v > max)
    throw std::invalid_argument("--" + std::string(flag) + ": must be in " +
                                std::to_string(min) + ".." + std::to_string(max));
  return v;
}

po::options_description describe() {
  po::options_description d("nsq_bench options");
  d.add_options()
    ("help,h", "this text")
    ("nsqd-tcp-address", po::value<std::string>()->default_value("127.0.0.1:4150"),
     "nsqd TCP address, host:port")
    ("topic", po::value<std::string>()->default_value("bench"), "topic to publish to / consume")
    ("channel", po::value<std::string>()->default_value("bench"), "channel to consume")
    ("mode", po::value<std::string>()->default_value("both"), "both | pub | sub")
    ("publishers", po::value<std::string>()->default_value("1"), "publisher connections")
    ("consumers", po::value<std::string>()->default_value("1"), "consumer connections")
    ("pub-cmd", po::value<std::string>()->default_value("mpub"), "mpub | pub")
    ("batch", po::value<std::string>()->default_value("200"), "messages per MPUB")
    ("size", po::value<std::string>()->default_value("200"),
     "message body bytes (at least 24: timestamp, run, publisher, sequence)")
    ("pipeline", po::value<std::string>()->default_value("1"),
     "commands in flight per publisher before waiting for OK")
    ("rate", po::value<std::string>()->default_value("0"),
     "cap on published msgs/s over all publishers (0: none)")
    ("rdy", po::value<std::string>()->default_value("2500"), "RDY count per consumer")
    ("duration", po::value<std::string>()->default_value("10s"),
     "how long to publish (or consume, in sub mode); not applied with --count unless given")
    ("count", po::value<std::string>(), "total messages to publish (or to consume, sub mode)")
    ("drain-timeout", po::value<std::string>()->default_value("5s"),
     "consumers stop after this long without a message once publishing is over")
    ("output-buffer-timeout", po::value<std::string>(),
     "consumers ask for this output_buffer_timeout in IDENTIFY (e.g. 25ms)")
    ("tls", po::bool_switch(), "every connection asks for TLS in IDENTIFY (tls_v1) and speaks it (the certificate is not checked)")
    ("json", po::bool_switch(), "print the summary as JSON")
    ("quiet", po::bool_switch(), "no progress lines on stderr");
  return d;
}

}  // namespace

std::chrono::nanoseconds parse_duration(const std::string& text) {
  std::size_t unit_at = text.find_first_not_of("0123456789.");
  std::string number = text.substr(0, unit_at);
  std::string unit = unit_at == text.npos ? "s" : text.substr(unit_at);
  if (number.empty() || number == "." || number.find('.') != number.rfind('.'))
    throw std::invalid_argument("bad duration: '" + text + "'");
  double scale;
  if (unit == "s")
    scale = 1e9;
  else if (unit == "ms")
    scale = 1e6;
  else if (unit == "us")
    scale = 1e3;
  else if (unit == "m")
    scale = 60e9;
  else
    throw std::invalid_argument("bad duration unit in '" + text + "' (use m, s, ms or us)");
  double ns = std::strtod(number.c_str(), nullptr) * scale;
  if (ns > 7 * 86400e9) throw std::invalid_argument("duration too long: '" + text + "'");
  return std::chrono::nanoseconds(static_cast<std::int64_t>(ns));
}

void parse_address(const std::string& text, std::string& host, std::uint16_t& port) {
  std::size_t colon = text.rfind(':');
  if (colon == text.npos) throw std::invalid_argument("address needs host:port: '" + text + "'");
  std::string h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  port = static_cast<std::uint16_t>(
      parse_number(text.substr(colon + 1), "nsqd-tcp-address port", 1, 65535));
  host = h.empty() ? "127.0.0.1" : h;
}

bench_options parse(int argc, const char* const* argv) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(describe()).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw std::invalid_argument(e.what());
  }
  bench_options o;
  auto str = [&](const char* k) { return vm[k].as<std::string>(); };
  o.help = vm.count("help") > 0;
  o.tls = vm["tls"].as<bool>();
  o.json = vm["json"].as<bool>();
  o.quiet = vm["quiet"].as<bool>();

  parse_address(str("nsqd-tcp-address"), o.host, o.port);
  o.topic = str("topic");
  o.channel = str("channel");
  if (o.topic.empty()) throw std::invalid_argument("--topic: must not be empty");
  if (o.channel.empty()) throw std::invalid_argument("--channel: must not be empty");

  std::string mode = str("mode");
  if (mode == "both")
    o.mode = run_mode::both;
  else if (mode == "pub")
    o.mode = run_mode::pub;
  else if (mode == "sub")
    o.mode = run_mode::sub;
  else
    throw std::invalid_argument("--mode: use both, pub or sub, not '" + mode + "'");

  std::string cmd = str("pub-cmd");
  if (cmd == "mpub")
    o.command = pub_command::mpub;
  else if (cmd == "pub")
    o.command = pub_command::pub;
  else
    throw std::invalid_argument("--pub-cmd: use mpub or pub, not '" + cmd + "'");

  o.publishers = unsigned(parse_number(str("publishers"), "publishers", 1, 4096));
  o.consumers = unsigned(parse_number(str("consumers"), "consumers", 1, 4096));
  o.batch = unsigned(parse_number(str("batch"), "batch", 1, 1000000));
  o.size = parse_number(str("size"), "size", payload_header_size, 64u << 20);
  o.pipeline = unsigned(parse_number(str("pipeline"), "pipeline", 1, 100000));
  o.rate = parse_number(str("rate"), "rate", 0, 1000000000000ull);
  o.rdy = unsigned(parse_number(str("rdy"), "rdy", 1, 1000000));
  o.drain_timeout = parse_duration(str("drain-timeout"));
  if (o.command == pub_command::pub) o.batch = 1;
  if (vm.count("output-buffer-timeout")) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        parse_duration(str("output-buffer-timeout")));
    if (ms.count() < 1) throw std::invalid_argument("--output-buffer-timeout: at least 1ms");
    o.output_buffer_timeout = ms;
  }

  if (vm.count("count")) o.count = parse_number(str("count"), "count", 1, 1ull << 40);
  bool duration_given = !vm["duration"].defaulted();
  if (o.count && !duration_given)
    o.duration.reset();
  else
    o.duration = parse_duration(str("duration"));
  if (o.duration && o.duration->count() <= 0)
    throw std::invalid_argument("--duration: must be positive");
  if (o.count && o.mode != run_mode::sub && *o.count < o.publishers)
    throw std::invalid_argument("--count: at least one message per publisher");
  return o;
}

std::string usage() {
  std::ostringstream out;
  out << "nsq_bench: publish and/or consume through any nsqd (TCP protocol V2); prints\n"
         "throughput, publish-to-receive latency percentiles and lost/duplicated counts.\n\n"
      << describe();
  return out.str();
}

}  // namespace nsqd::nsq_bench
