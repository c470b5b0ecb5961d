#pragma once
// node: nsqd itself, the one place that knows every room. main() runs it in upstream's order:
//   node::node nsqd(opts, log);             // create: lock the data path, bind every listener
//                                           //   (a held data path or a busy port throws
//                                           //   startup_error)
//   then, on shard 0 of a runtime with opts.cores shards:
//   co_await nsqd.start();                  // every shard's broker part
//   co_await nsqd.load_metadata();          // nsqd.dat and the queues   (false: logged, exit 1)
//   co_await nsqd.persist_metadata();       // nsqd.dat written back     (false: logged, exit 1)
//   auto failure = co_await nsqd.serve();   // the task group, until the first failure or
//                                           //   SIGTERM/SIGINT
//   co_await nsqd.stop();                   // every message to disk, shards' parts stopped
// serve() is upstream's Main(): one service task per shard (broker part, queue scan, TCP and
// HTTP accept loops and their connections) plus the signal watch on shard 0.

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "broker/broker.hpp"
#include "config/options.hpp"
#include "config/runtime_settings.hpp"
#include "core/log.hpp"
#include "core/sharded.hpp"
#include "core/task.hpp"
#include "net/service_notify.hpp"
#include "net/socket_activation.hpp"
#include "net/socket.hpp"
#include "net/tls.hpp"
#include "storage/health.hpp"

namespace nsqd::node {

// What a service manager (systemd) asked of this process; main reads it from the environment.
struct service_manager {
  net::service_notifier notifier;                     // $NOTIFY_SOCKET (disabled without one)
  std::optional<std::chrono::microseconds> watchdog;  // $WATCHDOG_USEC, for this process
  // $LISTEN_FDS: sockets named tcp, http and https (or unnamed, in that order) are served in
  // place of binding --tcp-address, --http-address and --https-address, each shared by every
  // shard (https only with a TLS certificate and key, as upstream's HTTPS listener).
  std::vector<net::passed_socket> passed;
};

// A start-up failure; main prints `FATAL: failed to instantiate nsqd - <what>` and exits 1.
class startup_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class node {
 public:
  // `systemd` (outliving the node) hears READY=1, STATUS=, STOPPING=1 and the watchdog's
  // WATCHDOG=1 (net/service_notify.hpp, loops/watchdog.hpp).
  node(const config::options& opts, const core::logger& log, const service_manager& systemd);
  // Removes the unix socket files it made, if stop() has not.
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  const config::options& opts() const noexcept { return _opts; }
  int tcp_port() const noexcept { return _tcp_port; }
  int http_port() const noexcept { return _http_port; }

  // Each runs on shard 0, in this order (see the top of this file).
  core::task<void> start();
  core::task<bool> load_metadata();
  core::task<bool> persist_metadata();
  // The failure that ended the services, or null after a signal.
  core::task<std::exception_ptr> serve();
  core::task<void> stop();

  // One shard's listening sockets.
  struct shard_listeners {
    net::unique_fd tcp;
    net::unique_fd http;   // empty when --http-address is ""
    net::unique_fd https;  // empty without TLS or when --https-address is ""
  };

 private:

  // Upstream's options with what binding decides filled in (config::resolve_after_listen):
  // every shard reads this copy.
  config::options _opts;
  const core::logger& _log;
  const service_manager& _systemd;
  net::unique_fd _data_lock;  // the data directory, flock'ed; its fd is the queues' dirfd
  std::optional<net::tls_context> _tls;  // with --tls-cert/--tls-key: shared by every shard
  std::optional<net::tls_context> _client_tls;  // for https auth servers: shared likewise
  storage::node_health _health;
  // What `PUT /config` changes while running (the lookupd peers), seeded from _opts.
  config::runtime_settings _settings;
  std::vector<shard_listeners> _listeners;  // by shard
  int _tcp_port = -1;
  int _http_port = -1;
  int _https_port = -1;
  std::string _tcp_listening;   // for the log and STATUS: the address, or where the socket came from
  std::string _http_listening;
  std::string _https_listening;
  std::vector<std::string> _unix_socket_files;  // made by binding, removed at stop
  void remove_unix_socket_files();
  // One kind of listener, a descriptor per shard: the passed socket named `name` (or at
  // `position`), else bound on `address` (none when it is "" and `empty_is_none`).
  // `listening` says which. Throws net::listen_error.
  std::vector<net::unique_fd> listen_for(std::string_view name, std::size_t position, const std::string& address,
                                         bool empty_is_none, unsigned shards, std::string& listening);
  std::vector<broker::broker_shard*> _peers;  // every shard's part, by shard
  std::optional<core::sharded<broker::broker_shard>> _brokers;  // made by start()
  bool _loaded = false;  // stop() flushes only what load_metadata() took in
};

}  // namespace nsqd::node
