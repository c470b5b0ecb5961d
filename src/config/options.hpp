#pragma once
// nsqd's options: every command-line flag of upstream nsqd v1.3 (SPEC A.1), the TOML config
// file (SPEC A.2), their validation, and the values served by `GET /config/:opt`.
//
// main calls parse_command_line() once; the server calls validate() after locking the data
// path, as upstream orders its checks. The resulting `options` is immutable
// and shared read-only by every shard (the log level, changed by `PUT /config/log_level`, and
// the lookupd peers, by `PUT /config/nsqlookupd_tcp_addresses`, live elsewhere at run time).
//
// Command line, as Go's `flag` package reads it: `--name=v`, `--name v`, `-name=v`, `-name v`.
// Booleans never take the next argument (`--snappy`, `--snappy=false`, `-deflate=0`). `--`
// ends the flags, and so does the first argument that is not a flag (the rest is ignored).
// A flag given twice keeps the last value; list flags collect every value.
//
// Precedence, per option: explicit flag > config file key > default.
//
// Adding an option: a field below (its initializer is the default) and one row in the table
// in options_table.cpp (flag name, config key, help text); parsing, the config file, the usage
// text and /config follow from the field's type.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/version.hpp"

namespace nsqd::config {

using namespace std::chrono_literals;

// Upstream's log levels and their numbers (`/config/log_level` answers the number).
enum class log_level : int { debug = 1, info = 2, warn = 3, error = 4, fatal = 5 };

// --tls-required: `false`, `true`, or `tcp-https` (TLS on TCP only, plain HTTP allowed).
enum class tls_required : int { no = 0, yes = 1, except_http = 2 };

// TLS protocol versions as their wire numbers (what /config/tls_min_version answers).
inline constexpr std::uint16_t tls_version_1_0 = 0x0301;  // 769
inline constexpr std::uint16_t tls_version_1_1 = 0x0302;
inline constexpr std::uint16_t tls_version_1_2 = 0x0303;
inline constexpr std::uint16_t tls_version_1_3 = 0x0304;  // 772

// Fields in upstream's flag declaration order. Comments give the flag; the config-file key
// is the flag with '-' -> '_' unless noted. Durations are Go duration strings on the command
// line and in usage, nanoseconds in /config.
struct options {
  bool version = false;                           // --version: print version, exit 0
  std::string config;                             // --config: TOML file path
  config::log_level log_level = config::log_level::info;  // --log-level (case-insensitive)
  std::string log_prefix = "[nsqd] ";             // --log-prefix
  bool verbose = false;                           // --verbose: deprecated, no effect
  std::int64_t node_id = 0;                       // --node-id, cfg `id`; [0,1024)
  bool worker_id = false;                         // --worker-id: deprecated bool, no effect
  std::string https_address = "0.0.0.0:4152";     // --https-address; "" disables
  std::string http_address = "0.0.0.0:4151";      // --http-address; host:port or unix path
  std::string tcp_address = "0.0.0.0:4150";       // --tcp-address; host:port or unix path
  std::vector<std::string> auth_http_addresses;   // --auth-http-address (repeatable),
                                                  //   cfg `auth_http_addresses`
  std::string auth_http_request_method = "get";   // --auth-http-request-method: get|post
  std::string broadcast_address;                  // --broadcast-address (default: hostname)
  int broadcast_tcp_port = 0;                     // --broadcast-tcp-port; 0 = listen port
  int broadcast_http_port = 0;                    // --broadcast-http-port; 0 = listen port
  std::vector<std::string> lookupd_tcp_addresses; // --lookupd-tcp-address (repeatable),
                                                  //   cfg `nsqlookupd_tcp_addresses`
  std::chrono::nanoseconds http_client_connect_timeout = 2s;
  std::chrono::nanoseconds http_client_request_timeout = 5s;
  std::string topology_region;                    // --topology-region (experiment)
  std::string topology_zone;                      // --topology-zone (experiment)
  std::string data_path;                          // --data-path; "" = working directory
  std::int64_t mem_queue_size = 10000;            // per topic and per channel; 0 = none
  std::int64_t max_bytes_per_file = 104857600;    // diskqueue segment size
  std::int64_t sync_every = 2500;                 // diskqueue fsync every N operations
  std::chrono::nanoseconds sync_timeout = 2s;     // diskqueue fsync at least this often
  int queue_scan_worker_pool_max = 4;
  int queue_scan_selection_count = 20;
  std::chrono::nanoseconds msg_timeout = 60s;
  std::chrono::nanoseconds max_msg_timeout = 15min;
  std::int64_t max_msg_size = 1048576;
  std::chrono::nanoseconds max_req_timeout = 1h;
  std::int64_t max_body_size = 5242880;
  std::chrono::nanoseconds max_heartbeat_interval = 60s;
  std::int64_t max_rdy_count = 2500;
  std::int64_t max_output_buffer_size = 65536;
  std::chrono::nanoseconds max_output_buffer_timeout = 30s;
  std::chrono::nanoseconds min_output_buffer_timeout = 25ms;
  std::chrono::nanoseconds output_buffer_timeout = 250ms;
  int max_channel_consumers = 0;                  // 0 = unlimited
  std::string statsd_address;                     // UDP host:port; "" = no statsd
  std::chrono::nanoseconds statsd_interval = 60s;
  bool statsd_mem_stats = true;
  std::string statsd_prefix = "nsq.%s";           // %s -> host key
  int statsd_udp_packet_size = 508;
  bool statsd_exclude_ephemeral = false;
  // --e2e-processing-latency-percentile (repeatable, comma-separated; flag values are kept
  // sorted descending, config-file values in file order), cfg
  // `e2e_processing_latency_percentiles`. Each must be in (0,1] (validate()).
  std::vector<double> e2e_processing_latency_percentiles;
  std::chrono::nanoseconds e2e_processing_latency_window_time = 10min;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_auth_policy;             // require | require-verify; forces TLS
  std::string tls_root_ca_file;
  config::tls_required tls_required = config::tls_required::no;
  std::uint16_t tls_min_version = tls_version_1_0; // --tls-min-version tls1.0..tls1.3
  bool deflate = true;
  int max_deflate_level = 6;                      // [1,9]
  bool snappy = true;
  std::vector<std::string> enable_experiment;     // --enable-experiment (repeatable)

