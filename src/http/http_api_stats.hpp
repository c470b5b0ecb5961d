#pragma once
// GET /stats as upstream renders it (SPEC C): the JSON document, with upstream's key order,
// `[]` and `null` where upstream has them, and the text layout byte for byte. Pure functions
// over a snapshot the endpoint gathered from every shard; nothing here does I/O.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/stats.hpp"

namespace nsqd::http {

// Upstream's "memory" block. Go reports its runtime's heap; we report the C allocator's
// (glibc mallinfo2, every arena): heap_in_use_bytes = bytes handed out (including mmapped
// chunks), heap_idle_bytes = free bytes malloc keeps. glibc counts neither objects nor bytes
// given back to the system, and there is no garbage collector: heap_objects,
// heap_released_bytes, the gc_* fields and next_gc_bytes are 0.
struct memory_stats {
  std::uint64_t heap_objects = 0;
  std::uint64_t heap_idle_bytes = 0;
  std::uint64_t heap_in_use_bytes = 0;
  std::uint64_t heap_released_bytes = 0;
  std::uint64_t gc_pause_usec_100 = 0;
  std::uint64_t gc_pause_usec_99 = 0;
  std::uint64_t gc_pause_usec_95 = 0;
  std::uint64_t next_gc_bytes = 0;
  std::uint32_t gc_total_runs = 0;
};
memory_stats read_memory_stats();

// Everything one /stats answer shows.
struct stats_document {
  std::string version;  // "1.3.0"
  std::string health = "OK";
  std::chrono::system_clock::time_point start_time;
  std::chrono::system_clock::time_point now;
  // Sorted by name (broker::merge_stats does it). topics_null: a topic filter matched no topic
  // (upstream answers `"topics":null` then, `[]` for no topics at all).
  std::vector<broker::topic_stats> topics;
  bool topics_null = false;
  // include_clients: channel `clients` lists (else null) and `producers` (else null).
  bool include_clients = true;
  std::vector<broker::client_stats> producers;  // TCP connections that published
  std::optional<memory_stats> memory;           // include_mem
  // e2e_processing_latency comes from each topic's and channel's `e2e` summary (the
  // configured percentiles travel with it).
};

// `/stats?format=json`.
std::string stats_json(const stats_document& doc);
// `/stats` (any other format). `version_line` is the first line: "nsqd v1.3.0 (built w/...)".
std::string stats_text(const stats_document& doc, std::string_view version_line);

// ---- pieces, exposed for /metrics and tests -----------------------------------------------

// One client as upstream's ClientStats JSON object (optional keys omitted when empty).
std::string client_json(const broker::client_stats& c);
// One client line of the text format, without indentation: the consumer form
// "[V2 host:port ua            ] state: 3 inflt: ..." or, for a producer (pub_counts not empty),
// "[V2 host:port ua            ] msgs: 3        topics: t=3 connected: 1s".
std::string client_text(const broker::client_stats& c, std::chrono::system_clock::time_point now);

// Go's fmt "%.1f" + unit of upstream's NanoSecondToHuman: "0.0ns", "1.5ms", "2.0s".
std::string nanoseconds_to_human(double ns);
// Go's time.Time.Format(time.RFC3339) in the local time zone: "2026-11-23T06:26:22Z",
// "2026-11-23T07:26:22+01:00".
std::string rfc3339_local(std::chrono::system_clock::time_point t);
// `text` padded with spaces to `width` characters, counting UTF-8 characters as Go's fmt
// does ("%-15s"); longer text is left as it is.
std::string pad_right(std::string_view text, std::size_t width);

}  // namespace nsqd::http
