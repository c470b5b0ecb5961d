#include "config/options_table.hpp"

#include <algorithm>
#include <functional>

#include "go/duration.hpp"
#include "go/go_syntax.hpp"

namespace nsqd::config::detail {
namespace {

using o = options;

// One row per option: flag, config key, help, field[, in /config, empty list is null].
const option_spec rows[] = {
    {"version", "version", "print the version and exit", &o::version, false},
    {"config", "config", "path to a TOML config file", &o::config, false},
    {"log-level", "log_level", "log verbosity: debug, info, warn, error or fatal", &o::log_level},
    {"log-prefix", "log_prefix", "prefix of every log line", &o::log_prefix},
    {"verbose", "verbose", "[deprecated] no effect, use --log-level", &o::verbose, false},
    {"node-id", "id", "this node's part of message IDs, in [0,1024); defaults to a hash of the "
     "hostname", &o::node_id},
    {"worker-id", "worker_id", "[deprecated] use --node-id", &o::worker_id, false},
    {"https-address", "https_address",
     "<addr>:<port> to listen on for HTTPS clients (needs a TLS cert and key)", &o::https_address},
    {"http-address", "http_address", "<addr>:<port> (or a unix socket path) to listen on for "
     "HTTP clients", &o::http_address},
    {"tcp-address", "tcp_address", "<addr>:<port> (or a unix socket path) to listen on for TCP "
     "clients", &o::tcp_address},
    {"auth-http-address", "auth_http_addresses", "<addr>:<port> or URL of an auth server (may "
     "be given multiple times)", &o::auth_http_addresses, true, false},
    {"auth-http-request-method", "auth_http_request_method",
     "HTTP method of auth server requests: get or post", &o::auth_http_request_method},
    {"broadcast-address", "broadcast_address",
     "address registered with nsqlookupd; defaults to the OS hostname", &o::broadcast_address},
    {"broadcast-tcp-port", "broadcast_tcp_port",
     "TCP port registered with nsqlookupd (0: the TCP listen port)", &o::broadcast_tcp_port},
    {"broadcast-http-port", "broadcast_http_port",
     "HTTP port registered with nsqlookupd (0: the HTTP listen port)", &o::broadcast_http_port},
    {"lookupd-tcp-address", "nsqlookupd_tcp_addresses",
     "nsqlookupd TCP address (may be given multiple times)", &o::lookupd_tcp_addresses, true,
     false},
    {"http-client-connect-timeout", "http_client_connect_timeout",
     "connect timeout of outgoing HTTP requests", &o::http_client_connect_timeout},
    {"http-client-request-timeout", "http_client_request_timeout",
     "timeout of outgoing HTTP requests", &o::http_client_request_timeout},
    {"topology-region", "topology_region",
     "this node's region, for topology-aware consumption", &o::topology_region},
    {"topology-zone", "topology_zone", "this node's zone, for topology-aware consumption",
     &o::topology_zone},
    {"data-path", "data_path", "directory for disk-backed messages and metadata (must exist)",
     &o::data_path},
    {"mem-queue-size", "mem_queue_size",
     "messages kept in memory per topic and per channel", &o::mem_queue_size},
    {"max-bytes-per-file", "max_bytes_per_file",
     "bytes per disk queue file before the next one starts", &o::max_bytes_per_file},
    {"sync-every", "sync_every", "disk queue operations between fsyncs", &o::sync_every},
    {"sync-timeout", "sync_timeout", "longest time between disk queue fsyncs",
     &o::sync_timeout},
    {"queue-scan-worker-pool-max", "queue_scan_worker_pool_max",
     "most concurrent workers checking in-flight and deferred timeouts",
     &o::queue_scan_worker_pool_max},
    {"queue-scan-selection-count", "queue_scan_selection_count",
     "channels checked per cycle (every 100ms) for in-flight and deferred timeouts",
     &o::queue_scan_selection_count},
    {"msg-timeout", "msg_timeout", "default time before an unfinished message is requeued",
     &o::msg_timeout},
    {"max-msg-timeout", "max_msg_timeout", "longest time a message may stay in flight",
     &o::max_msg_timeout},
    {"max-msg-size", "max_msg_size", "largest message body, in bytes", &o::max_msg_size},
    {"max-req-timeout", "max_req_timeout", "longest requeue or publish delay",
     &o::max_req_timeout},
    {"max-body-size", "max_body_size", "largest command body, in bytes", &o::max_body_size},
    {"max-heartbeat-interval", "max_heartbeat_interval",
     "longest heartbeat interval a client may ask for", &o::max_heartbeat_interval},
    {"max-rdy-count", "max_rdy_count", "largest RDY count a client may set", &o::max_rdy_count},
    {"max-output-buffer-size", "max_output_buffer_size",
     "largest output buffer a client may ask for, in bytes", &o::max_output_buffer_size},
    {"max-output-buffer-timeout", "max_output_buffer_timeout",
     "longest output flush interval a client may ask for", &o::max_output_buffer_timeout},
    {"min-output-buffer-timeout", "min_output_buffer_timeout",
     "shortest output flush interval a client may ask for", &o::min_output_buffer_timeout},
    {"output-buffer-timeout", "output_buffer_timeout", "default output flush interval",
     &o::output_buffer_timeout},
    {"max-channel-consumers", "max_channel_consumers",
     "most consumers per channel on this node (0: unlimited)", &o::max_channel_consumers},
    {"statsd-address", "statsd_address", "UDP <addr>:<port> of a statsd daemon to push to",
     &o::statsd_address},
    {"statsd-interval", "statsd_interval", "time between statsd pushes", &o::statsd_interval},
    {"statsd-mem-stats", "statsd_mem_stats", "also push memory stats to statsd",
     &o::statsd_mem_stats},
    {"statsd-prefix", "statsd_prefix", "prefix of statsd keys (%s: this host)",
     &o::statsd_prefix},
    {"statsd-udp-packet-size", "statsd_udp_packet_size", "largest statsd UDP packet, in bytes",
     &o::statsd_udp_packet_size},
    {"statsd-exclude-ephemeral", "statsd_exclude_ephemeral",
     "leave ephemeral topics and channels out of statsd", &o::statsd_exclude_ephemeral},
    {"e2e-processing-latency-percentile", "e2e_processing_latency_percentiles",
     "end-to-end latency percentile to track, in (0,1] (may be given multiple times or "
     "comma-separated: 1.0,0.99,0.95)", &o::e2e_processing_latency_percentiles},
    {"e2e-processing-latency-window-time", "e2e_processing_latency_window_time",
     "window of the end-to-end latency percentiles", &o::e2e_processing_latency_window_time},
    {"tls-cert", "tls_cert", "path to the TLS certificate file", &o::tls_cert},
    {"tls-key", "tls_key", "path to the TLS key file", &o::tls_key},
    {"tls-client-auth-policy", "tls_client_auth_policy",
     "client certificate policy: require or require-verify", &o::tls_client_auth_policy},
    {"tls-root-ca-file", "tls_root_ca_file", "path to the certificate authority file",
     &o::tls_root_ca_file},
    {"tls-required", "tls_required", "require TLS from clients: true, false or tcp-https",
     &o::tls_required},
    {"tls-min-version", "tls_min_version",
     "lowest TLS version accepted: tls1.0, tls1.1, tls1.2 or tls1.3", &o::tls_min_version},
    {"deflate", "deflate", "let clients negotiate deflate compression", &o::deflate},
    {"max-deflate-level", "max_deflate_level",
     "highest deflate level a client may negotiate, in [1,9]", &o::max_deflate_level},
    {"snappy", "snappy", "let clients negotiate snappy compression", &o::snappy},
    {"enable-experiment", "enable_experiment",
     "enable an experiment: topology-aware-consumption (may be given multiple times)",
     &o::enable_experiment},
    {"cores", "cores", "number of shards, one thread each; defaults to the CPUs this process "
     "may use", &o::cores},
    {"durable-publish", "durable_publish", "answer publishes only once their messages are "
     "fsynced to the disk queue (group commit); every message goes through disk", &o::durable_publish},
};

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

std::string_view tls_version_name(std::uint16_t v) {
  switch (v) {
    case tls_version_1_0: return "tls1.0";
    case tls_version_1_1: return "tls1.1";
    case tls_version_1_2: return "tls1.2";
    case tls_version_1_3: return "tls1.3";
    default: return "";
  }
}

std::string number_error(go::num_error e) {
  return e == go::num_error::range ? "value out of range" : "parse error";
}

std::string set_int64(std::int64_t& dst, std::string_view text, std::int64_t lo,
                      std::int64_t hi) {
  std::int64_t v = 0;
  if (auto e = go::parse_int(text, 0, v); e != go::num_error::none) return number_error(e);
  if (v < lo || v > hi) return number_error(go::num_error::range);
  dst = v;
  return {};
}

template <class T, class Render>
std::string json_list(const std::vector<T>& list, bool empty_is_null, Render render) {
  if (list.empty()) return empty_is_null ? "null" : "[]";
  std::string out = "[";
  for (const T& v : list) {
    if (out.size() > 1) out += ',';
    out += render(v);
  }
  return out + "]";
}

}  // namespace

std::span<const option_spec> option_table() { return rows; }

const option_spec* find_by_flag(std::string_view flag) {
  for (const auto& r : rows)
    if (r.flag == flag) return &r;
  return nullptr;
}

const option_spec* find_by_cfg(std::string_view cfg) {
  for (const auto& r : rows)
    if (r.cfg == cfg) return &r;
  return nullptr;
}

bool is_bool_flag(const option_spec& spec) {
  return std::holds_alternative<bool o::*>(spec.target) ||
         std::holds_alternative<tls_required o::*>(spec.target);
}

std::optional<log_level> parse_log_level_text(std::string_view text) {
  const std::string t = lowered(text);
  if (t == "debug") return log_level::debug;
  if (t == "info") return log_level::info;
  if (t == "warn") return log_level::warn;
  if (t == "error") return log_level::error;
  if (t == "fatal") return log_level::fatal;
  return std::nullopt;
}

std::optional<tls_required> parse_tls_required(std::string_view text) {
  const std::string t = lowered(text);
  if (t == "tcp-https") return tls_required::except_http;
  if (auto b = go::parse_bool(t)) return *b ? tls_required::yes : tls_required::no;
  return std::nullopt;
}

tls_version_parse parse_tls_min_version(std::string_view text) {
  const std::string t = lowered(text);
  if (t.empty()) return {true, std::nullopt};
  for (std::uint16_t v : {tls_version_1_0, tls_version_1_1, tls_version_1_2, tls_version_1_3})
    if (t == tls_version_name(v)) return {true, v};
  return {};
}

std::string set_from_flag(const option_spec& spec, options& opts, std::string_view text) {
  return std::visit(
      overloaded{
          [&](bool o::*m) -> std::string {
            auto b = go::parse_bool(text);
            if (!b) return "parse error";
            opts.*m = *b;
            return {};
          },
          [&](std::int64_t o::*m) { return set_int64(opts.*m, text, INT64_MIN, INT64_MAX); },
          [&](int o::*m) {
            std::int64_t v = 0;
            std::string err = set_int64(v, text, INT32_MIN, INT32_MAX);
            if (err.empty()) opts.*m = int(v);
            return err;
          },
          [&](std::uint16_t o::*m) -> std::string {
            const auto r = parse_tls_min_version(text);
            if (!r.ok) return std::string("unknown TLS version ") + go::quote(text);
            if (r.value) opts.*m = *r.value;
            return {};
          },
          [&](std::chrono::nanoseconds o::*m) -> std::string {
            auto d = go::parse_duration(text);
            if (!d) return "parse error";
            opts.*m = *d;
            return {};
          },
          [&](std::string o::*m) -> std::string {
            opts.*m = std::string(text);
            return {};
          },
          [&](std::vector<std::string> o::*m) -> std::string {
            (opts.*m).emplace_back(text);
            return {};
          },
          [&](std::vector<double> o::*m) -> std::string {
            std::vector<double> parsed;
            for (std::size_t start = 0;;) {
              const std::size_t comma = text.find(',', start);
              const std::string_view item = text.substr(start, comma - start);
              auto v = go::parse_float(item);
              if (!v) return std::string("cannot parse ") + go::quote(item) + " as a number";
              parsed.push_back(*v);
              if (comma == std::string_view::npos) break;
              start = comma + 1;
            }
            auto& list = opts.*m;
            list.insert(list.end(), parsed.begin(), parsed.end());
            std::stable_sort(list.begin(), list.end(), std::greater<>());
            return {};
          },
          [&](log_level o::*m) -> std::string {
            auto l = parse_log_level_text(text);
            if (!l) return std::string("unknown log level ") + go::quote(text) +
                           " (debug, info, warn, error, fatal)";
            opts.*m = *l;
            return {};
          },
          [&](tls_required o::*m) -> std::string {
            auto t = parse_tls_required(text);
            if (!t) return "parse error";
            opts.*m = *t;
            return {};
          },
      },
      spec.target);
}

void copy_field(const option_spec& spec, const options& from, options& to) {
  std::visit([&](auto m) { to.*m = from.*m; }, spec.target);
}

config_value render_config(const option_spec& spec, const options& opts) {
  return std::visit(
      overloaded{
          [&](bool o::*m) { return config_value{false, opts.*m ? "true" : "false"}; },
          [&](std::int64_t o::*m) { return config_value{false, std::to_string(opts.*m)}; },
          [&](int o::*m) { return config_value{false, std::to_string(opts.*m)}; },
          [&](std::uint16_t o::*m) { return config_value{false, std::to_string(opts.*m)}; },
          [&](std::chrono::nanoseconds o::*m) {
            return config_value{false, std::to_string((opts.*m).count())};
          },
          [&](std::string o::*m) { return config_value{true, opts.*m}; },
          [&](std::vector<std::string> o::*m) {
            return config_value{false, json_list(opts.*m, spec.empty_list_is_null,
                                                 [](const std::string& s) {
                                                   return go::json_string(s);
                                                 })};
          },
          [&](std::vector<double> o::*m) {
            return config_value{false, json_list(opts.*m, spec.empty_list_is_null,
                                                 [](double v) { return go::json_float(v); })};
          },
          [&](log_level o::*m) { return config_value{false, std::to_string(int(opts.*m))}; },
          [&](tls_required o::*m) {
            return config_value{false, std::to_string(int(opts.*m))};
          },
      },
      spec.target);
}

std::string_view usage_type(const option_spec& spec) {
  return std::visit(overloaded{
                        [](bool o::*) { return std::string_view{}; },
                        [](tls_required o::*) { return std::string_view{}; },
                        [](std::int64_t o::*) { return std::string_view{"int"}; },
                        [](int o::*) { return std::string_view{"int"}; },
                        [](std::chrono::nanoseconds o::*) { return std::string_view{"duration"}; },
                        [](std::string o::*) { return std::string_view{"string"}; },
                        [](auto) { return std::string_view{"value"}; },
                    },
                    spec.target);
}

std::string usage_default(const option_spec& spec, const options& d) {
  return std::visit(
      overloaded{
          [&](bool o::*m) { return d.*m ? std::string("true") : std::string(); },
          [&](std::int64_t o::*m) { return d.*m ? std::to_string(d.*m) : std::string(); },
          [&](int o::*m) { return d.*m ? std::to_string(d.*m) : std::string(); },
          [&](std::uint16_t o::*m) { return std::string(tls_version_name(d.*m)); },
          [&](std::chrono::nanoseconds o::*m) {
            return (d.*m).count() ? go::format_duration(d.*m) : std::string();
          },
          [&](std::string o::*m) { return (d.*m).empty() ? std::string() : go::quote(d.*m); },
          [&](std::vector<std::string> o::*m) {
            std::string out;
            for (const auto& s : d.*m) {
              if (!out.empty()) out += ',';
              out += s;
            }
            return out;
          },
          [&](std::vector<double> o::*m) {
            std::string out;
            for (double v : d.*m) {
              if (!out.empty()) out += ',';
              out += go::format_float(v);
            }
            return out;
          },
          [&](log_level o::*m) { return std::string(to_string(d.*m)); },
          [&](tls_required o::*m) {
            switch (d.*m) {
              case tls_required::yes: return std::string("true");
              case tls_required::except_http: return std::string("tcp-https");
              default: return std::string();
            }
          },
      },
      spec.target);
}

}  // namespace nsqd::config::detail
