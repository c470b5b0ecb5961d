// The TOML config file (SPEC A.2): keys by config name, unknown keys ignored, go-options'
// coercions (integer durations are milliseconds), except that an integer bool means what it
// says (0 = false; upstream inverts it, quirk 7).

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <toml++/toml.h>

#include "config/options_table.hpp"
#include "go/duration.hpp"
#include "go/go_syntax.hpp"

namespace nsqd::config::detail {
namespace {

using o = options;

// A failed coercion: what was expected and what the file had.
std::string expected(std::string_view what, const toml::node& node) {
  std::ostringstream os;
  os << "expected " << what << ", got " << node.type();
  if (node.is_value()) {
    os << " ";
    node.visit([&](const auto& v) { os << v; });
  }
  return os.str();
}

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    const std::size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string integer_error(go::num_error e, std::string_view text) {
  return (e == go::num_error::range ? "value out of range: " : "not an integer: ") +
         go::quote(text);
}

// Integer from a TOML integer or a base-10 string, within [lo, hi].
std::string coerce_integer(const toml::node& node, std::int64_t lo, std::int64_t hi,
                           std::int64_t& out) {
  std::int64_t v = 0;
  if (auto i = node.value_exact<std::int64_t>()) {
    v = *i;
  } else if (auto s = node.value_exact<std::string>()) {
    if (auto e = go::parse_int(*s, 10, v); e != go::num_error::none) return integer_error(e, *s);
  } else {
    return expected("an integer", node);
  }
  if (v < lo || v > hi) return std::string("value out of range: ") + std::to_string(v);
  out = v;
  return {};
}

std::string milliseconds(std::int64_t ms, std::chrono::nanoseconds& out) {
  if (ms > INT64_MAX / 1'000'000 || ms < INT64_MIN / 1'000'000)
    return std::string("value out of range: ") + std::to_string(ms) + " ms";
  out = std::chrono::milliseconds(ms);
  return {};
}

// Returns "" or why the value does not fit the field.
std::string set_from_config(const option_spec& spec, options& opts, const toml::node& node) {
  return std::visit(
      overloaded{
          [&](bool o::*m) -> std::string {
            if (auto b = node.value_exact<bool>()) {
              opts.*m = *b;
            } else if (auto i = node.value_exact<std::int64_t>()) {
              opts.*m = *i != 0;
            } else if (auto s = node.value_exact<std::string>()) {
              auto parsed = go::parse_bool(*s);
              if (!parsed) return std::string("not a boolean: ") + go::quote(*s);
              opts.*m = *parsed;
            } else {
              return expected("a boolean", node);
            }
            return {};
          },
          [&](std::int64_t o::*m) {
            return coerce_integer(node, INT64_MIN, INT64_MAX, opts.*m);
          },
          [&](int o::*m) {
            std::int64_t v = 0;
            std::string err = coerce_integer(node, INT32_MIN, INT32_MAX, v);
            if (err.empty()) opts.*m = int(v);
            return err;
          },
          [&](std::uint16_t o::*m) -> std::string {
            auto s = node.value_exact<std::string>();
            if (!s) return expected("a string", node);
            const auto r = parse_tls_min_version(*s);
            if (!r.ok) return std::string("unknown TLS version ") + go::quote(*s);
            if (r.value) opts.*m = *r.value;
            return {};
          },
          [&](std::chrono::nanoseconds o::*m) -> std::string {
            if (auto i = node.value_exact<std::int64_t>()) return milliseconds(*i, opts.*m);
            auto s = node.value_exact<std::string>();
            if (!s) return expected("a duration", node);
            // Digits only: milliseconds, like an integer.
            if (!s->empty() && std::all_of(s->begin(), s->end(), [](char c) {
                  return c >= '0' && c <= '9';
                })) {
              std::int64_t ms = 0;
              if (auto e = go::parse_int(*s, 10, ms); e != go::num_error::none)
                return integer_error(e, *s);
              return milliseconds(ms, opts.*m);
            }
            std::string err;
            auto d = go::parse_duration(*s, &err);
            if (!d) return err;
            opts.*m = *d;
            return {};
          },
          [&](std::string o::*m) -> std::string {
            auto s = node.value_exact<std::string>();
            if (!s) return expected("a string", node);
            opts.*m = *s;
            return {};
          },
          [&](std::vector<std::string> o::*m) -> std::string {
            std::vector<std::string> list;
            if (auto s = node.value_exact<std::string>()) {
              for (auto item : split_commas(*s)) list.emplace_back(item);
            } else if (const toml::array* a = node.as_array()) {
              for (const toml::node& el : *a) {
                auto s = el.value_exact<std::string>();
                if (!s) return expected("an array of strings", el);
                list.push_back(*s);
              }
            } else {
              return expected("an array of strings", node);
            }
            opts.*m = std::move(list);
            return {};
          },
          [&](std::vector<double> o::*m) -> std::string {
            std::vector<double> list;
            if (auto s = node.value_exact<std::string>()) {
              for (auto item : split_commas(*s)) {
                auto v = go::parse_float(trim(item));
                if (!v) return std::string("not a number: ") + go::quote(item);
                list.push_back(*v);
              }
            } else if (const toml::array* a = node.as_array()) {
              for (const toml::node& el : *a) {
                auto v = el.value<double>();  // floats and integers
                if (!v || el.is_boolean() || el.is_string()) return expected("numbers", el);
                list.push_back(*v);
              }
            } else {
              return expected("an array of numbers", node);
            }
            opts.*m = std::move(list);
            return {};
          },
          [&](log_level o::*m) -> std::string {
            auto s = node.value_exact<std::string>();
            if (!s) return expected("a string", node);
            auto l = parse_log_level_text(*s);
            if (!l) return std::string("unknown log level ") + go::quote(*s);
            opts.*m = *l;
            return {};
          },
          [&](tls_required o::*m) -> std::string {
            std::optional<tls_required> t;
            if (auto b = node.value_exact<bool>()) {
              t = *b ? tls_required::yes : tls_required::no;
            } else if (auto s = node.value_exact<std::string>()) {
              t = parse_tls_required(*s);
            } else if (auto i = node.value_exact<std::int64_t>()) {
              t = parse_tls_required(std::to_string(*i));
            } else {
              return expected("a boolean or \"tcp-https\"", node);
            }
            if (!t) return expected("a boolean or \"tcp-https\"", node);
            opts.*m = *t;
            return {};
          },
      },
      spec.target);
}

}  // namespace

void apply_config_file(const std::string& path, options& opts,
                       const std::vector<const option_spec*>& skip) {
  const std::string failed = "failed to load config file " + path + " - ";
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << failed << e.description();
    if (e.source().begin.line > 0)
      os << " (line " << e.source().begin.line << ", column " << e.source().begin.column << ")";
    throw std::runtime_error(os.str());
  }
  for (const option_spec& spec : option_table()) {
    if (!spec.resolved || std::find(skip.begin(), skip.end(), &spec) != skip.end()) continue;
    const toml::node* node = table.get(spec.cfg);
    if (!node) continue;
    if (std::string err = set_from_config(spec, opts, *node); !err.empty())
      throw std::runtime_error(failed + "invalid value for " + std::string(spec.cfg) + ": " +
                               err);
  }
}

}  // namespace nsqd::config::detail
