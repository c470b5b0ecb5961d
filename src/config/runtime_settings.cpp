#include "config/runtime_settings.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "go/go_syntax.hpp"

namespace nsqd::config {

runtime_settings::runtime_settings(std::vector<std::string> lookupd_tcp_addresses)
    : _lookupd(std::move(lookupd_tcp_addresses)) {}

runtime_settings::address_list runtime_settings::lookupd_tcp_addresses() const {
  std::lock_guard lock(_mutex);
  return _lookupd;
}

void runtime_settings::set_lookupd_tcp_addresses(address_list addresses) {
  std::lock_guard lock(_mutex);
  _lookupd = std::move(addresses);
  ++_version;
}

std::uint64_t runtime_settings::version() const {
  std::lock_guard lock(_mutex);
  return _version;
}

std::optional<runtime_settings::address_list> parse_lookupd_addresses(std::string_view json) {
  boost::json::parse_options options;
  options.allow_invalid_utf8 = true;  // Go keeps such strings (as U+FFFD)
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(json, ec, {}, options);
  if (ec) return std::nullopt;
  if (v.is_null()) return runtime_settings::address_list{};
  if (!v.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const boost::json::value& item : v.as_array()) {
    if (item.is_null()) {
      out.emplace_back();
    } else if (item.is_string()) {
      out.emplace_back(item.as_string().data(), item.as_string().size());
    } else {
      return std::nullopt;
    }
  }
  return runtime_settings::address_list{std::move(out)};
}

std::string lookupd_addresses_json(const runtime_settings::address_list& addresses) {
  if (!addresses) return "null";
  std::string out = "[";
  for (const std::string& a : *addresses) {
    if (out.size() > 1) out += ',';
    out += go::json_string(a);
  }
  return out + "]";
}

}  // namespace nsqd::config
