#include "model/names.hpp"

namespace nsqd {

namespace {

constexpr bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

}  // namespace

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > max_name_length) return false;
  if (is_ephemeral(name)) name.remove_suffix(ephemeral_suffix.size());
  if (name.empty()) return false;
  for (const char c : name)
    if (!is_name_char(c)) return false;
  return true;
}

}  // namespace nsqd
