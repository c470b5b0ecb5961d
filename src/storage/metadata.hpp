#pragma once
// What nsqd keeps about itself between runs, besides the queues:
//   - nsqd.dat (SPEC D.8): topics and channels with their paused flags, upstream's JSON shape
//     `{"topics":[{"name":..,"paused":..,"channels":[{"name":..,"paused":..}]|null}]|null,
//       "version":"1.3.0"}`, #ephemeral ones left out, written atomically.
//   - beyond upstream, a deferred sidecar per disk queue (`<prefix>.deferred.dat`): where the
//     deferred messages written at shutdown sit in the queue and when they are due, so they
//     stay deferred after a restart (quirk 8). Upstream never opens it and delivers those
//     records at once, which is its own behaviour.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/log.hpp"
#include "core/task.hpp"
#include "model/message_id.hpp"
#include "storage/disk_queue.hpp"

namespace nsqd::storage {

struct channel_meta {
  std::string name;
  bool paused = false;
};
struct topic_meta {
  std::string name;
  bool paused = false;
  std::vector<channel_meta> channels;
};

inline constexpr std::string_view metadata_file_name = "nsqd.dat";

// The JSON text of nsqd.dat (ephemeral names are the caller's to leave out).
std::string render_metadata(const std::vector<topic_meta>& topics, std::string_view version);

// Parses nsqd.dat. Throws std::runtime_error with the parser's message on bad JSON or shape;
// invalid topic or channel names are skipped with a warning on `log` (as upstream).
std::vector<topic_meta> parse_metadata(std::string_view json, const core::logger& log);

// Reads <dirfd>/nsqd.dat: nullopt when there is none (a fresh start). Throws
// std::runtime_error("failed to parse metadata in <path> - ...") or on a read error.
core::task<std::optional<std::vector<topic_meta>>> load_metadata(int dirfd, std::string path_for_errors,
                                                                   const core::logger& log);
// Writes nsqd.dat atomically (mode 0600). 0 or -errno.
core::task<int> save_metadata(int dirfd, const std::vector<topic_meta>& topics);

// ---- deferred sidecar ----

struct deferred_record {
  disk_position at;
  message_id id;
  std::int64_t due_ns = 0;
};

// "<file>,<pos>,<due ns>,<hex of the 16 id bytes>\n" per record.
std::string render_deferred(const std::vector<deferred_record>& records);
// Malformed lines are skipped.
std::vector<deferred_record> parse_deferred(std::string_view text);
inline std::string deferred_file_name(std::string_view queue_prefix) {
  return std::string(queue_prefix) + ".deferred.dat";
}

}  // namespace nsqd::storage
