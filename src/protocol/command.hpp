#pragma once
// V2 command lines (SPEC B.1, B.5): finding a line in buffered input, splitting it into a
// command name and arguments, the known command names, and upstream's base-10 number parser.
// Pure functions over caller-owned bytes; nothing here allocates or does I/O.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace nsqd::protocol {

// Upstream reads lines with ReadSlice('\n') on a 16 KiB bufio.Reader: the '\n' must be among the
// first 16384 buffered bytes of the line. So a line is accepted iff its length INCLUDING the
// '\n' is <= max_line_length (up to 16383 bytes of content, '\r' included); when 16384 bytes
// are buffered without a '\n' the connection is closed without an error frame.
inline constexpr std::size_t max_line_length = 16 * 1024;

// What `scan_line` found at the front of the buffered input.
struct line_scan {
  enum class status : std::uint8_t {
    complete,   // a line ends at `length` ('\n' included)
    need_more,  // no '\n' yet, fewer than max_line_length bytes buffered: read more
    too_long,   // max_line_length bytes buffered without '\n': close the connection
  };
  status state;
  std::size_t length;  // bytes of the line including '\n'; 0 unless complete
};

// Looks for the end of the first line in `buffered` (only its first max_line_length bytes
// matter).
line_scan scan_line(std::string_view buffered);

// The commands a V2 client may send. Names are case-sensitive ("sub" is unknown).
enum class command_kind : std::uint8_t {
  unknown,
  identify,
  sub,
  pub,
  mpub,
  dpub,
  rdy,
  fin,
  req,
  touch,
  cls,
  nop,
  auth,
};

// "IDENTIFY" -> identify, ..., anything else (including "") -> unknown.
command_kind lookup_command(std::string_view name);

// The upper-case wire name of a known command ("" for unknown).
std::string_view command_name(command_kind kind);

// A split command line: views into the caller's line, valid while its bytes are.
//
// Upstream splits the line on every single space into `params`, params[0] being the name;
// here name() is params[0] and the arguments are params[1..], so upstream's `len(params)` is
// 1 + arg_count(). Only the first `stored_args` arguments are kept (no command uses more than
// 2; extra ones are ignored by upstream too), but arg_count() counts all of them, so the
// "exactly one token" rule of AUTH still holds for any number of extra spaces.
class command_line {
 public:
  static constexpr std::size_t stored_args = 8;

  // Splits `line` (without its '\n'): one trailing '\r' is dropped, then every single space
  // separates tokens, so "A  B" has args {"", "B"} and "A " has args {""}. An empty line gives
  // name "" and no args.
  static command_line parse(std::string_view line);

  std::string_view name() const { return _name; }
  command_kind kind() const { return lookup_command(_name); }

  // Number of arguments after the name (all of them, including those not stored).
  std::size_t arg_count() const { return _arg_count; }
  // Argument i (0-based, after the name); "" when i >= min(arg_count(), stored_args).
  std::string_view arg(std::size_t i) const { return i < stored() ? _args[i] : std::string_view{}; }
  // The stored arguments: the first min(arg_count(), stored_args).
  std::span<const std::string_view> args() const { return {_args.data(), stored()}; }

 private:
  std::size_t stored() const { return _arg_count < stored_args ? _arg_count : stored_args; }

  std::string_view _name;
  std::array<std::string_view, stored_args> _args{};
  std::size_t _arg_count = 0;
};

// Upstream's ByteToBase10 for counts and timeouts: ASCII digits only, no sign, no spaces, no
// "0x". Differences from upstream, chosen so that bad input is reported instead of guessed:
//  - empty text is rejected (upstream reads it as 0, so "RDY " would mean RDY 0);
//  - a value above UINT64_MAX is rejected (upstream wraps modulo 2^64).
// Leading zeros are fine ("007" is 7). Range checks are the caller's.
std::optional<std::uint64_t> parse_base10(std::string_view text);

}  // namespace nsqd::protocol
