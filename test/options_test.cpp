#define BOOST_TEST_MODULE options
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/options.hpp"
#include "config/options_table.hpp"
#include "go/duration.hpp"
#include "go/go_syntax.hpp"

using namespace std::chrono_literals;
using std::chrono::nanoseconds;
namespace config = nsqd::config;
namespace go = nsqd::go;

namespace {

// Runs parse_command_line on {"nsqd", args...}.
config::parse_result parse(std::initializer_list<std::string> args) {
  std::vector<std::string> all{"nsqd"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& a : all) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  return config::parse_command_line(int(all.size()), argv.data());
}

config::options parse_ok(std::initializer_list<std::string> args) {
  auto r = parse(args);
  BOOST_TEST_REQUIRE(int(r.outcome) == int(config::parse_outcome::run), r.message);
  return r.opts;
}

std::string parse_error(std::initializer_list<std::string> args) {
  auto r = parse(args);
  BOOST_TEST(int(r.outcome) == int(config::parse_outcome::exit_usage));
  BOOST_TEST(r.message.find('\n') == std::string::npos);
  return r.message;
}

// A mkdtemp directory for config files, removed at exit.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "options_test.XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string write_config(const std::string& text) {
  static temp_dir dir;
  static int n = 0;
  const auto file = dir.path / ("nsqd" + std::to_string(++n) + ".cfg");
  std::ofstream(file) << text;
  return file.string();
}

config::options with_config(const std::string& toml, std::initializer_list<std::string> more = {}) {
  std::vector<std::string> all{"nsqd", "--config=" + write_config(toml)};
  all.insert(all.end(), more.begin(), more.end());
  std::vector<const char*> argv;
  for (const auto& a : all) argv.push_back(a.c_str());
  auto r = config::parse_command_line(int(all.size()), argv.data());
  BOOST_TEST_REQUIRE(int(r.outcome) == int(config::parse_outcome::run), r.message);
  return r.opts;
}