  // Ours: shards (threads, one per CPU). --cores, cfg `cores`; >= 1. default_options() sets
  // it to the number of CPUs this process may run on.
  int cores = 1;
  // Ours: --durable-publish, cfg `durable_publish`. PUB/MPUB/DPUB and /pub, /mpub are answered
  // only once their records are written and fsynced (group commit: one fsync serves every
  // publisher waiting on the shard); every message goes through the disk queue.
  bool durable_publish = false;

  // Fixed values upstream has no flag for (not settable, not in /config).
  std::chrono::nanoseconds queue_scan_interval = 100ms;
  std::chrono::nanoseconds queue_scan_refresh_interval = 5s;
  double queue_scan_dirty_percent = 0.25;
  std::chrono::nanoseconds client_timeout = 60s;  // heartbeat default is half of it
};

// `options{}` plus the host-derived defaults: node_id = default_node_id(hostname),
// broadcast_address = hostname, cores = CPUs in this process's affinity mask.
options default_options();
// os.Hostname(): this host's name (the default --broadcast-address, the IDENTIFY hostname
// nsqd sends to nsqlookupd). Throws std::system_error if the kernel does not say.
std::string os_hostname();

// Upstream's default node id: crc32(md5(hostname)) % 1024 ("vm" -> 617).
std::int64_t default_node_id(std::string_view hostname);

enum class parse_outcome {
  run,         // start the daemon with `opts`
  exit_ok,     // --help or --version: write `message` (ends with '\n') to stdout, exit 0
  exit_usage,  // bad flag (Go's flag package): `message` is one line (no '\n'); stderr gets it
               // and the usage text (`message`, then usage_text()), exit 2, as Go's ExitOnError
  exit_error,  // bad config file: `message` is one line (no '\n'), for stderr; exit 1
};

struct parse_result {
  parse_outcome outcome = parse_outcome::run;
  options opts;
  std::string message;
};

// Reads argv[1..argc) (argv[0] is the program name): defaults, then the --config TOML file if
// given, then the explicit flags. Does not validate ranges (see validate()), except what a
// parse needs. A non-empty --tls-client-auth-policy turns tls_required `no` into `yes`, as
// upstream does. Never throws for bad input: errors come back as exit_usage / exit_error.
parse_result parse_command_line(int argc, const char* const* argv);

// Upstream's start-up checks that need no I/O, in upstream's order; throws
// std::invalid_argument with upstream's text:
//   "--max-deflate-level must be [1,9]", "--node-id must be [0,1024)",
//   "cannot require TLS client connections without TLS key and cert",
//   "--auth-http-request-method must be post or get",
//   "invalid E2E processing latency percentile: 1.5", and ours "--cores must be >= 1".
// Loading the cert/key/CA, the data path lock and binding listeners are the server's job.
void validate(const options& opts);

// What upstream's New() derives once the listeners are bound: broadcast ports left at 0
// become the real TCP and HTTP ports (-1: none or a unix socket, the value stays 0), and
// every `%s` of a non-empty --statsd-prefix becomes the host key (broadcast
// address:http port, `.` and `:` as `_`), with a trailing `.` added: `nsq.%s` on host
// "vm" port 4151 -> `nsq.vm_4151.`. /config shows these values, as upstream's.
void resolve_after_listen(options& opts, int tcp_port, int http_port);

// `GET /config/:opt`, by config-file name ("id", "msg_timeout", "nsqlookupd_tcp_addresses").
// Strings are raw text (is_text); everything else is the JSON upstream answers: numbers and
// bools, durations as integer nanoseconds, log_level 1..5, tls_required 0|1|2,
// tls_min_version 769..772, lists as JSON arrays. An empty list is `[]` for
// nsqlookupd_tcp_addresses and auth_http_addresses (upstream initialises them) and `null`
// for e2e_processing_latency_percentiles and enable_experiment. nullopt for names upstream
// rejects with INVALID_OPTION (unknown, or version/config/verbose/worker_id).
struct config_value {
  bool is_text = false;
  std::string body;
};
std::optional<config_value> config_get(const options& opts, std::string_view cfg_name);

// Log level names, case-insensitive: debug, info, warn, error, fatal. (`PUT /config/log_level`)
std::optional<config::log_level> parse_log_level(std::string_view text);
std::string_view to_string(config::log_level level);

// "nsqd v1.3.0 (built w/g++ 12.2.0)": the --version line.
std::string version_string();

// The --help text: every flag with its type, help text and default (from `defaults`,
// normally default_options(); zero values are not shown), sorted by name, in the layout of
// Go's flag.PrintDefaults.
std::string usage_text(const options& defaults);

}  // namespace nsqd::config
