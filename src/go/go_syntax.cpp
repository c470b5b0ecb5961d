#include "go/go_syntax.hpp"

#include <cctype>
#include <cstring>

#include <charconv>
#include <cmath>
#include <cstdio>

namespace nsqd::go {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

int digit_value(char c) {
  c = lower(c);
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  return 99;
}

bool is_digit_in(char c, int base) { return digit_value(c) < base; }

std::string to_chars_text(double v, std::chars_format fmt) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, fmt);
  return ec == std::errc{} ? std::string(buf, end) : std::string{};
}

// Decimal exponent of v's shortest representation (v finite, non-zero).
int decimal_exponent(double v) {
  const std::string sci = to_chars_text(v, std::chars_format::scientific);
  return std::atoi(sci.c_str() + sci.find('e') + 1);
}

}  // namespace

std::optional<bool> parse_bool(std::string_view t) {
  if (t == "1" || t == "t" || t == "T" || t == "TRUE" || t == "true" || t == "True") return true;
  if (t == "0" || t == "f" || t == "F" || t == "FALSE" || t == "false" || t == "False")
    return false;
  return std::nullopt;
}

num_error parse_int(std::string_view s, int base, std::int64_t& out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return num_error::syntax;

  bool prefixed = false;
  const bool underscores = base == 0;
  if (base == 0) {
    base = 10;
    if (s[0] == '0') {
      if (s.size() >= 3 && lower(s[1]) == 'x') {
        base = 16, s.remove_prefix(2), prefixed = true;
      } else if (s.size() >= 3 && lower(s[1]) == 'o') {
        base = 8, s.remove_prefix(2), prefixed = true;
      } else if (s.size() >= 3 && lower(s[1]) == 'b') {
        base = 2, s.remove_prefix(2), prefixed = true;
      } else {
        base = 8, s.remove_prefix(1), prefixed = true;  // "017"; "0" alone is zero
        if (s.empty()) {
          out = 0;
          return num_error::none;
        }
      }
    }
    // '_' only between digits (a base prefix counts as a digit).
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '_') continue;
      const bool after_digit = i == 0 ? prefixed : is_digit_in(s[i - 1], base);
      const bool before_digit = i + 1 < s.size() && is_digit_in(s[i + 1], base);
      if (!after_digit || !before_digit) return num_error::syntax;
    }
  }

  // Magnitude up to 2^63 (INT64_MIN) is representable; checked against the sign below.
  constexpr std::uint64_t limit = std::uint64_t{1} << 63;
  std::uint64_t magnitude = 0;
  bool overflow = false, any_digit = false;
  for (char c : s) {
    if (c == '_' && underscores) continue;  // placement checked above
    if (!is_digit_in(c, base)) return num_error::syntax;
    any_digit = true;
    const auto d = std::uint64_t(digit_value(c));
    if (magnitude > (limit - d) / std::uint64_t(base)) overflow = true;
    if (!overflow) magnitude = magnitude * std::uint64_t(base) + d;
  }
  if (!any_digit) return num_error::syntax;
  if (overflow || magnitude > limit - (negative ? 0 : 1)) return num_error::range;
  out = negative ? (magnitude == limit ? INT64_MIN : -std::int64_t(magnitude))
                 : std::int64_t(magnitude);
  return num_error::none;
}

std::optional<double> parse_float(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s[0] == '+' || s[0] == '-') return std::nullopt;
  std::string lowered;
  for (char c : s) lowered += lower(c);
  if (lowered.rfind("nan", 0) == 0 && lowered != "nan") return std::nullopt;  // no "nan(...)"
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  if (std::isinf(v) && lowered != "inf" && lowered != "infinity") return std::nullopt;  // overflow
  return negative ? -v : v;
}

std::string json_float(double v) {
  if (!std::isfinite(v)) return "null";
  const double a = std::fabs(v);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    std::string s = to_chars_text(v, std::chars_format::scientific);
    const auto e = s.find("e-0");  // Go writes 1e-7, not 1e-07
    if (e != std::string::npos && e + 4 == s.size()) s.erase(e + 2, 1);
    return s;
  }
  return to_chars_text(v, std::chars_format::fixed);
}

std::string format_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  const int exp = decimal_exponent(v);
  return to_chars_text(v, exp < -4 || exp >= 6 ? std::chars_format::scientific
                                                : std::chars_format::fixed);
}

std::string json_string(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
          } else {
            out += char(c);
          }
      }
      ++i;
      continue;
    }
    // A multi-byte UTF-8 sequence: copy it if well-formed, else one U+FFFD per bad byte.
    std::size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (len == 0 || i + len > n) len = 0;
    std::uint32_t cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) {
        len = 0;
        break;
      }
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (len == 0 || overlong || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      out += "\\ufffd";
      ++i;
    } else if (cp == 0x2028 || cp == 0x2029) {
      out += cp == 0x2028 ? "\\u2028" : "\\u2029";
      i += len;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out + "\"";
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

std::string errno_text(int err) {
  std::string s = std::strerror(err < 0 ? -err : err);
  if (!s.empty()) s[0] = char(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::string join_host_port(std::string_view host, std::int64_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out = "[";
    out += host;
    out += "]";
  } else {
    out = host;
  }
  return out + ":" + std::to_string(port);
}

}  // namespace nsqd::go