std::string config_error(const std::string& toml) {
  const std::string path = write_config(toml);
  auto r = parse({"--config", path});
  BOOST_TEST(int(r.outcome) == int(config::parse_outcome::exit_error));
  BOOST_TEST(r.message.find(path) != std::string::npos, r.message);
  return r.message;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string get(const config::options& o, std::string_view name) {
  auto v = config::config_get(o, name);
  BOOST_TEST_REQUIRE(v.has_value(), name);
  return v->body;
}

std::string validate_error(const config::options& o) {
  try {
    config::validate(o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

std::string hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(duration)

BOOST_AUTO_TEST_CASE(parses_go_syntax) {
  struct row {
    const char* text;
    nanoseconds want;
  };
  const row rows[] = {
      {"0", 0ns},
      {"+0", 0ns},
      {"-0", 0ns},
      {"0s", 0ns},
      {"5s", 5s},
      {"30s", 30s},
      {"1478s", 1478s},
      {"-5s", -5s},
      {"+5s", 5s},
      {"-0s", 0ns},
      {"5.6s", 5600ms},
      {"5.s", 5s},
      {".5s", 500ms},
      {"1.004s", 1004ms},
      {"1.0040s", 1004ms},
      {"100.00100s", 100001ms},
      {"10ns", 10ns},
      {"11us", 11us},
      {"12\xC2\xB5s", 12us},  // U+00B5
      {"12\xCE\xBCs", 12us},  // U+03BC
      {"13ms", 13ms},
      {"14s", 14s},
      {"15m", 15min},
      {"16h", 16h},
      {"1.5h", 90min},
      {"3h30m", 210min},
      {"10.5s4m", 4min + 10500ms},
      {"-2m3.4s", -(2min + 3400ms)},
      {"1h2m3s4ms5us6ns", 1h + 2min + 3s + 4ms + 5us + 6ns},
      {"1h2m3.5s", 1h + 2min + 3500ms},
      {"39h9m14.425s", 39h + 9min + 14425ms},
      {"52763797000ns", 52763797000ns},
      {"0.3333333333333333333h", 20min},
      {"9007199254740993ns", nanoseconds(9007199254740993)},
      {"9223372036854775807ns", nanoseconds::max()},
      {"9223372036854775.807us", nanoseconds::max()},
      {"9223372036854ms775us807ns", nanoseconds::max()},
      {"-9223372036854775808ns", nanoseconds::min()},
      {"-9223372036854775.808us", nanoseconds::min()},
      {"-2562047h47m16.854775808s", nanoseconds::min()},
      {"0.100000000000000000000h", 6min},
      {"0.830103483285477580700h", 49min + 48s + 372539827ns},
  };
  for (const auto& r : rows) {
    std::string err;
    auto got = go::parse_duration(r.text, &err);
    BOOST_TEST_REQUIRE(got.has_value(), r.text << ": " << err);
    BOOST_TEST(got->count() == r.want.count(), r.text);
  }
}

BOOST_AUTO_TEST_CASE(rejects_bad_text) {
  for (const char* text :
       {"", "3", "-", "+", "s", ".", "-.", ".s", "+.s", "1d", "1.5", "1 s", " 1s", "1s ",
        "1h-2m", "1e3s", "\x85\x85", "\xFF" "ff", "hello \xFF" "ff world", "1sm",
        "9223372036854775808ns", "9223372036854775.808us", "9223372036854ms775us808ns",
        "-9223372036854775809ns", "3000000h", "18446744073709551616ns", "99999999999999999999h"}) {
    BOOST_TEST(!go::parse_duration(text).has_value(), '"' << text << '"');
  }
}

BOOST_AUTO_TEST_CASE(error_messages_match_go) {
  std::string err;
  BOOST_TEST(!go::parse_duration("", &err));
  BOOST_TEST(err == "time: invalid duration \"\"");
  BOOST_TEST(!go::parse_duration("3", &err));
  BOOST_TEST(err == "time: missing unit in duration \"3\"");
  BOOST_TEST(!go::parse_duration("1d", &err));
  BOOST_TEST(err == "time: unknown unit \"d\" in duration \"1d\"");
  BOOST_TEST(!go::parse_duration("x1s", &err));
  BOOST_TEST(err == "time: invalid duration \"x1s\"");
  BOOST_TEST(!go::parse_duration("3000000h", &err));
  BOOST_TEST(err == "time: invalid duration \"3000000h\"");
}

BOOST_AUTO_TEST_CASE(formats_like_go) {
  struct row {
    nanoseconds d;
    const char* want;
  };
  const row rows[] = {
      {0ns, "0s"},
      {1ns, "1ns"},
      {999ns, "999ns"},
      {1000ns, "1\xC2\xB5s"},
      {1100ns, "1.1\xC2\xB5s"},
      {2200us, "2.2ms"},
      {2000001ns, "2.000001ms"},
      {250ms, "250ms"},
      {999999999ns, "999.999999ms"},
      {1s, "1s"},
      {1500ms, "1.5s"},
      {3300ms, "3.3s"},
      {60s, "1m0s"},
      {4min + 5s, "4m5s"},
      {4min + 5001ms, "4m5.001s"},
      {1h, "1h0m0s"},
      {5h + 6min + 7001ms, "5h6m7.001s"},
      {8min + 1ns, "8m0.000000001s"},
      {-1ns, "-1ns"},
      {-90s, "-1m30s"},
      {nanoseconds::max(), "2562047h47m16.854775807s"},
      {nanoseconds::min(), "-2562047h47m16.854775808s"},
  };
  for (const auto& r : rows) BOOST_TEST(go::format_duration(r.d) == r.want);
}

BOOST_AUTO_TEST_CASE(format_then_parse_round_trips) {
  for (nanoseconds d : std::initializer_list<nanoseconds>{1ns, 1234ns, 5ms, 60s, 15min, 1h, 10min,
                                                         25ms, -3h - 1ns, nanoseconds::max(),
                                                         nanoseconds::min()}) {
    auto back = go::parse_duration(go::format_duration(d));
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST(back->count() == d.count());
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(go_syntax)

BOOST_AUTO_TEST_CASE(parse_bool_is_strconv) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
    BOOST_TEST((go::parse_bool(t) == std::optional<bool>(true)), t);
  for (const char* t : {"0", "f", "F", "FALSE", "false", "False"})
    BOOST_TEST((go::parse_bool(t) == std::optional<bool>(false)), t);
  for (const char* t : {"", "yes", "no", "tRUE", "2", " true", "on"})
    BOOST_TEST(!go::parse_bool(t).has_value(), t);
}

BOOST_AUTO_TEST_CASE(parse_int_bases) {
  using go::num_error;
  auto ok = [](const char* t, int base) {
    std::int64_t v = -12345;
    BOOST_TEST_REQUIRE((go::parse_int(t, base, v) == num_error::none), t);
    return v;
  };
  auto err = [](const char* t, int base) {
    std::int64_t v = 0;
    return go::parse_int(t, base, v);
  };
  BOOST_TEST(ok("0", 0) == 0);
  BOOST_TEST(ok("42", 0) == 42);
  BOOST_TEST(ok("-42", 0) == -42);
  BOOST_TEST(ok("+42", 0) == 42);
  BOOST_TEST(ok("0x1f", 0) == 31);
  BOOST_TEST(ok("0X1F", 0) == 31);
  BOOST_TEST(ok("010", 0) == 8);
  BOOST_TEST(ok("0o17", 0) == 15);
  BOOST_TEST(ok("0b101", 0) == 5);
  BOOST_TEST(ok("1_000", 0) == 1000);
  BOOST_TEST(ok("0x_1f", 0) == 31);
  BOOST_TEST(ok("9223372036854775807", 0) == INT64_MAX);
  BOOST_TEST(ok("-9223372036854775808", 0) == INT64_MIN);
  BOOST_TEST(ok("010", 10) == 10);
  BOOST_TEST((err("9223372036854775808", 0) == num_error::range));
  BOOST_TEST((err("-9223372036854775809", 10) == num_error::range));
  BOOST_TEST((err("99999999999999999999999", 10) == num_error::range));
  for (const char* t : {"", "-", "+", "abc", "1.5", "1e3", " 1", "1 ", "0x", "08", "1__0",
                        "_1", "1_", "0x1g", "--1"})
    BOOST_TEST((err(t, 0) == num_error::syntax), t);
  for (const char* t : {"1_0", "0x10", "", "1a"}) BOOST_TEST((err(t, 10) == num_error::syntax), t);
}

BOOST_AUTO_TEST_CASE(parse_float) {
  BOOST_TEST(*go::parse_float("0.99") == 0.99);
  BOOST_TEST(*go::parse_float("+1") == 1.0);
  BOOST_TEST(*go::parse_float("-0.5") == -0.5);
  BOOST_TEST(*go::parse_float("1e-1") == 0.1);
  BOOST_TEST(*go::parse_float(".5") == 0.5);
  BOOST_TEST(std::isinf(*go::parse_float("-Inf")));
  BOOST_TEST(std::isnan(*go::parse_float("NaN")));
  for (const char* t : {"", "x", "0.5x", " 0.5", "1e999", "--1", "+-1", "nan(1)", "0.5 "})
    BOOST_TEST(!go::parse_float(t).has_value(), t);
}

BOOST_AUTO_TEST_CASE(numbers_as_go_prints_them) {
  BOOST_TEST(go::json_float(0.99) == "0.99");
  BOOST_TEST(go::json_float(1.0) == "1");
  BOOST_TEST(go::json_float(0.5) == "0.5");
  BOOST_TEST(go::json_float(1e-7) == "1e-7");
  BOOST_TEST(go::json_float(1e21) == "1e+21");
  BOOST_TEST(go::json_float(123456789.0) == "123456789");
  BOOST_TEST(go::format_float(1.5) == "1.5");
  BOOST_TEST(go::format_float(2.0) == "2");
  BOOST_TEST(go::format_float(0.0) == "0");
  BOOST_TEST(go::format_float(-0.25) == "-0.25");
  BOOST_TEST(go::format_float(1e-5) == "1e-05");
  BOOST_TEST(go::format_float(0.0001) == "0.0001");
  BOOST_TEST(go::format_float(1e6) == "1e+06");
  BOOST_TEST(go::format_float(123456.0) == "123456");
}

BOOST_AUTO_TEST_CASE(json_strings) {
  BOOST_TEST(go::json_string("127.0.0.1:4160") == "\"127.0.0.1:4160\"");
  BOOST_TEST(go::json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
  BOOST_TEST(go::json_string("<&>") == "\"\\u003c\\u0026\\u003e\"");
  BOOST_TEST(go::json_string("\n\t\x01") == "\"\\n\\t\\u0001\"");
  BOOST_TEST(go::json_string("\xC2\xB5") == "\"\xC2\xB5\"");
  BOOST_TEST(go::json_string("a\xFF" "b") == "\"a\\ufffdb\"");
  BOOST_TEST(go::json_string("\xE2\x80\xA8") == "\"\\u2028\"");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(defaults)

BOOST_AUTO_TEST_CASE(upstream_defaults) {
  const config::options o = parse_ok({});
  BOOST_TEST(!o.version);
  BOOST_TEST(o.config == "");
  BOOST_TEST(int(o.log_level) == int(config::log_level::info));
  BOOST_TEST(o.log_prefix == "[nsqd] ");
  BOOST_TEST(o.https_address == "0.0.0.0:4152");
  BOOST_TEST(o.http_address == "0.0.0.0:4151");
  BOOST_TEST(o.tcp_address == "0.0.0.0:4150");
  BOOST_TEST(o.auth_http_addresses.empty());
  BOOST_TEST(o.auth_http_request_method == "get");
  BOOST_TEST(o.broadcast_address == hostname());
  BOOST_TEST(o.node_id == config::default_node_id(hostname()));
  BOOST_TEST(o.broadcast_tcp_port == 0);
  BOOST_TEST(o.broadcast_http_port == 0);
  BOOST_TEST(o.lookupd_tcp_addresses.empty());
  BOOST_TEST(o.http_client_connect_timeout.count() == nanoseconds(2s).count());
  BOOST_TEST(o.http_client_request_timeout.count() == nanoseconds(5s).count());
  BOOST_TEST(o.data_path == "");
  BOOST_TEST(o.mem_queue_size == 10000);
  BOOST_TEST(o.max_bytes_per_file == 104857600);
  BOOST_TEST(o.sync_every == 2500);
  BOOST_TEST(o.sync_timeout.count() == nanoseconds(2s).count());
  BOOST_TEST(o.queue_scan_worker_pool_max == 4);
  BOOST_TEST(o.queue_scan_selection_count == 20);
  BOOST_TEST(o.msg_timeout.count() == nanoseconds(60s).count());
  BOOST_TEST(o.max_msg_timeout.count() == nanoseconds(15min).count());
  BOOST_TEST(o.max_msg_size == 1048576);
  BOOST_TEST(o.max_req_timeout.count() == nanoseconds(1h).count());
  BOOST_TEST(o.max_body_size == 5242880);
  BOOST_TEST(o.max_heartbeat_interval.count() == nanoseconds(60s).count());
  BOOST_TEST(o.max_rdy_count == 2500);
  BOOST_TEST(o.max_output_buffer_size == 65536);
  BOOST_TEST(o.max_output_buffer_timeout.count() == nanoseconds(30s).count());
  BOOST_TEST(o.min_output_buffer_timeout.count() == nanoseconds(25ms).count());
  BOOST_TEST(o.output_buffer_timeout.count() == nanoseconds(250ms).count());
  BOOST_TEST(o.max_channel_consumers == 0);
  BOOST_TEST(o.statsd_interval.count() == nanoseconds(60s).count());
  BOOST_TEST(o.statsd_mem_stats);
  BOOST_TEST(o.statsd_prefix == "nsq.%s");
  BOOST_TEST(o.statsd_udp_packet_size == 508);
  BOOST_TEST(!o.statsd_exclude_ephemeral);
  BOOST_TEST(o.e2e_processing_latency_percentiles.empty());
  BOOST_TEST(o.e2e_processing_latency_window_time.count() == nanoseconds(10min).count());
  BOOST_TEST(int(o.tls_required) == 0);
  BOOST_TEST(o.tls_min_version == 769);
  BOOST_TEST(o.deflate);
  BOOST_TEST(o.max_deflate_level == 6);
  BOOST_TEST(o.snappy);
  BOOST_TEST(o.enable_experiment.empty());
  BOOST_TEST(o.cores >= 1);
  BOOST_TEST(o.queue_scan_interval.count() == nanoseconds(100ms).count());
  BOOST_TEST(o.queue_scan_refresh_interval.count() == nanoseconds(5s).count());
  BOOST_TEST(o.queue_scan_dirty_percent == 0.25);
  BOOST_TEST(o.client_timeout.count() == nanoseconds(60s).count());
  BOOST_TEST(validate_error(o) == "");
}

BOOST_AUTO_TEST_CASE(node_id_is_crc32_of_md5_of_hostname) {
  BOOST_TEST(config::default_node_id("vm") == 617);
  BOOST_TEST(config::default_node_id("localhost") == 16);
  BOOST_TEST(config::default_node_id("") == 812);
}

BOOST_AUTO_TEST_CASE(cores_default_is_affinity_count) {
  cpu_set_t set;
  CPU_ZERO(&set);
  BOOST_TEST_REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
  BOOST_TEST(config::default_options().cores == CPU_COUNT(&set));
}

BOOST_AUTO_TEST_CASE(table_declares_every_flag_once) {
  const auto table = config::detail::option_table();
  BOOST_TEST(table.size() == 59u);  // 57 upstream flags + --cores, --durable-publish
  BOOST_TEST(table.front().flag == "version");
  BOOST_TEST(table[table.size() - 3].flag == "enable-experiment");
  BOOST_TEST(table.back().flag == "durable-publish");
  for (std::size_t i = 0; i < table.size(); ++i)
    for (std::size_t j = i + 1; j < table.size(); ++j) {
      BOOST_TEST(table[i].flag != table[j].flag);
      BOOST_TEST(table[i].cfg != table[j].cfg);
    }
  BOOST_TEST(config::detail::find_by_flag("node-id")->cfg == "id");
  BOOST_TEST(config::detail::find_by_flag("lookupd-tcp-address")->cfg == "nsqlookupd_tcp_addresses");
  BOOST_TEST(config::detail::find_by_flag("auth-http-address")->cfg == "auth_http_addresses");
  BOOST_TEST(config::detail::find_by_flag("e2e-processing-latency-percentile")->cfg ==
             "e2e_processing_latency_percentiles");
  BOOST_TEST(config::detail::find_by_flag("enable-experiment")->cfg == "enable_experiment");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(command_line)

BOOST_AUTO_TEST_CASE(value_syntax_forms) {
  for (auto args : {std::vector<std::string>{"--max-rdy-count=7"},
                    std::vector<std::string>{"--max-rdy-count", "7"},
                    std::vector<std::string>{"-max-rdy-count=7"},
                    std::vector<std::string>{"-max-rdy-count", "7"}}) {
    std::vector<const char*> argv{"nsqd"};
    for (auto& a : args) argv.push_back(a.c_str());
    auto r = config::parse_command_line(int(argv.size()), argv.data());
    BOOST_TEST_REQUIRE(int(r.outcome) == int(config::parse_outcome::run), r.message);
    BOOST_TEST(r.opts.max_rdy_count == 7);
  }
}

BOOST_AUTO_TEST_CASE(bool_forms) {
  BOOST_TEST(parse_ok({"--statsd-exclude-ephemeral"}).statsd_exclude_ephemeral);
  BOOST_TEST(parse_ok({"-statsd-exclude-ephemeral"}).statsd_exclude_ephemeral);
  BOOST_TEST(!parse_ok({"--snappy=false"}).snappy);
  BOOST_TEST(!parse_ok({"-snappy=0"}).snappy);
  for (const char* v : {"1", "t", "T", "TRUE", "true", "True"})
    BOOST_TEST(parse_ok({std::string("--statsd-exclude-ephemeral=") + v}).statsd_exclude_ephemeral,
               v);
  for (const char* v : {"0", "f", "F", "FALSE", "false", "False"})
    BOOST_TEST(!parse_ok({std::string("--deflate=") + v}).deflate, v);
  BOOST_TEST(parse_error({"--snappy=yes"}) ==
             "invalid boolean value \"yes\" for -snappy: parse error");
  BOOST_TEST(parse_error({"--snappy="}) == "invalid boolean value \"\" for -snappy: parse error");
}

BOOST_AUTO_TEST_CASE(bool_never_takes_the_next_argument) {
  // "false" is the first non-flag argument: parsing stops there, like Go.
  const auto o = parse_ok({"--snappy", "false", "--max-rdy-count=5"});
  BOOST_TEST(o.snappy);
  BOOST_TEST(o.max_rdy_count == 2500);
  // --worker-id is a (deprecated) bool: a value needs '='.
  BOOST_TEST(parse_error({"--worker-id=5"}) ==
             "invalid boolean value \"5\" for -worker-id: parse error");
  BOOST_TEST(parse_ok({"--worker-id", "--verbose"}).worker_id);
}

BOOST_AUTO_TEST_CASE(tls_required_is_tri_state) {
  BOOST_TEST(int(parse_ok({"--tls-required"}).tls_required) == 1);
  BOOST_TEST(int(parse_ok({"--tls-required=true"}).tls_required) == 1);
  BOOST_TEST(int(parse_ok({"--tls-required=1"}).tls_required) == 1);
  BOOST_TEST(int(parse_ok({"--tls-required=false"}).tls_required) == 0);
  BOOST_TEST(int(parse_ok({"--tls-required=tcp-https"}).tls_required) == 2);
  BOOST_TEST(int(parse_ok({"--tls-required=TCP-HTTPS"}).tls_required) == 2);
  // Bool-like: the next argument is not its value.
  const auto o = parse_ok({"--tls-required", "tcp-https", "--max-rdy-count=5"});
  BOOST_TEST(int(o.tls_required) == 1);
  BOOST_TEST(o.max_rdy_count == 2500);
  BOOST_TEST(contains(parse_error({"--tls-required=maybe"}), "-tls-required"));
}

BOOST_AUTO_TEST_CASE(tls_min_version) {
  BOOST_TEST(parse_ok({"--tls-min-version=tls1.0"}).tls_min_version == 769);
  BOOST_TEST(parse_ok({"--tls-min-version=tls1.1"}).tls_min_version == 770);
  BOOST_TEST(parse_ok({"--tls-min-version", "tls1.2"}).tls_min_version == 771);
  BOOST_TEST(parse_ok({"--tls-min-version=TLS1.3"}).tls_min_version == 772);
  BOOST_TEST(parse_ok({"--tls-min-version="}).tls_min_version == 769);
  const auto err = parse_error({"--tls-min-version=ssl3.0"});
  BOOST_TEST(contains(err, "invalid value \"ssl3.0\" for flag -tls-min-version"), err);
}

BOOST_AUTO_TEST_CASE(log_level) {
  BOOST_TEST(int(parse_ok({"--log-level=DEBUG"}).log_level) == 1);
  BOOST_TEST(int(parse_ok({"--log-level", "warn"}).log_level) == 3);
  BOOST_TEST(int(parse_ok({"--log-level=Fatal"}).log_level) == 5);
  BOOST_TEST(contains(parse_error({"--log-level=loud"}),
                      "invalid value \"loud\" for flag -log-level"));
}

BOOST_AUTO_TEST_CASE(durations_and_integers) {
  BOOST_TEST(parse_ok({"--msg-timeout=1m30s"}).msg_timeout.count() ==
             nanoseconds(90s).count());
  BOOST_TEST(parse_ok({"--sync-timeout", "250ms"}).sync_timeout.count() ==
             nanoseconds(250ms).count());
  BOOST_TEST(parse_error({"--msg-timeout=abc"}) ==
             "invalid value \"abc\" for flag -msg-timeout: parse error");
  BOOST_TEST(parse_error({"--msg-timeout=5000"}) ==
             "invalid value \"5000\" for flag -msg-timeout: parse error");
  BOOST_TEST(parse_ok({"--max-rdy-count=0x10"}).max_rdy_count == 16);
  BOOST_TEST(parse_ok({"--mem-queue-size=0"}).mem_queue_size == 0);
  BOOST_TEST(parse_ok({"--node-id=-1"}).node_id == -1);  // validate() rejects it
  BOOST_TEST(parse_error({"--max-rdy-count=abc"}) ==
             "invalid value \"abc\" for flag -max-rdy-count: parse error");
  BOOST_TEST(parse_error({"--max-rdy-count=1.5"}) ==
             "invalid value \"1.5\" for flag -max-rdy-count: parse error");
  BOOST_TEST(parse_error({"--max-rdy-count=9223372036854775808"}) ==
             "invalid value \"9223372036854775808\" for flag -max-rdy-count: value out of range");
  BOOST_TEST(parse_error({"--max-channel-consumers=99999999999"}) ==
             "invalid value \"99999999999\" for flag -max-channel-consumers: value out of range");
  BOOST_TEST(parse_ok({"--cores=3"}).cores == 3);
  BOOST_TEST(parse_ok({"--cores", "1"}).cores == 1);
}

BOOST_AUTO_TEST_CASE(strings) {
  const auto o = parse_ok({"--tcp-address=127.0.0.1:0", "--http-address=", "--data-path",
                           "/tmp/x", "--log-prefix", "-x-", "--broadcast-address=a=b"});
  BOOST_TEST(o.tcp_address == "127.0.0.1:0");
  BOOST_TEST(o.http_address == "");
  BOOST_TEST(o.data_path == "/tmp/x");
  BOOST_TEST(o.log_prefix == "-x-");  // a value may start with '-'
  BOOST_TEST(o.broadcast_address == "a=b");
}

BOOST_AUTO_TEST_CASE(last_value_wins) {
  BOOST_TEST(parse_ok({"--max-rdy-count=1", "--max-rdy-count=2"}).max_rdy_count == 2);
  BOOST_TEST(!parse_ok({"--snappy", "--snappy=false"}).snappy);
}

BOOST_AUTO_TEST_CASE(repeatable_lists) {
  const auto o = parse_ok({"--lookupd-tcp-address=a:1", "--lookupd-tcp-address", "b:2",
                           "--auth-http-address=http://x/auth", "--enable-experiment",
                           "topology-aware-consumption"});
  BOOST_TEST(o.lookupd_tcp_addresses == (std::vector<std::string>{"a:1", "b:2"}),
             boost::test_tools::per_element());
  BOOST_TEST(o.auth_http_addresses == std::vector<std::string>{"http://x/auth"},
             boost::test_tools::per_element());
  BOOST_TEST(o.enable_experiment == std::vector<std::string>{"topology-aware-consumption"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(percentiles_split_and_sort_descending) {
  const auto o = parse_ok({"--e2e-processing-latency-percentile=0.5,0.99",
                           "--e2e-processing-latency-percentile", "1.0",
                           "-e2e-processing-latency-percentile=0.75"});
  BOOST_TEST(o.e2e_processing_latency_percentiles == (std::vector<double>{1.0, 0.99, 0.75, 0.5}),
             boost::test_tools::per_element());
  BOOST_TEST(contains(parse_error({"--e2e-processing-latency-percentile=0.5,x"}),
                      "for flag -e2e-processing-latency-percentile"));
}

BOOST_AUTO_TEST_CASE(end_of_flags) {
  BOOST_TEST(parse_ok({"--", "--max-rdy-count=5"}).max_rdy_count == 2500);
  BOOST_TEST(parse_ok({"--max-rdy-count=5", "--", "--no-such-flag"}).max_rdy_count == 5);
  BOOST_TEST(parse_ok({"--max-rdy-count=5", "extra", "--no-such-flag"}).max_rdy_count == 5);
  BOOST_TEST(parse_ok({"-", "--max-rdy-count=5"}).max_rdy_count == 2500);
}

BOOST_AUTO_TEST_CASE(unknown_and_malformed_flags) {
  BOOST_TEST(parse_error({"--no-such-flag"}) == "flag provided but not defined: -no-such-flag");
  BOOST_TEST(parse_error({"-no-such-flag=1"}) == "flag provided but not defined: -no-such-flag");
  BOOST_TEST(parse_error({"--max-rdy-count"}) == "flag needs an argument: -max-rdy-count");
  BOOST_TEST(parse_error({"---x"}) == "bad flag syntax: ---x");
  BOOST_TEST(parse_error({"-=x"}) == "bad flag syntax: -=x");
  BOOST_TEST(parse_error({"--Snappy"}) == "flag provided but not defined: -Snappy");
}

BOOST_AUTO_TEST_CASE(first_error_in_argument_order_is_reported) {
  BOOST_TEST(parse_error({"--max-rdy-count=x", "--nope"}) ==
             "invalid value \"x\" for flag -max-rdy-count: parse error");
  BOOST_TEST(parse_error({"--nope", "--max-rdy-count=x"}) ==
             "flag provided but not defined: -nope");
}

BOOST_AUTO_TEST_CASE(help_lists_every_flag) {
  for (const char* h : {"--help", "-h", "-help", "--h"}) {
    auto r = parse({h});
    BOOST_TEST(int(r.outcome) == int(config::parse_outcome::exit_ok), h);
    BOOST_TEST(r.message.rfind("Usage of nsqd:\n", 0) == 0u);
  }
  const std::string usage = parse({"--help"}).message;
  for (const auto& spec : config::detail::option_table()) {
    BOOST_TEST(contains(usage, "  -" + std::string(spec.flag)), spec.flag);
    BOOST_TEST(contains(usage, std::string(spec.help)), spec.flag);
  }
  BOOST_TEST(contains(usage, "  -max-rdy-count int\n    \tlargest RDY count a client may set "
                             "(default 2500)\n"));
  BOOST_TEST(contains(usage, "  -msg-timeout duration\n"));
  BOOST_TEST(contains(usage, "(default 1m0s)"));
  BOOST_TEST(contains(usage, "(default 25ms)"));
  BOOST_TEST(contains(usage, "(default \"0.0.0.0:4150\")"));
  BOOST_TEST(contains(usage, "  -snappy\n"));
  BOOST_TEST(contains(usage, "  -lookupd-tcp-address value\n"));
  BOOST_TEST(contains(usage, "(default info)"));
  BOOST_TEST(contains(usage, "(default tls1.0)"));
  BOOST_TEST(!contains(usage, "(default 0)"));
  BOOST_TEST(!contains(usage, "(default false)"));
  BOOST_TEST(usage.find("  -auth-http-address") < usage.find("  -broadcast-address"));
  // A bad value before --help is still an error.
  BOOST_TEST(contains(parse_error({"--max-rdy-count=x", "--help"}), "-max-rdy-count"));
}

BOOST_AUTO_TEST_CASE(version) {
  const auto r = parse({"--version"});
  BOOST_TEST(int(r.outcome) == int(config::parse_outcome::exit_ok));
  BOOST_TEST(r.message == "nsqd v1.3.0 (built w/g++ " __VERSION__ ")\n");
  BOOST_TEST(config::version_string() == "nsqd v1.3.0 (built w/g++ " __VERSION__ ")");
  // Checked before the config file is read, after every flag is.
  BOOST_TEST(int(parse({"-version", "--config=/nonexistent/nsqd.cfg"}).outcome) ==
             int(config::parse_outcome::exit_ok));
  BOOST_TEST(int(parse({"--version", "--nope"}).outcome) == int(config::parse_outcome::exit_usage));
  BOOST_TEST(!parse_ok({"--version=false"}).version);
}

BOOST_AUTO_TEST_CASE(auth_policy_forces_tls_required) {
  BOOST_TEST(int(parse_ok({"--tls-client-auth-policy=require"}).tls_required) == 1);
  BOOST_TEST(int(parse_ok({"--tls-client-auth-policy=require", "--tls-required=tcp-https"})
                     .tls_required) == 2);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(config_file)

BOOST_AUTO_TEST_CASE(precedence_flag_then_file_then_default) {
  const auto o = with_config(
      "max_rdy_count = 77\nmsg_timeout = 5000\nmax_msg_size = 123\n"
      "no_such_option = \"ignored\"\nmax_heartbeat_interval = \"45s\"\n"
      "mem_queue_size = \"123\"\n[some_table]\nmax_rdy_count = 1\n",
      {"--max-msg-size=200"});
  BOOST_TEST(o.max_rdy_count == 77);
  BOOST_TEST(o.msg_timeout.count() == nanoseconds(5s).count());  // integer = milliseconds
  BOOST_TEST(o.max_msg_size == 200);                              // the flag wins
  BOOST_TEST(o.max_heartbeat_interval.count() == nanoseconds(45s).count());
  BOOST_TEST(o.mem_queue_size == 123);  // integer from a string
  BOOST_TEST(o.max_body_size == 5242880);
  BOOST_TEST(with_config("mem_queue_size = \"123\"\n", {"--mem-queue-size=50"}).mem_queue_size ==
             50);
  // The flag may come before or after --config.
  std::string path = write_config("max_rdy_count = 77\n");
  auto r = parse({"--max-rdy-count=9", "-config", path});
  BOOST_TEST(r.opts.max_rdy_count == 9);
}

BOOST_AUTO_TEST_CASE(keys_by_config_name) {
  const auto o = with_config(
      "id = 42\nlog_level = \"WARN\"\nlog_prefix = \"[x] \"\ntcp_address = \"127.0.0.1:1\"\n"
      "nsqlookupd_tcp_addresses = [\"a:1\", \"b:2\"]\nauth_http_addresses = \"x:1,y:2\"\n"
      "enable_experiment = [\"topology-aware-consumption\"]\ntls_min_version = \"tls1.2\"\n"
      "tls_required = \"tcp-https\"\nsync_timeout = \"1m\"\nmax_deflate_level = 9\ncores = 2\n"
      "statsd_prefix = \"p.%s\"\nbroadcast_tcp_port = 5\n");
  BOOST_TEST(o.node_id == 42);
  BOOST_TEST(int(o.log_level) == 3);
  BOOST_TEST(o.log_prefix == "[x] ");
  BOOST_TEST(o.tcp_address == "127.0.0.1:1");
  BOOST_TEST(o.lookupd_tcp_addresses == (std::vector<std::string>{"a:1", "b:2"}),
             boost::test_tools::per_element());
  BOOST_TEST(o.auth_http_addresses == (std::vector<std::string>{"x:1", "y:2"}),
             boost::test_tools::per_element());
  BOOST_TEST(o.enable_experiment == std::vector<std::string>{"topology-aware-consumption"},
             boost::test_tools::per_element());
  BOOST_TEST(o.tls_min_version == 771);
  BOOST_TEST(int(o.tls_required) == 2);
  BOOST_TEST(o.sync_timeout.count() == nanoseconds(1min).count());
  BOOST_TEST(o.max_deflate_level == 9);
  BOOST_TEST(o.cores == 2);
  BOOST_TEST(o.statsd_prefix == "p.%s");
  BOOST_TEST(o.broadcast_tcp_port == 5);
}

BOOST_AUTO_TEST_CASE(bools_including_integers_quirk_7_fixed) {
  const auto o = with_config("deflate = 0\nsnappy = 1\nstatsd_mem_stats = \"false\"\n"
                             "statsd_exclude_ephemeral = true\n");
  BOOST_TEST(!o.deflate);  // upstream would say true
  BOOST_TEST(o.snappy);
  BOOST_TEST(!o.statsd_mem_stats);
  BOOST_TEST(o.statsd_exclude_ephemeral);
  BOOST_TEST(!with_config("snappy = false\n").snappy);
  BOOST_TEST(int(with_config("tls_required = true\n").tls_required) == 1);
  BOOST_TEST(int(with_config("tls_required = false\n").tls_required) == 0);
}

BOOST_AUTO_TEST_CASE(durations) {
  BOOST_TEST(with_config("msg_timeout = 5000\n").msg_timeout.count() == nanoseconds(5s).count());
  BOOST_TEST(with_config("msg_timeout = \"5000\"\n").msg_timeout.count() ==
             nanoseconds(5s).count());
  BOOST_TEST(with_config("msg_timeout = \"1m30s\"\n").msg_timeout.count() ==
             nanoseconds(90s).count());
  BOOST_TEST(with_config("msg_timeout = 0\n").msg_timeout.count() == 0);
}

BOOST_AUTO_TEST_CASE(percentiles_keep_file_order) {
  BOOST_TEST(with_config("e2e_processing_latency_percentiles = [0.5, 0.99, 1]\n")
                     .e2e_processing_latency_percentiles ==
                 (std::vector<double>{0.5, 0.99, 1.0}),
             boost::test_tools::per_element());
  BOOST_TEST(with_config("e2e_processing_latency_percentiles = \"0.9, 0.5\"\n")
                     .e2e_processing_latency_percentiles == (std::vector<double>{0.9, 0.5}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(list_flags_replace_file_lists) {
  const auto o = with_config("nsqlookupd_tcp_addresses = [\"a:1\", \"b:2\"]\n",
                             {"--lookupd-tcp-address=c:3"});
  BOOST_TEST(o.lookupd_tcp_addresses == std::vector<std::string>{"c:3"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(flag_only_keys_and_overridden_keys_are_ignored) {
  const auto o = with_config("version = true\nverbose = true\nconfig = \"/x\"\n"
                             "max_rdy_count = \"bad\"\n",
                             {"--max-rdy-count=3"});
  BOOST_TEST(!o.version);
  BOOST_TEST(o.max_rdy_count == 3);
  BOOST_TEST(with_config("").max_rdy_count == 2500);
}

BOOST_AUTO_TEST_CASE(bad_files_and_values_are_errors) {
  auto r = parse({"--config=/nonexistent/dir/nsqd.cfg"});
  BOOST_TEST(int(r.outcome) == int(config::parse_outcome::exit_error));
  BOOST_TEST(contains(r.message, "failed to load config file /nonexistent/dir/nsqd.cfg"),
             r.message);
  BOOST_TEST(contains(config_error("max_rdy_count = \n"), "failed to load config file"));
  BOOST_TEST(contains(config_error("a = 1\na = 2\n"), "failed to load config file"));
  struct row {
    const char* toml;
    const char* key;
  };
  for (const row& bad : {row{"msg_timeout = \"abc\"\n", "msg_timeout"},
                         row{"msg_timeout = true\n", "msg_timeout"},
                         row{"msg_timeout = 9223372036854775807\n", "msg_timeout"},
                         row{"max_rdy_count = true\n", "max_rdy_count"},
                         row{"max_rdy_count = \"0x10\"\n", "max_rdy_count"},
                         row{"max_rdy_count = 1.5\n", "max_rdy_count"},
                         row{"max_channel_consumers = 99999999999\n", "max_channel_consumers"},
                         row{"snappy = \"maybe\"\n", "snappy"},
                         row{"snappy = 1.0\n", "snappy"},
                         row{"log_level = \"loud\"\n", "log_level"},
                         row{"log_level = 2\n", "log_level"},
                         row{"tls_min_version = \"ssl3.0\"\n", "tls_min_version"},
                         row{"tls_required = \"maybe\"\n", "tls_required"},
                         row{"tls_required = 2\n", "tls_required"},
                         row{"tcp_address = 4150\n", "tcp_address"},
                         row{"nsqlookupd_tcp_addresses = [1, 2]\n", "nsqlookupd_tcp_addresses"},
                         row{"e2e_processing_latency_percentiles = [\"x\"]\n",
                             "e2e_processing_latency_percentiles"},
                         row{"e2e_processing_latency_percentiles = \"0.5,x\"\n",
                             "e2e_processing_latency_percentiles"},
                         row{"cores = 2.5\n", "cores"}}) {
    const std::string msg = config_error(bad.toml);
    BOOST_TEST(contains(msg, std::string("invalid value for ") + bad.key + ":"), msg);
  }
  BOOST_TEST(contains(config_error("msg_timeout = \"abc\"\n"), "time: invalid duration \"abc\""));
}

BOOST_AUTO_TEST_CASE(tls_min_version_empty_keeps_default) {
  BOOST_TEST(with_config("tls_min_version = \"\"\n").tls_min_version == 769);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(upstream_messages_in_upstream_order) {
  config::options o = config::default_options();
  BOOST_TEST(validate_error(o) == "");

  o.max_deflate_level = 0;
  BOOST_TEST(validate_error(o) == "--max-deflate-level must be [1,9]");
  o.max_deflate_level = 10;
  o.node_id = 1024;  // both wrong: deflate is checked first
  BOOST_TEST(validate_error(o) == "--max-deflate-level must be [1,9]");
  o.max_deflate_level = 1;
  BOOST_TEST(validate_error(o) == "--node-id must be [0,1024)");
  o.node_id = -1;
  BOOST_TEST(validate_error(o) == "--node-id must be [0,1024)");
  o.node_id = 1023;
  o.max_deflate_level = 9;
  BOOST_TEST(validate_error(o) == "");

  o.tls_required = config::tls_required::yes;
  BOOST_TEST(validate_error(o) == "cannot require TLS client connections without TLS key and cert");
  o.tls_required = config::tls_required::except_http;
  BOOST_TEST(validate_error(o) == "cannot require TLS client connections without TLS key and cert");
  o.tls_cert = "cert.pem";
  o.tls_key = "key.pem";
  BOOST_TEST(validate_error(o) == "");
  o.tls_cert = o.tls_key = "";
  o.tls_required = config::tls_required::no;
  o.tls_client_auth_policy = "require-verify";
  BOOST_TEST(validate_error(o) == "cannot require TLS client connections without TLS key and cert");
  o.tls_client_auth_policy = "";

  for (const char* m : {"put", "POST", "GET", ""}) {
    o.auth_http_request_method = m;
    BOOST_TEST(validate_error(o) == "--auth-http-request-method must be post or get", m);
  }
  o.auth_http_request_method = "post";
  BOOST_TEST(validate_error(o) == "");

  o.e2e_processing_latency_percentiles = {1.0, 0.5};
  BOOST_TEST(validate_error(o) == "");
  o.e2e_processing_latency_percentiles = {0.99, 1.5};
  BOOST_TEST(validate_error(o) == "invalid E2E processing latency percentile: 1.5");
  o.e2e_processing_latency_percentiles = {0};
  BOOST_TEST(validate_error(o) == "invalid E2E processing latency percentile: 0");
  o.e2e_processing_latency_percentiles = {-0.25};
  BOOST_TEST(validate_error(o) == "invalid E2E processing latency percentile: -0.25");
  o.e2e_processing_latency_percentiles = {std::numeric_limits<double>::quiet_NaN()};
  BOOST_TEST(validate_error(o) == "invalid E2E processing latency percentile: NaN");
  o.e2e_processing_latency_percentiles = {};

  o.cores = 0;
  BOOST_TEST(validate_error(o) == "--cores must be >= 1");
}

BOOST_AUTO_TEST_CASE(parsed_options_validate) {
  BOOST_TEST(validate_error(parse_ok({"--node-id=1024"})) == "--node-id must be [0,1024)");
  BOOST_TEST(validate_error(parse_ok({"--max-deflate-level=0"})) ==
             "--max-deflate-level must be [1,9]");
  BOOST_TEST(validate_error(parse_ok({"--tls-required"})) ==
             "cannot require TLS client connections without TLS key and cert");
  BOOST_TEST(validate_error(parse_ok({"--e2e-processing-latency-percentile=2"})) ==
             "invalid E2E processing latency percentile: 2");
  BOOST_TEST(validate_error(parse_ok({"--cores=0"})) == "--cores must be >= 1");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(config_api)

BOOST_AUTO_TEST_CASE(values_as_upstream_serves_them) {
  const config::options o = parse_ok({"--tcp-address=127.0.0.1:4150", "--node-id=7"});
  auto tcp = config::config_get(o, "tcp_address");
  BOOST_TEST_REQUIRE(tcp.has_value());
  BOOST_TEST(tcp->is_text);
  BOOST_TEST(tcp->body == "127.0.0.1:4150");
  BOOST_TEST(!config::config_get(o, "max_rdy_count")->is_text);
  BOOST_TEST(get(o, "max_rdy_count") == "2500");
  BOOST_TEST(get(o, "mem_queue_size") == "10000");
  BOOST_TEST(get(o, "max_msg_size") == "1048576");
  BOOST_TEST(get(o, "msg_timeout") == "60000000000");
  BOOST_TEST(get(o, "min_output_buffer_timeout") == "25000000");
  BOOST_TEST(get(o, "log_level") == "2");
  BOOST_TEST(get(o, "tls_min_version") == "769");
  BOOST_TEST(get(o, "tls_required") == "0");
  BOOST_TEST(get(o, "id") == "7");
  BOOST_TEST(get(o, "snappy") == "true");
  BOOST_TEST(get(o, "statsd_exclude_ephemeral") == "false");
  BOOST_TEST(get(o, "statsd_prefix") == "nsq.%s");
  BOOST_TEST(get(o, "log_prefix") == "[nsqd] ");
  BOOST_TEST(get(o, "http_address") == "0.0.0.0:4151");
  BOOST_TEST(get(o, "cores") == std::to_string(o.cores));
}

BOOST_AUTO_TEST_CASE(lists) {
  config::options o = parse_ok({});
  BOOST_TEST(get(o, "nsqlookupd_tcp_addresses") == "[]");
  BOOST_TEST(get(o, "auth_http_addresses") == "[]");
  BOOST_TEST(get(o, "e2e_processing_latency_percentiles") == "null");
  BOOST_TEST(get(o, "enable_experiment") == "null");
  o = parse_ok({"--lookupd-tcp-address=a:1", "--lookupd-tcp-address=b:2",
                "--e2e-processing-latency-percentile=0.99,1", "--enable-experiment=x"});
  BOOST_TEST(get(o, "nsqlookupd_tcp_addresses") == "[\"a:1\",\"b:2\"]");
  BOOST_TEST(get(o, "e2e_processing_latency_percentiles") == "[1,0.99]");
  BOOST_TEST(get(o, "enable_experiment") == "[\"x\"]");
}

BOOST_AUTO_TEST_CASE(enums_follow_flags) {
  const auto o = parse_ok({"--log-level=debug", "--tls-required=tcp-https",
                           "--tls-min-version=tls1.3", "--msg-timeout=2s"});
  BOOST_TEST(get(o, "log_level") == "1");
  BOOST_TEST(get(o, "tls_required") == "2");
  BOOST_TEST(get(o, "tls_min_version") == "772");
  BOOST_TEST(get(o, "msg_timeout") == "2000000000");
}

BOOST_AUTO_TEST_CASE(unknown_and_flag_only_names) {
  const config::options o;
  for (const char* name : {"no_such_option", "", "max-rdy-count", "node_id", "version",
                           "config", "verbose", "worker_id", "queue_scan_interval",
                           "client_timeout", "lookupd_tcp_address"})
    BOOST_TEST(!config::config_get(o, name).has_value(), name);
}

BOOST_AUTO_TEST_CASE(every_resolved_option_answers) {
  const config::options o = config::default_options();
  for (const auto& spec : config::detail::option_table())
    BOOST_TEST(config::config_get(o, spec.cfg).has_value() == spec.resolved, spec.cfg);
}

BOOST_AUTO_TEST_CASE(log_level_names) {
  for (auto l : {config::log_level::debug, config::log_level::info, config::log_level::warn,
                 config::log_level::error, config::log_level::fatal})
    BOOST_TEST(int(*config::parse_log_level(config::to_string(l))) == int(l));
  BOOST_TEST(int(*config::parse_log_level("WARN")) == 3);
  BOOST_TEST(!config::parse_log_level("loud").has_value());
  BOOST_TEST(!config::parse_log_level("").has_value());
  BOOST_TEST(!config::parse_log_level("warning").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(after_listen)

BOOST_AUTO_TEST_CASE(broadcast_ports_left_at_zero_take_the_bound_ones) {
  config::options o = parse_ok({"--broadcast-tcp-port=9", "--statsd-prefix="});
  config::resolve_after_listen(o, 4150, 4151);
  BOOST_TEST(o.broadcast_tcp_port == 9);
  BOOST_TEST(o.broadcast_http_port == 4151);
  BOOST_TEST(o.statsd_prefix == "");  // an empty prefix stays empty
  config::options no_http = parse_ok({});
  config::resolve_after_listen(no_http, 4150, -1);  // no HTTP listener (or a unix socket)
  BOOST_TEST(no_http.broadcast_http_port == 0);
}

BOOST_AUTO_TEST_CASE(statsd_prefix_gets_the_host_key_and_a_trailing_dot) {
  config::options o = parse_ok({"--broadcast-address=10.0.0.1"});
  config::resolve_after_listen(o, 4150, 4151);
  BOOST_TEST(o.statsd_prefix == "nsq.10_0_0_1_4151.");
  // Every %s; an IPv6 host is bracketed as Go's JoinHostPort does; a '.' is not doubled.
  config::options v6 = parse_ok({"--broadcast-address=::1", "--broadcast-http-port=80",
                                 "--statsd-prefix=a%s.b%s."});
  config::resolve_after_listen(v6, 4150, 4151);
  BOOST_TEST(v6.statsd_prefix == "a[__1]_80.b[__1]_80.");
  config::options plain = parse_ok({"--statsd-prefix=app"});
  config::resolve_after_listen(plain, 4150, 4151);
  BOOST_TEST(plain.statsd_prefix == "app.");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(join_host_port_as_go) {
  BOOST_TEST(go::join_host_port("127.0.0.1", 4151) == "127.0.0.1:4151");
  BOOST_TEST(go::join_host_port("::1", 4151) == "[::1]:4151");
  BOOST_TEST(go::join_host_port("", 0) == ":0");
  BOOST_TEST(!config::os_hostname().empty());
}
