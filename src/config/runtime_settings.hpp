#pragma once
// The settings `PUT /config/:opt` changes while nsqd runs (besides the log level, which
// lives in the shared core::logger): the nsqlookupd peers, as upstream keeps them in its
// options: --lookupd-tcp-address at start, replaced by `PUT /config/nsqlookupd_tcp_addresses`.
//
// One per process, owned by the node, read by every shard's HTTP side and by the lookup
// loop on shard 0. Writes are rare (PUT), so a mutex guards the value (never on a message
// path). The lookup loop hears of a change through on_change(), which the HTTP side calls on
// shard 0 after a PUT.

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nsqd::config {

class runtime_settings {
 public:
  // nullopt is upstream's nil list (after a PUT of `null`), which /config shows as `null`.
  using address_list = std::optional<std::vector<std::string>>;

  explicit runtime_settings(std::vector<std::string> lookupd_tcp_addresses = {});
  runtime_settings(const runtime_settings&) = delete;
  runtime_settings& operator=(const runtime_settings&) = delete;

  address_list lookupd_tcp_addresses() const;
  void set_lookupd_tcp_addresses(address_list addresses);
  // Incremented by every change; starts at 0.
  std::uint64_t version() const;

  // On shard 0 only: who wants to hear of a change (the lookup loop sets it while it runs,
  // and clears it with an empty function), and the call that tells it.
  void watch(std::function<void()> watcher) { _watcher = std::move(watcher); }
  void changed() const {
    if (_watcher) _watcher();
  }

 private:
  mutable std::mutex _mutex;
  address_list _lookupd;
  std::uint64_t _version = 0;
  std::function<void()> _watcher;  // shard 0 only
};

// Upstream's PUT value for nsqlookupd_tcp_addresses, decoded as Go's json.Unmarshal into a
// []string does: an array of strings (a null element is ""), or `null`. The outer nullopt
// means the body is not that (400 INVALID_VALUE). Addresses are not checked further, as
// upstream (a bad one only fails to connect).
std::optional<runtime_settings::address_list> parse_lookupd_addresses(std::string_view json);
// The list as /config answers it: `["a:4160","b:4160"]`, `[]` or `null`.
std::string lookupd_addresses_json(const runtime_settings::address_list& addresses);

}  // namespace nsqd::config
