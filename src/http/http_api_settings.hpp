#pragma once
// What every shard's HTTP API shares: facts about the process that /info and /stats report,
// and the settings `PUT /config/:opt` changes while nsqd runs.
//
// One http_shared per process, built before the shards serve and destroyed after they stop
// (the server owns it). Shards read it concurrently; only PUT /config writes, rarely, so a
// mutex guards the mutable part (never on a message path). The log level, the other setting
// PUT /config changes, lives in the shared core::logger.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/options.hpp"

namespace nsqd::http {

// The nsqlookupd peers, as upstream keeps them in its options: --lookupd-tcp-address at start,
// replaced by `PUT /config/nsqlookupd_tcp_addresses`. nullopt is upstream's nil list (after a
// PUT of `null`), which /config shows as `null`.
//
// TODO(lookupd): the lookupd client (DESIGN: loops/, shard 0) does not exist yet. It will read
// lookupd_tcp_addresses() and reconcile its peers whenever version() changes, as upstream's
// lookupLoop does on its options notification.
class runtime_settings {
 public:
  using address_list = std::optional<std::vector<std::string>>;

  explicit runtime_settings(std::vector<std::string> lookupd_tcp_addresses = {});
  runtime_settings(const runtime_settings&) = delete;
  runtime_settings& operator=(const runtime_settings&) = delete;

  address_list lookupd_tcp_addresses() const;
  void set_lookupd_tcp_addresses(address_list addresses);
  // Incremented by every change; starts at 0.
  std::uint64_t version() const;

 private:
  mutable std::mutex _mutex;
  address_list _lookupd;
  std::uint64_t _version = 0;
};

// Upstream's PUT value for nsqlookupd_tcp_addresses, decoded as Go's json.Unmarshal into a
// []string does: an array of strings (a null element is ""), or `null`. The outer nullopt
// means the body is not that (400 INVALID_VALUE). Addresses are not checked further, as
// upstream (a bad one only fails to connect).
std::optional<runtime_settings::address_list> parse_lookupd_addresses(std::string_view json);
// The list as /config answers it: `["a:4160","b:4160"]`, `[]` or `null`.
std::string lookupd_addresses_json(const runtime_settings::address_list& addresses);

// Process-wide facts and settings; see the top of this file.
struct http_shared {
  // `tcp_port` / `http_port` / `https_port`: the real listening ports, -1 for a unix socket,
  // none or unknown. The start time is the process's own (the same on every shard).
  http_shared(const config::options& opts, int tcp_port, int http_port, int https_port = -1);

  std::chrono::system_clock::time_point start_time;
  int tcp_port;
  int http_port;
  int https_port;
  runtime_settings settings;
};

// The port of a "host:port" address when it names one (not 0), else -1 (a unix socket path,
// an empty address, port 0). No name resolution.
int configured_port(std::string_view address);

// When this process started (from /proc), or now if that cannot be read.
std::chrono::system_clock::time_point process_start_time();

}  // namespace nsqd::http
