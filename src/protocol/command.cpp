#include "protocol/command.hpp"

#include <cstring>

namespace nsqd::protocol {

line_scan scan_line(std::string_view buffered) {
  const std::size_t window = buffered.size() < max_line_length ? buffered.size() : max_line_length;
  const void* nl = std::memchr(buffered.data(), '\n', window);
  if (nl != nullptr) {
    const auto end = static_cast<const char*>(nl) - buffered.data();
    return {line_scan::status::complete, static_cast<std::size_t>(end) + 1};
  }
  if (window == max_line_length) return {line_scan::status::too_long, 0};
  return {line_scan::status::need_more, 0};
}

namespace {

struct named_command {
  std::string_view name;
  command_kind kind;
};

constexpr std::array<named_command, 12> commands{{
    {"IDENTIFY", command_kind::identify},
    {"SUB", command_kind::sub},
    {"PUB", command_kind::pub},
    {"MPUB", command_kind::mpub},
    {"DPUB", command_kind::dpub},
    {"RDY", command_kind::rdy},
    {"FIN", command_kind::fin},
    {"REQ", command_kind::req},
    {"TOUCH", command_kind::touch},
    {"CLS", command_kind::cls},
    {"NOP", command_kind::nop},
    {"AUTH", command_kind::auth},
}};

}  // namespace

command_kind lookup_command(std::string_view name) {
  for (const auto& c : commands)
    if (c.name == name) return c.kind;
  return command_kind::unknown;
}

std::string_view command_name(command_kind kind) {
  for (const auto& c : commands)
    if (c.kind == kind) return c.name;
  return {};
}

command_line command_line::parse(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  command_line cmd;
  std::size_t sp = line.find(' ');
  cmd._name = line.substr(0, sp);
  while (sp != std::string_view::npos) {
    const std::size_t start = sp + 1;
    sp = line.find(' ', start);
    if (cmd._arg_count < stored_args)
      cmd._args[cmd._arg_count] =
          line.substr(start, sp == std::string_view::npos ? std::string_view::npos : sp - start);
    ++cmd._arg_count;
  }
  return cmd;
}

std::optional<std::uint64_t> parse_base10(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t n = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    if (__builtin_mul_overflow(n, 10u, &n) ||
        __builtin_add_overflow(n, static_cast<unsigned>(c - '0'), &n))
      return std::nullopt;
  }
  return n;
}

}  // namespace nsqd::protocol
