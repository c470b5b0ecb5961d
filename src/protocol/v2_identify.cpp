#include "protocol/v2_identify.hpp"

#include <algorithm>
#include <limits>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "go/go_syntax.hpp"

namespace nsqd::protocol {

namespace {

using namespace std::chrono_literals;

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

// Each setter returns false on a type mismatch; null leaves the field as it is.
bool set(std::string& out, const boost::json::value& v) {
  if (v.is_null()) return true;
  if (!v.is_string()) return false;
  out.assign(v.get_string().data(), v.get_string().size());
  return true;
}
bool set(bool& out, const boost::json::value& v) {
  if (v.is_null()) return true;
  if (!v.is_bool()) return false;
  out = v.get_bool();
  return true;
}
template <class Int>
bool set(Int& out, const boost::json::value& v) {
  if (v.is_null()) return true;
  if (!v.is_int64()) return false;  // uint64 above INT64_MAX and doubles do not fit Go's int
  std::int64_t n = v.get_int64();
  if (n < std::numeric_limits<Int>::min() || n > std::numeric_limits<Int>::max()) return false;
  out = Int(n);
  return true;
}

bool set_field(identify_request& r, std::string_view key, const boost::json::value& v) {
  if (iequals(key, "client_id")) return set(r.client_id, v);
  if (iequals(key, "hostname")) return set(r.hostname, v);
  if (iequals(key, "user_agent")) return set(r.user_agent, v);
  if (iequals(key, "topology_region")) return set(r.topology_region, v);
  if (iequals(key, "topology_zone")) return set(r.topology_zone, v);
  if (iequals(key, "heartbeat_interval")) return set(r.heartbeat_interval, v);
  if (iequals(key, "output_buffer_size")) return set(r.output_buffer_size, v);
  if (iequals(key, "output_buffer_timeout")) return set(r.output_buffer_timeout, v);
  if (iequals(key, "deflate_level")) return set(r.deflate_level, v);
  if (iequals(key, "msg_timeout")) return set(r.msg_timeout, v);
  if (iequals(key, "sample_rate")) return set(r.sample_rate, v);
  if (iequals(key, "feature_negotiation")) return set(r.feature_negotiation, v);
  if (iequals(key, "tls_v1")) return set(r.tls_v1, v);
  if (iequals(key, "snappy")) return set(r.snappy, v);
  if (iequals(key, "deflate")) return set(r.deflate, v);
  return true;  // unknown keys are ignored
}

std::int64_t in_ms(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::string invalid(std::string_view what, std::int64_t value) {
  std::string s(what);
  s += " (";
  s += std::to_string(value);
  s += ") is invalid";
  return s;
}

}  // namespace

std::optional<identify_request> parse_identify(std::string_view json) {
  boost::json::parse_options po;
  po.max_depth = 10000;           // Go's decoder nests this deep
  po.allow_invalid_utf8 = true;   // Go replaces bad bytes instead of failing
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(json, ec, {}, po);
  if (ec) return std::nullopt;
  identify_request r;
  if (doc.is_null()) return r;
  if (!doc.is_object()) return std::nullopt;
  bool ok = true;  // Go reports a type mismatch after decoding the rest: same outcome
  for (const auto& kv : doc.get_object())
    ok = set_field(r, std::string_view(kv.key().data(), kv.key().size()), kv.value()) && ok;
  if (!ok) return std::nullopt;
  return r;
}

client_settings default_settings(const config::options& opts) {
  client_settings s;
  s.heartbeat_interval = opts.client_timeout / 2;
  s.output_buffer_size = 16 * 1024;
  s.output_buffer_timeout = opts.output_buffer_timeout;
  s.msg_timeout = opts.msg_timeout;
  s.sample_rate = 0;
  return s;
}

std::optional<std::string> apply_identify(const identify_request& req,
                                          const config::options& opts,
                                          client_settings& settings) {
  client_settings s = settings;

  const std::int64_t hb = req.heartbeat_interval;
  if (hb == -1)
    s.heartbeat_interval = 0ns;
  else if (hb >= 1000 && hb <= in_ms(opts.max_heartbeat_interval))
    s.heartbeat_interval = std::chrono::milliseconds(hb);
  else if (hb != 0)
    return invalid("heartbeat interval", hb);

  const std::int64_t obt = req.output_buffer_timeout;
  if (obt == -1)
    s.output_buffer_timeout = 0ns;
  else if (obt >= in_ms(opts.min_output_buffer_timeout) && obt <= in_ms(opts.max_output_buffer_timeout) &&
           obt != 0)
    s.output_buffer_timeout = std::chrono::milliseconds(obt);
  else if (obt != 0)
    return invalid("output buffer timeout", obt);

  const std::int64_t obs = req.output_buffer_size;
  if (obs == -1) {
    s.output_buffer_size = 1;
    s.output_buffer_timeout = 0ns;
  } else if (obs >= 64 && obs <= opts.max_output_buffer_size) {
    s.output_buffer_size = obs;
  } else if (obs != 0) {
    return invalid("output buffer size", obs);
  }

  if (req.sample_rate < 0 || req.sample_rate > 99) return invalid("sample rate", req.sample_rate);
  s.sample_rate = req.sample_rate;  // upstream sets it even when absent (0)

  const std::int64_t mt = req.msg_timeout;
  if (mt >= 1000 && mt <= in_ms(opts.max_msg_timeout))
    s.msg_timeout = std::chrono::milliseconds(mt);
  else if (mt != 0)
    return invalid("msg timeout", mt);

  settings = s;
  return std::nullopt;
}

negotiation negotiate(const identify_request& req, const config::options& opts, bool tls_offered) {
  negotiation n;
  const bool deflate_chosen = opts.deflate && req.deflate;
  const bool snappy_chosen = opts.snappy && req.snappy;
  n.conflict = deflate_chosen && snappy_chosen;
  n.tls_v1 = tls_offered && req.tls_v1;
  n.deflate = deflate_chosen;
  n.snappy = snappy_chosen;
  std::int64_t level = 6;
  if (n.deflate && req.deflate_level > 0) level = req.deflate_level;
  n.deflate_level = int(std::min<std::int64_t>(level, opts.max_deflate_level));
  return n;
}

std::string negotiation_json(const negotiation& n, const client_settings& s,
                             const config::options& opts) {
  auto boolean = [](bool b) { return b ? "true" : "false"; };
  std::string j;
  j.reserve(400);
  j += "{\"max_rdy_count\":" + std::to_string(opts.max_rdy_count);
  j += ",\"version\":" + go::json_string(nsqd_version);
  j += ",\"max_msg_timeout\":" + std::to_string(in_ms(opts.max_msg_timeout));
  j += ",\"msg_timeout\":" + std::to_string(in_ms(s.msg_timeout));
  j += ",\"tls_v1\":";
  j += boolean(n.tls_v1);
  j += ",\"deflate\":";
  j += boolean(n.deflate);
  j += ",\"deflate_level\":" + std::to_string(n.deflate_level);
  j += ",\"max_deflate_level\":" + std::to_string(opts.max_deflate_level);
  j += ",\"snappy\":";
  j += boolean(n.snappy);
  j += ",\"sample_rate\":" + std::to_string(s.sample_rate);
  j += ",\"auth_required\":";
  j += boolean(!opts.auth_http_addresses.empty());
  j += ",\"output_buffer_size\":" + std::to_string(s.output_buffer_size);
  j += ",\"output_buffer_timeout\":" + std::to_string(in_ms(s.output_buffer_timeout));
  j += ",\"topology_region\":" + go::json_string(opts.topology_region);
  j += ",\"topology_zone\":" + go::json_string(opts.topology_zone);
  j += '}';
  return j;
}

}  // namespace nsqd::protocol
