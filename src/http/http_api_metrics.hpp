#pragma once
// GET /metrics (ours, beyond upstream): the Prometheus text exposition format (version 0.0.4)
// of the /stats numbers and of each shard's event loop. Metric names and meanings are listed
// in METRICS.md. A pure function over snapshots the endpoint gathered; no I/O.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/stats.hpp"
#include "core/reactor.hpp"
#include "http/http_api_stats.hpp"

namespace nsqd::http {

// The Content-Type of the format.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

struct metrics_snapshot {
  std::string version;  // "1.3.0"
  std::chrono::system_clock::time_point start_time;
  std::vector<broker::topic_stats> topics;   // every topic, merged over shards, no clients
  std::vector<core::reactor::counters> shards;  // by shard id
  memory_stats memory;
};

// Families in a fixed order, each with # HELP and # TYPE, samples sorted by topic, channel.
std::string render_metrics(const metrics_snapshot& m);

// A label value escaped for the format: '\\' -> "\\\\", '"' -> "\\\"", newline -> "\\n".
std::string escape_label_value(std::string_view value);

}  // namespace nsqd::http
