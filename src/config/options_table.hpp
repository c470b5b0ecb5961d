#pragma once
// Internal to the options library: the table that declares every option once, and what each
// field type means on the command line, in the config file, in usage and in /config.
//
// A row names a field of `options` by member pointer; the pointer's type picks the behaviour
// (bool: a Go bool flag; nanoseconds: a Go duration; vector<string>: a repeatable flag; ...).

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "config/options.hpp"

namespace nsqd::config::detail {

// std::visit over several lambdas.
template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;


using field = std::variant<bool options::*, std::int64_t options::*, int options::*,
                           std::uint16_t options::*, std::chrono::nanoseconds options::*,
                           std::string options::*, std::vector<std::string> options::*,
                           std::vector<double> options::*, log_level options::*,
                           tls_required options::*>;

struct option_spec {
  std::string_view flag;  // command-line name, without dashes
  std::string_view cfg;   // config-file key, also the /config name
  std::string_view help;
  field target;
  // false for action and deprecated flags (version, config, verbose, worker-id): upstream has
  // no field for them, so no config-file key and INVALID_OPTION in /config.
  bool resolved = true;
  bool empty_list_is_null = true;  // /config rendering of an empty list: null, else []
};

// Every option, in upstream's declaration order (ours last).
std::span<const option_spec> option_table();
const option_spec* find_by_flag(std::string_view flag);
const option_spec* find_by_cfg(std::string_view cfg);

// Go's IsBoolFlag: bare `--name` means true and the next argument is never its value.
bool is_bool_flag(const option_spec& spec);

// Applies one command-line value as the Go flag's Set would: scalars are replaced, list
// flags append (the percentile list also splits on ',' and re-sorts descending). Returns
// "" on success, else the reason ("parse error", "value out of range", ...).
std::string set_from_flag(const option_spec& spec, options& opts, std::string_view value);

// Copies the spec's field from `from` to `to`.
void copy_field(const option_spec& spec, const options& from, options& to);

// The /config answer for this field.
config_value render_config(const option_spec& spec, const options& opts);

// Usage: Go's type word ("int", "duration", "string", "value", "" for bools) and the
// default as usage shows it ("" when the value is the zero value, which usage omits).
std::string_view usage_type(const option_spec& spec);
std::string usage_default(const option_spec& spec, const options& defaults);

// Parsers shared by flags and the config file.
std::optional<log_level> parse_log_level_text(std::string_view text);
// tls-required: "tcp-https" (any case) or a Go bool.
std::optional<tls_required> parse_tls_required(std::string_view text);
// tls-min-version: tls1.0..tls1.3 (any case); "" means "keep the current value" (nullopt
// with ok); ssl3.0 and anything else is an error.
struct tls_version_parse {
  bool ok = false;
  std::optional<std::uint16_t> value;
};
tls_version_parse parse_tls_min_version(std::string_view text);

// The command line as Go's flag package reads it (see options.hpp), checked against the
// table through Boost.Program_options. Values are not parsed yet.
struct command_line {
  // Flags given, in table order, each with its values in command-line order.
  std::vector<std::pair<const option_spec*, std::vector<std::string>>> given;
  std::string error;  // Go's message for a bad flag syntax, unknown flag or missing value
  bool help = false;  // -h, -help or --help; flags after it (or after `error`) are not read
};
command_line read_command_line(const std::vector<std::string>& args);

// Loads the TOML file at `path` onto `opts` for every key not in `skip` (flags given on the
// command line win). Throws std::runtime_error with a one-line message naming the file and,
// for a bad value, the key.
void apply_config_file(const std::string& path, options& opts,
                       const std::vector<const option_spec*>& skip);

}  // namespace nsqd::config::detail
