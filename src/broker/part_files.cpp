#include "broker/part_files.hpp"

#include <charconv>

#include "storage/deferred_journal.hpp"
#include "storage/disk_queue.hpp"

namespace nsqd::broker {
namespace {

constexpr std::string_view shard_marker = ".diskqueue.s";

}  // namespace

std::string file_prefix(const std::string& queue, unsigned shard) {
  std::string p = queue + ".diskqueue";
  if (shard != 0) p += ".s" + std::to_string(shard);
  return p;
}

std::optional<part_file> part_file_of(std::string_view file) {
  std::optional<std::string> prefix = storage::disk_queue::prefix_of_file(file);
  if (!prefix) return std::nullopt;
  part_file out;
  out.prefix = *prefix;
  std::optional<std::string> part = storage::deferred_journal::part_prefix_of(*prefix);
  out.journal = part.has_value();
  std::string_view stem = part ? *part : *prefix;
  constexpr std::string_view own = ".diskqueue";
  if (stem.ends_with(own)) {
    if (!out.journal) return std::nullopt;  // shard 0's own queue
    out.queue = std::string(stem.substr(0, stem.size() - own.size()));
    return out;
  }
  const size_t at = stem.rfind(shard_marker);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view number = stem.substr(at + shard_marker.size());
  unsigned shard = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), shard);
  if (ec != std::errc() || end != number.data() + number.size() || number.empty()) return std::nullopt;
  out.shard = shard;
  out.queue = std::string(stem.substr(0, at));
  return out;
}

}  // namespace nsqd::broker
