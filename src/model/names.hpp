#pragma once
// Topic and channel names (SPEC B.7): 1..64 bytes matching ^[.a-zA-Z0-9_-]+(#ephemeral)?$,
// the "#ephemeral" suffix counting toward the 64. Topics and channels follow the same rule.
// Byte checks only (no regex), so they are cheap enough for every PUB.

#include <cstddef>
#include <string>
#include <string_view>

namespace nsqd {

inline constexpr std::size_t max_name_length = 64;
inline constexpr std::string_view ephemeral_suffix = "#ephemeral";

// True iff `name` is a valid topic or channel name.
bool is_valid_name(std::string_view name);
inline bool is_valid_topic_name(std::string_view name) { return is_valid_name(name); }
inline bool is_valid_channel_name(std::string_view name) { return is_valid_name(name); }

// True iff `name` ends with "#ephemeral" (upstream's test; meaningful for valid names).
inline bool is_ephemeral(std::string_view name) { return name.ends_with(ephemeral_suffix); }

// A topic's or channel's queue name as upstream's files spell it: "<topic>" or
// "<topic>:<channel>" (':' is not allowed in names).
inline std::string queue_name(std::string_view topic_name, const std::string* channel_name) {
  std::string q(topic_name);
  if (channel_name) q += ":" + *channel_name;
  return q;
}

}  // namespace nsqd
