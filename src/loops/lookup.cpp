#include "loops/lookup.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <memory>

#include "core/io.hpp"
#include "core/task_group.hpp"
#include "go/go_syntax.hpp"
#include "loops/lookup_peer.hpp"
#include "model/version.hpp"
#include "net/http_client.hpp"

namespace nsqd::loops {

namespace {

using namespace std::chrono_literals;

constexpr auto ping_interval = 15s;

// REGISTER lines for everything shard 0 knows now (every shard holds every topic and channel).
std::vector<std::string> registrations(const broker::broker_shard& broker) {
  std::vector<std::string> out;
  for (const auto& [topic_name, t] : broker.topics()) {
    std::vector<std::string> lines;
    for (const auto& [channel_name, c] : t->channels()) lines.push_back("REGISTER " + topic_name + " " + channel_name);
    if (lines.empty()) lines.push_back("REGISTER " + topic_name);
    out.insert(out.end(), lines.begin(), lines.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// One nsqlookupd's channels for `topic`, or an error.
core::task<void> query_channels_of(std::string http_address, std::string topic, net::http_client_limits limits,
                                   std::optional<std::vector<std::string>>* channels, std::string* error) {
  net::http_client_request request;
  request.url = "http://" + http_address + "/channels?topic=" + net::query_escape(topic);
  request.headers = {{"Accept", "application/vnd.nsq; version=1.0"}};
  net::http_client_result r = co_await net::http_fetch(std::move(request), limits);
  if (!r.error.empty()) {
    *error = r.error;
  } else if (r.status != 200) {
    *error = "got response " + std::to_string(r.status) + " " + go::json_string(r.reason) + " from " + http_address;
  } else if (!(*channels = parse_lookupd_channels(r.body))) {
    *error = "bad /channels answer from " + http_address;
  }
}

// Every nsqlookupd asked at once; the union of their channels, sorted. Uses nothing of the
// loop, which may stop while this waits.
core::task<std::vector<std::string>> query_channels(std::vector<std::string> http_addresses, std::string topic,
                                                    net::http_client_limits limits, const core::logger* log) {
  std::vector<std::optional<std::vector<std::string>>> answers(http_addresses.size());
  std::vector<std::string> errors(http_addresses.size());
  {
    core::task_group group{co_await core::this_context()};
    for (std::size_t i = 0; i < http_addresses.size(); ++i)
      group.spawn(query_channels_of(http_addresses[i], topic, limits, &answers[i], &errors[i]));
    co_await group.join();
  }
  std::vector<std::string> channels;
  std::string failures;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (answers[i]) channels.insert(channels.end(), answers[i]->begin(), answers[i]->end());
    if (!errors[i].empty()) failures += (failures.empty() ? "" : "; ") + errors[i];
  }
  std::sort(channels.begin(), channels.end());
  channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
  if (!failures.empty())
    log->warn("failed to query nsqlookupd for channels to pre-create for topic ", topic, " - ", failures);
  co_return channels;
}

core::task<void> run_peer(std::shared_ptr<lookup_peer> peer) { co_await peer->run(); }

// The loop's state on shard 0: its peers, and the broker's observer.
class lookup_sync final : public broker::topology_observer {
 public:
  lookup_sync(broker::broker_shard& broker, config::runtime_settings& settings, core::task_group& peers)
      : _broker(broker),
        _settings(settings),
        _group(peers),
        _identify(lookup_identify_body(broker.opts(), config::os_hostname())) {}

  // The peers become the settings' addresses (in order, each once).
  void reconcile() {
    const std::vector<std::string> wanted = _settings.lookupd_tcp_addresses().value_or(std::vector<std::string>{});
    std::vector<std::shared_ptr<lookup_peer>> kept;
    for (auto& p : _peers) {
      if (std::find(wanted.begin(), wanted.end(), p->address()) != wanted.end()) {
        kept.push_back(std::move(p));
      } else {
        _broker.log().info("LOOKUP(", p->address(), "): removing peer");
        p->stop();
      }
    }
    _peers = std::move(kept);
    for (const std::string& address : wanted) {
      auto same = [&](const auto& p) { return p->address() == address; };
      if (std::any_of(_peers.begin(), _peers.end(), same)) continue;
      _broker.log().info("LOOKUP(", address, "): adding peer");
      broker::broker_shard* b = &_broker;
      auto peer = std::make_shared<lookup_peer>(address, _identify, [b] { return registrations(*b); }, _broker.log(),
                                                _broker.opts().max_body_size);
      _peers.push_back(peer);
      _group.spawn(run_peer(std::move(peer)));
    }
  }

  void tick() {
    for (auto& p : _peers) p->tick();
  }

  void stop_all() {
    for (auto& p : _peers) p->stop();
    _peers.clear();
  }

  void changed(const broker::topology_change& c) override {
    const bool added = c.what == broker::topology_change::kind::added;
    std::string line = std::string(added ? "REGISTER " : "UNREGISTER ") + c.topic;
    if (c.channel) line += " " + *c.channel;
    for (auto& p : _peers) p->command(line, c.channel ? "channel" : "topic");
  }

  core::task<std::vector<std::string>> channels_for_new_topic(std::string topic) override {
    std::vector<std::string> http_addresses;
    for (auto& p : _peers)
      if (auto a = p->http_address()) http_addresses.push_back(*a);
    if (http_addresses.empty()) {
      if (!_peers.empty())
        _broker.log().error("no available nsqlookupd to query for channels to pre-create for topic ", topic);
      return empty_list();
    }
    net::http_client_limits limits;
    limits.connect_timeout = _broker.opts().http_client_connect_timeout;
    limits.request_timeout = _broker.opts().http_client_request_timeout;
    return query_channels(std::move(http_addresses), std::move(topic), limits, &_broker.log());
  }

 private:
  static core::task<std::vector<std::string>> empty_list() { co_return std::vector<std::string>{}; }

  broker::broker_shard& _broker;
  config::runtime_settings& _settings;
  core::task_group& _group;
  std::string _identify;
  std::vector<std::shared_ptr<lookup_peer>> _peers;
};

}  // namespace

std::string lookup_identify_body(const config::options& opts, const std::string& host) {
  return "{\"broadcast_address\":" + go::json_string(opts.broadcast_address) +
         ",\"hostname\":" + go::json_string(host) +
         ",\"http_port\":" + std::to_string(opts.broadcast_http_port) +
         ",\"tcp_port\":" + std::to_string(opts.broadcast_tcp_port) +
         ",\"topology_region\":" + go::json_string(opts.topology_region) +
         ",\"topology_zone\":" + go::json_string(opts.topology_zone) +
         ",\"version\":" + go::json_string(nsqd_version) + "}";
}

std::optional<std::vector<std::string>> parse_lookupd_channels(std::string_view json) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const boost::json::object* o = &v.as_object();
  if (const auto* data = o->if_contains("data"); data && data->is_object()) o = &data->as_object();
  const auto* list = o->if_contains("channels");
  if (!list) return std::nullopt;
  std::vector<std::string> out;
  if (list->is_null()) return out;  // Go's nil slice
  if (!list->is_array()) return std::nullopt;
  for (const auto& item : list->as_array()) {
    if (!item.is_string()) return std::nullopt;
    out.emplace_back(item.as_string());
  }
  return out;
}

core::task<void> lookup(broker::broker_shard& broker, config::runtime_settings& settings) {
  core::task_group peers{co_await core::this_context()};
  lookup_sync sync(broker, settings, peers);
  sync.reconcile();
  broker.set_topology_observer(&sync);
  settings.watch([&sync] { sync.reconcile(); });
  for (;;) {
    const int slept = co_await core::sleep_for(ping_interval);
    if (slept == -ECANCELED) break;
    sync.tick();
  }
  settings.watch({});
  broker.set_topology_observer(nullptr);
  sync.stop_all();
  co_await peers.join();
  broker.log().info("LOOKUP: closing");
}

}  // namespace nsqd::loops
