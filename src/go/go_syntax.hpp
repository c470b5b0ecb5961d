#pragma once
// Go's value syntax, where nsqd's behaviour depends on it: strconv's parsers (flags and config
// values), encoding/json's and fmt's number and string output (/config, error messages).
// Stateless functions; used by the options library.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nsqd::go {

// strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False; nothing else.
std::optional<bool> parse_bool(std::string_view text);

enum class num_error { none, syntax, range };

// strconv.ParseInt(text, base, 64) for base 10 or base 0 (base 0: "0x1f", "0o17", "017",
// "0b101", and '_' between digits, as Go literals). `out` is set only on success.
num_error parse_int(std::string_view text, int base, std::int64_t& out);

// strconv.ParseFloat(text, 64) for decimal text: optional sign, digits, fraction, exponent,
// "inf"/"infinity"/"nan" in any case. Overflow to infinity is an error, as in Go.
std::optional<double> parse_float(std::string_view text);

// Text of a number as encoding/json writes a float64: shortest round-trip, exponent form
// only below 1e-6 or from 1e21 ("0.99", "1", "1e-7"). NaN and infinities give "null".
std::string json_float(double v);

// Text of a float64 as fmt's %v writes it: shortest round-trip, exponent form when the
// exponent is below -4 or at least 6 ("1.5", "2", "1e-05", "1e+06").
std::string format_float(double v);

// A JSON string literal as encoding/json writes it (HTML-safe: <, >, & as \u003c...;
// control characters escaped; invalid UTF-8 bytes become \ufffd).
std::string json_string(std::string_view text);

// A double-quoted literal as fmt's %q writes it for ASCII text (for error messages).
std::string quote(std::string_view text);

// net.JoinHostPort: "host:port", the host in brackets when it holds a ':' ("[::1]:4151").
std::string join_host_port(std::string_view host, std::int64_t port);

// An errno's text as Go's syscall.Errno prints it: strerror in lower case ("no space left on
// device"). `err` may be an errno or a -errno result.
std::string errno_text(int err);

}  // namespace nsqd::go
