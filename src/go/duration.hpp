#pragma once
// Go duration text: the syntax of Go's time.ParseDuration and the output of Duration.String(),
// byte for byte. Flags (`--msg-timeout=1m30s`), the TOML config file and the usage text all
// speak it.
//
// Accepted: an optional sign, then "0" alone, or one or more <number><unit> pairs where the
// number is decimal with an optional fraction ("1.5", ".5", "5.") and the unit is one of
// ns, us, µs (U+00B5), μs (U+03BC), ms, s, m, h: "300ms", "-1.5h", "2h45m", "1h2m3.5s".
// Rejected: empty text, a number without a unit ("10"), unknown units, spaces, and any value
// outside int64 nanoseconds (about ±292 years).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace nsqd::go {

// Parses `text` like Go's time.ParseDuration. On failure returns nullopt and, when `error` is
// given, stores Go's message there (`time: invalid duration "x"`, `time: missing unit in
// duration "10"`, `time: unknown unit "d" in duration "1d"`).
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text,
                                                          std::string* error = nullptr);

// Formats like Go's Duration.String(): "0s", "1ns", "1.5µs", "250ms", "1.5s", "1m0s",
// "1h0m0s", "-2m3.5s". Below one second the largest fitting sub-second unit is used, with the
// fraction's trailing zeros dropped; from one second up the form is [<h>h][<m>m]<s>[.<frac>]s.
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace nsqd::go
