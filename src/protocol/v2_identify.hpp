#pragma once
// IDENTIFY (SPEC B.5): decoding the client's JSON body as upstream's encoding/json does, the
// range checks that turn it into per-connection settings, and the feature-negotiation answer.
// Pure functions: no I/O, no connection state.
//
// TLS is not built yet: negotiation answers tls_v1 false. snappy and deflate are offered as
// --snappy/--deflate allow (the upgrade itself happens in v2_commands.cpp, codecs in
// net/compression.hpp); asking for both is refused exactly as upstream decides it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/options.hpp"

namespace nsqd::protocol {

// The IDENTIFY body as sent. Absent or null fields keep their zero value, as Go's decoder
// leaves them; numbers are in the units of the protocol (milliseconds, bytes).
struct identify_request {
  std::string client_id;
  std::string hostname;
  std::string user_agent;
  std::string topology_region;
  std::string topology_zone;
  std::int64_t heartbeat_interval = 0;     // ms; -1 disables, 0 keeps the current value
  std::int64_t output_buffer_size = 0;     // bytes; -1 unbuffered, 0 keeps
  std::int64_t output_buffer_timeout = 0;  // ms; -1 no timer, 0 keeps
  std::int64_t deflate_level = 0;
  std::int64_t msg_timeout = 0;            // ms; 0 keeps
  std::int32_t sample_rate = 0;            // 0..99
  bool feature_negotiation = false;
  bool tls_v1 = false;
  bool snappy = false;
  bool deflate = false;
};

// Decodes like Go's json.Unmarshal into upstream's identify struct: a JSON object (or null),
// keys matched case-insensitively, unknown keys ignored, the last duplicate winning. Strings
// must be strings, booleans booleans, numbers integers that fit the field (1.0, 1e3, "5" or
// an int32 overflow of sample_rate are errors). nullopt on any error (E_BAD_BODY
// "IDENTIFY failed to decode JSON body").
std::optional<identify_request> parse_identify(std::string_view json);

// What IDENTIFY may change on a connection. Durations of 0 mean "off".
struct client_settings {
  std::chrono::nanoseconds heartbeat_interval{0};     // 0: no heartbeats, no read deadline
  std::int64_t output_buffer_size = 16384;            // 1 = unbuffered
  std::chrono::nanoseconds output_buffer_timeout{0};  // 0: no flush timer
  std::chrono::nanoseconds msg_timeout{0};
  int sample_rate = 0;                                // 0 = every message
};

// A new connection's settings: heartbeat = client_timeout / 2 (30 s), buffer 16384 bytes,
// flush timer --output-buffer-timeout, --msg-timeout, no sampling.
client_settings default_settings(const config::options& opts);

// Applies the request's numbers to `settings` in upstream's order (heartbeat interval, output
// buffer timeout, output buffer size, sample rate, msg timeout). On an out-of-range value
// returns upstream's text ("heartbeat interval (999) is invalid") and leaves `settings`
// unchanged; the caller sends E_BAD_BODY "IDENTIFY <text>".
std::optional<std::string> apply_identify(const identify_request& req,
                                          const config::options& opts,
                                          client_settings& settings);

// The features a negotiating client gets.
struct negotiation {
  bool tls_v1 = false;
  bool deflate = false;
  int deflate_level = 6;
  bool snappy = false;
  bool conflict = false;  // deflate and snappy both chosen: E_IDENTIFY_FAILED, fatal
};
// `tls_offered`: the node has a TLS config (--tls-cert, --tls-key).
negotiation negotiate(const identify_request& req, const config::options& opts, bool tls_offered);

// The negotiation response, fields in upstream's order: max_rdy_count, version,
// max_msg_timeout, msg_timeout, tls_v1, deflate, deflate_level, max_deflate_level, snappy,
// sample_rate, auth_required, output_buffer_size, output_buffer_timeout, topology_region,
// topology_zone. Durations in milliseconds.
std::string negotiation_json(const negotiation& n, const client_settings& settings,
                             const config::options& opts);

}  // namespace nsqd::protocol
