#pragma once
// The names of a topic's or channel's part files in the data directory:
//   "<queue>.diskqueue"        shard 0's go-diskqueue queue (upstream's own name)
//   "<queue>.diskqueue.s<N>"   shard N's queue, which upstream never opens
//   "<prefix>.dpub0|1"         the deferred journals of any part (storage/deferred_journal.hpp)
// A clean stop leaves only shard 0's names; after a crash the next start takes the others in.

#include <optional>
#include <string>
#include <string_view>

namespace nsqd::broker {

// File prefix of `queue`'s part on `shard`.
std::string file_prefix(const std::string& queue, unsigned shard);

// A file of some queue other than shard 0's own: shard N's queue or a deferred journal of any
// shard's part (disk_queue and deferred_journal own those names).
struct part_file {
  std::string prefix;
  std::string queue;
  unsigned shard = 0;
  bool journal = false;
};
std::optional<part_file> part_file_of(std::string_view file);

}  // namespace nsqd::broker
