#include "go/duration.hpp"

#include <cstdint>

#include "go/go_syntax.hpp"

namespace nsqd::go {
namespace {

constexpr std::uint64_t limit = std::uint64_t{1} << 63;  // magnitude of INT64_MIN

struct unit_entry {
  std::string_view name;
  std::uint64_t ns;
};
constexpr unit_entry units[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1'000},  // U+03BC Greek small letter mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "<v / 10^prec>[.<fraction without trailing zeros>]"
std::string fixed_point(std::uint64_t v, int prec) {
  std::uint64_t scale = 1;
  for (int i = 0; i < prec; ++i) scale *= 10;
  std::string out = std::to_string(v / scale);
  std::string frac = std::to_string(v % scale);
  frac.insert(0, std::size_t(prec) - (v % scale == 0 ? prec : frac.size()), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  if (!frac.empty()) out += "." + frac;
  return out;
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text,
                                                          std::string* error) {
  auto fail = [&](std::string message) -> std::optional<std::chrono::nanoseconds> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  auto invalid = [&] { return fail("time: invalid duration " + go::quote(text)); };

  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds{0};
  if (s.empty()) return invalid();

  std::uint64_t total = 0;
  while (!s.empty()) {
    if (s[0] != '.' && !is_digit(s[0])) return invalid();

    std::uint64_t whole = 0;
    std::size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (whole > limit / 10) return invalid();
      whole = whole * 10 + std::uint64_t(s[i] - '0');
      if (whole > limit) return invalid();
    }
    const bool has_whole = i > 0;
    s.remove_prefix(i);

    // Fraction digits beyond what fits are ignored (they cannot matter at ns precision).
    std::uint64_t frac = 0;
    double frac_scale = 1;
    bool has_frac = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      std::size_t j = 0;
      bool saturated = false;
      for (; j < s.size() && is_digit(s[j]); ++j) {
        if (saturated) continue;
        if (frac > (limit - 1) / 10) {
          saturated = true;
          continue;
        }
        frac = frac * 10 + std::uint64_t(s[j] - '0');
        frac_scale *= 10;
      }
      has_frac = j > 0;
      s.remove_prefix(j);
    }
    if (!has_whole && !has_frac) return invalid();

    std::size_t u = 0;
    while (u < s.size() && s[u] != '.' && !is_digit(s[u])) ++u;
    if (u == 0) return fail("time: missing unit in duration " + go::quote(text));
    const std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    const unit_entry* unit = nullptr;
    for (const auto& e : units)
      if (e.name == unit_name) unit = &e;
    if (!unit)
      return fail(std::string("time: unknown unit ") + go::quote(unit_name) + " in duration " +
                  go::quote(text));

    if (whole > limit / unit->ns) return invalid();
    whole *= unit->ns;
    if (frac > 0) {
      // double keeps nanosecond accuracy here: the fraction term is below 3.6e12 (one hour).
      whole += std::uint64_t(double(frac) * (double(unit->ns) / frac_scale));
      if (whole > limit) return invalid();
    }
    if (whole > limit - total) return invalid();
    total += whole;
  }

  if (negative) {
    if (total == limit) return std::chrono::nanoseconds{INT64_MIN};
    return std::chrono::nanoseconds{-std::int64_t(total)};
  }
  if (total > limit - 1) return invalid();
  return std::chrono::nanoseconds{std::int64_t(total)};
}

std::string format_duration(std::chrono::nanoseconds d) {
  const std::int64_t v = d.count();
  const bool negative = v < 0;
  const std::uint64_t u = negative ? std::uint64_t(0) - std::uint64_t(v) : std::uint64_t(v);

  std::string out;
  if (u == 0) {
    return "0s";
  } else if (u < 1'000) {
    out = fixed_point(u, 0) + "ns";
  } else if (u < 1'000'000) {
    out = fixed_point(u, 3) + "\xC2\xB5s";
  } else if (u < 1'000'000'000) {
    out = fixed_point(u, 6) + "ms";
  } else {
    const std::uint64_t secs = u / 1'000'000'000;
    const std::uint64_t hours = secs / 3600, minutes = secs / 60 % 60;
    if (hours > 0) out += std::to_string(hours) + "h";
    if (secs >= 60) out += std::to_string(minutes) + "m";
    out += fixed_point(secs % 60 * 1'000'000'000 + u % 1'000'000'000, 9) + "s";
  }
  return negative ? std::string("-") + out : out;
}

}  // namespace nsqd::go
