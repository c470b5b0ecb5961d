#include "config/options.hpp"

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <stdexcept>
#include <system_error>

#include <boost/crc.hpp>
#include <boost/uuid/detail/md5.hpp>

#include "config/options_table.hpp"
#include "go/go_syntax.hpp"

namespace nsqd::config {
namespace {


// CPUs in this process's affinity mask (at least 1).
int affinity_cpu_count() {
  for (int ncpus = 1024; ncpus <= (1 << 20); ncpus *= 2) {
    cpu_set_t* set = CPU_ALLOC(ncpus);
    if (!set) break;
    const std::size_t size = CPU_ALLOC_SIZE(ncpus);
    CPU_ZERO_S(size, set);
    const int rc = ::sched_getaffinity(0, size, set);
    const int count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
    CPU_FREE(set);
    if (rc == 0) return count > 0 ? count : 1;
    if (errno != EINVAL) break;  // EINVAL: the kernel's mask is larger, try a bigger one
  }
  return 1;
}

std::string flag_value_error(const detail::option_spec& spec, const std::string& value,
                             const std::string& reason) {
  const std::string flag(spec.flag);
  if (detail::is_bool_flag(spec))
    return std::string("invalid boolean value ") + go::quote(value) + " for -" + flag + ": " +
           reason;
  return std::string("invalid value ") + go::quote(value) + " for flag -" + flag + ": " +
         reason;
}

}  // namespace

std::int64_t default_node_id(std::string_view hostname) {
  boost::uuids::detail::md5 md5;
  md5.process_bytes(hostname.data(), hostname.size());
  boost::uuids::detail::md5::digest_type digest;
  md5.get_digest(digest);
  // Each digest word holds four digest bytes, first byte most significant (on any host).
  unsigned char bytes[16];
  for (int i = 0; i < 16; ++i)
    bytes[i] = static_cast<unsigned char>(digest[i / 4] >> (24 - 8 * (i % 4)));
  boost::crc_32_type crc;
  crc.process_bytes(bytes, sizeof bytes);
  return std::int64_t(crc.checksum() % 1024);
}

std::string os_hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0)
    throw std::system_error(errno, std::generic_category(), "gethostname");
  return buf;
}

options default_options() {
  options o;
  o.broadcast_address = os_hostname();
  o.node_id = default_node_id(o.broadcast_address);
  o.cores = affinity_cpu_count();
  return o;
}

parse_result parse_command_line(int argc, const char* const* argv) {
  parse_result r;
  auto fail = [&](std::string message, parse_outcome outcome = parse_outcome::exit_error) {
    r.outcome = outcome;
    r.message = std::move(message);
    return r;
  };
  try {
    const options defaults = default_options();
    const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
    const detail::command_line cl = detail::read_command_line(args);

    // Values in the order Go would reject them: values read before a syntax error first.
    options from_flags = defaults;
    for (const auto& [spec, values] : cl.given)
      for (const std::string& v : values)
        if (auto err = detail::set_from_flag(*spec, from_flags, v); !err.empty())
          return fail(flag_value_error(*spec, v, err), parse_outcome::exit_usage);
    if (!cl.error.empty()) return fail(cl.error, parse_outcome::exit_usage);
    if (cl.help) {
      r.outcome = parse_outcome::exit_ok;
      r.message = usage_text(defaults);
      return r;
    }
    if (from_flags.version) {
      r.outcome = parse_outcome::exit_ok;
      r.message = version_string() + "\n";
      return r;
    }

    r.opts = defaults;
    if (!from_flags.config.empty()) {
      std::vector<const detail::option_spec*> flagged;
      for (const auto& g : cl.given) flagged.push_back(g.first);
      detail::apply_config_file(from_flags.config, r.opts, flagged);
    }
    for (const auto& g : cl.given) detail::copy_field(*g.first, from_flags, r.opts);

    if (!r.opts.tls_client_auth_policy.empty() && r.opts.tls_required == tls_required::no)
      r.opts.tls_required = tls_required::yes;
    return r;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

void resolve_after_listen(options& o, int tcp_port, int http_port) {
  if (o.broadcast_http_port == 0 && http_port > 0) o.broadcast_http_port = http_port;
  if (o.broadcast_tcp_port == 0 && tcp_port > 0) o.broadcast_tcp_port = tcp_port;
  if (o.statsd_prefix.empty()) return;
  std::string key = go::join_host_port(o.broadcast_address, o.broadcast_http_port);
  for (char& ch : key)
    if (ch == '.' || ch == ':') ch = '_';
  std::string prefix;
  for (std::size_t at = 0;;) {
    std::size_t hit = o.statsd_prefix.find("%s", at);
    prefix += o.statsd_prefix.substr(at, hit - at);
    if (hit == std::string::npos) break;
    prefix += key;
    at = hit + 2;
  }
  if (prefix.back() != '.') prefix += '.';
  o.statsd_prefix = std::move(prefix);
}

void validate(const options& o) {
  if (o.max_deflate_level < 1 || o.max_deflate_level > 9)
    throw std::invalid_argument("--max-deflate-level must be [1,9]");
  if (o.node_id < 0 || o.node_id >= 1024)
    throw std::invalid_argument("--node-id must be [0,1024)");
  const bool tls_wanted = o.tls_required != tls_required::no || !o.tls_client_auth_policy.empty();
  if (tls_wanted && o.tls_cert.empty() && o.tls_key.empty())
    throw std::invalid_argument("cannot require TLS client connections without TLS key and cert");
  if (o.auth_http_request_method != "post" && o.auth_http_request_method != "get")
    throw std::invalid_argument("--auth-http-request-method must be post or get");
  for (double p : o.e2e_processing_latency_percentiles)
    if (!(p > 0 && p <= 1))
      throw std::invalid_argument("invalid E2E processing latency percentile: " +
                                  go::format_float(p));
  if (o.cores < 1) throw std::invalid_argument("--cores must be >= 1");
}

std::optional<config_value> config_get(const options& opts, std::string_view cfg_name) {
  const detail::option_spec* spec = detail::find_by_cfg(cfg_name);
  if (!spec || !spec->resolved) return std::nullopt;
  return detail::render_config(*spec, opts);
}

std::optional<log_level> parse_log_level(std::string_view text) {
  return detail::parse_log_level_text(text);
}

std::string_view to_string(log_level level) {
  switch (level) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
    case log_level::fatal: return "fatal";
  }
  return "unknown";
}

std::string version_string() {
#if defined(__clang__)
  const char* compiler = "clang++ " __clang_version__;
#else
  const char* compiler = "g++ " __VERSION__;
#endif
  std::string out = "nsqd v";
  out += nsqd_version;
  return out + " (built w/" + compiler + ")";
}

}  // namespace nsqd::config
