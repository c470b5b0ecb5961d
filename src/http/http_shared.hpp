#pragma once
// What every shard's HTTP API shares: facts about the process that /info and /stats report,
// and the settings `PUT /config/:opt` changes while nsqd runs (config/runtime_settings.hpp).
//
// One http_shared per process, built before the shards serve and destroyed after they stop
// (the node owns it). Shards read it concurrently; the facts never change.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "config/runtime_settings.hpp"

namespace nsqd::http {

// Process-wide facts and settings; see the top of this file.
struct http_shared {
  // `tcp_port` / `http_port` / `https_port`: the real listening ports, -1 for a unix socket,
  // none or unknown. The start time is the process's own (the same on every shard).
  http_shared(config::runtime_settings& settings, int tcp_port, int http_port, int https_port = -1);

  std::chrono::system_clock::time_point start_time;
  int tcp_port;
  int http_port;
  int https_port;
  config::runtime_settings& settings;  // the node's
};

// The port of a "host:port" address when it names one (not 0), else -1 (a unix socket path,
// an empty address, port 0). No name resolution.
int configured_port(std::string_view address);

// When this process started (from /proc), or now if that cannot be read.
std::chrono::system_clock::time_point process_start_time();

}  // namespace nsqd::http
