#include "node/node.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "core/cross_shard.hpp"
#include "core/signals.hpp"
#include "core/task_group.hpp"
#include "go/go_syntax.hpp"
#include "http/http_shared.hpp"
#include "http/http_server.hpp"
#include "loops/lookup.hpp"
#include "loops/queue_scan.hpp"
#include "loops/statsd.hpp"
#include "loops/watchdog.hpp"
#include "net/socket_activation.hpp"
#include "protocol/tcp_server.hpp"

namespace nsqd::node {

namespace {

net::unique_fd lock_data_path(const std::string& configured) {
  std::string path = configured.empty() ? "." : configured;
  net::unique_fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) throw startup_error("open " + path + ": " + std::strerror(errno));
  if (::flock(dir.get(), LOCK_EX | LOCK_NB) != 0)
    throw startup_error("cannot flock directory " + path + " - " + std::strerror(errno) +
                        " (possibly in use by another instance of nsqd)");
  return dir;
}

// One shard's share of the work: its broker part, queue scan, TCP and HTTP listeners with
// their connections.
core::task<void> serve_shard(net::unique_fd* tcp_listener, net::unique_fd* http_listener,
                             net::unique_fd* https_listener, broker::broker_shard* part,
                             http::http_shared* shared, protocol::v2_tls tls) {
  core::task_group group{co_await core::this_context()};
  group.spawn(part->run());
  group.spawn(loops::queue_scan(*part));
  group.spawn(protocol::serve_tcp(tcp_listener->get(), *part, tls));
  if (*http_listener) group.spawn(http::serve_http(http_listener->get(), *part, *shared));
  if (*https_listener) group.spawn(http::serve_http(https_listener->get(), *part, *shared, tls.server));
  co_await group.join();
}

// Stops the services when SIGTERM or SIGINT arrives; SIGHUP is accepted and ignored
// (logs go to stderr, there is nothing to reopen).
core::task<void> watch_signals(core::task_group* services, const core::logger* log,
                               const net::service_notifier* systemd) {
  core::signal_watch signals;
  for (;;) {
    int sig = co_await signals.next();
    if (sig < 0) co_return;  // cancelled: something else stopped the services
    if (sig == SIGHUP) continue;
    log->info("signal ", sig, " received, exiting");
    systemd->notify("STOPPING=1\nSTATUS=stopping: writing queued messages to disk");
    services->cancel();
    co_return;
  }
}

core::task<void> run_on_shard(unsigned n, node::shard_listeners* listeners,
                              core::sharded<broker::broker_shard>* brokers,
                              http::http_shared* shared, protocol::v2_tls tls) {
  co_await brokers->invoke_on(n, [listeners, shared, tls](broker::broker_shard& b) {
    return serve_shard(&listeners->tcp, &listeners->http, &listeners->https, &b, shared, tls);
  });
}

// The statsd push, on shard 0 (it gathers every shard's stats from there).
core::task<void> run_statsd(core::sharded<broker::broker_shard>* brokers) {
  co_await brokers->invoke_on(0, [](broker::broker_shard& b) { return loops::statsd(b); });
}

// The lookup sync, on shard 0 (where topics and channels are made and deleted); it runs
// without peers too, as `PUT /config/nsqlookupd_tcp_addresses` may add some.
core::task<void> run_lookup(core::sharded<broker::broker_shard>* brokers, config::runtime_settings* settings) {
  co_await brokers->invoke_on(0, [settings](broker::broker_shard& b) { return loops::lookup(b, *settings); });
}

}  // namespace

node::node(const config::options& opts, const core::logger& log, const service_manager& systemd)
    : _opts(opts), _log(log), _systemd(systemd), _settings(opts.lookupd_tcp_addresses) {
  _data_lock = lock_data_path(opts.data_path);
  config::validate(opts);  // upstream checks its options after taking the lock
  // Upstream builds its TLS config when a certificate or a key is given (both are needed).
  if (!opts.tls_cert.empty() || !opts.tls_key.empty()) {
    try {
      _tls = net::tls_context::server({opts.tls_cert, opts.tls_key, opts.tls_root_ca_file,
                                       net::parse_tls_client_auth_policy(opts.tls_client_auth_policy),
                                       opts.tls_min_version});
    } catch (const net::tls_error& e) {
      throw startup_error(e.what());
    }
  }
  // And, always, the one for nsqd's own requests (https auth servers).
  try {
    _client_tls = net::tls_context::client({opts.tls_root_ca_file, "", "", opts.tls_min_version});
  } catch (const net::tls_error& e) {
    throw startup_error(e.what());
  }
  unsigned shards = unsigned(opts.cores < 1 ? 1 : opts.cores);
  std::vector<net::unique_fd> tcp, http, https;
  try {
    tcp = listen_for("tcp", 0, opts.tcp_address, false, shards, _tcp_listening);
    http = listen_for("http", 1, opts.http_address, true, shards, _http_listening);
    // Upstream's HTTPS listener exists only with a TLS config (the passed socket likewise).
    if (_tls) https = listen_for("https", 2, opts.https_address, true, shards, _https_listening);
  } catch (const net::listen_error& e) {
    remove_unix_socket_files();
    throw startup_error(e.what());
  }
  _tcp_port = net::local_port(tcp.front().get());
  if (!http.empty()) _http_port = net::local_port(http.front().get());
  if (!https.empty()) _https_port = net::local_port(https.front().get());
  config::resolve_after_listen(_opts, _tcp_port, _http_port);
  _listeners.resize(shards);
  for (unsigned i = 0; i < shards; ++i) {
    _listeners[i].tcp = std::move(tcp[i]);
    if (!http.empty()) _listeners[i].http = std::move(http[i]);
    if (!https.empty()) _listeners[i].https = std::move(https[i]);
  }
}

node::~node() { remove_unix_socket_files(); }

std::vector<net::unique_fd> node::listen_for(std::string_view name, std::size_t position, const std::string& address,
                                             bool empty_is_none, unsigned shards, std::string& listening) {
  // A socket passed by systemd (socket activation) takes the place of binding the address.
  if (auto fd = net::take_passed(_systemd.passed, name, position)) {
    listening = "socket passed by systemd";
    return net::shared_listener(*fd, shards, name);
  }
  if (address.empty() && empty_is_none) return {};
  std::vector<net::unique_fd> fds = net::listen_stream(address, shards);
  listening = address;
  if (net::is_unix_address(address)) _unix_socket_files.push_back(address);
  return fds;
}

void node::remove_unix_socket_files() {
  // As Go's UnixListener.Close: the socket file goes with the listener.
  for (const std::string& path : _unix_socket_files) ::unlink(path.c_str());
  _unix_socket_files.clear();
}

core::task<void> node::start() {
  _log.info("nsqd v", nsqd_version, " (built w/g++ " __VERSION__ ")");
  _peers.assign(_listeners.size(), nullptr);
  _brokers.emplace(unsigned(_listeners.size()));
  co_await _brokers->start(std::cref(_opts), std::cref(_log), std::ref(_peers), _data_lock.get(),
                           &_health);
}

core::task<bool> node::load_metadata() {
  _systemd.notifier.notify("STATUS=starting: loading metadata and queues");
  std::string error;
  try {
    // nsqd.dat and the queues, before any listener accepts (connections wait in the backlog).
    co_await _brokers->invoke_on(0, [this](broker::broker_shard& b) {
      return b.load(_opts.data_path.empty() ? "." : _opts.data_path);
    });
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error.empty()) _log.fatal("failed to load metadata - ", error);
  co_return error.empty();
}

core::task<bool> node::persist_metadata() {
  const int rc = co_await _brokers->invoke_on(0, [](broker::broker_shard& b) {
    return b.persist_metadata_now();
  });
  if (rc < 0) _log.fatal("failed to persist metadata - ", go::errno_text(rc));
  _loaded = rc >= 0;
  co_return _loaded;
}

core::task<std::exception_ptr> node::serve() {
  _log.info("TCP: listening on ", _tcp_listening, " (", _listeners.size(), " shards)");
  if (!_http_listening.empty()) _log.info("HTTP: listening on ", _http_listening);
  if (!_https_listening.empty()) _log.info("HTTPS: listening on ", _https_listening);
  else if (!_tls && net::take_passed(_systemd.passed, "https", 2))
    _log.warn("HTTPS: a socket named https was passed, but there is no --tls-cert/--tls-key to serve it with");
  // What every shard's HTTP side shares: the real ports, start time, run-time settings.
  http::http_shared http_shared(_settings, _tcp_port, _http_port, _https_port);
  std::exception_ptr failure;
  core::task_group services{co_await core::this_context()};
  for (unsigned n = 0; n < _listeners.size(); ++n)
    services.spawn(run_on_shard(n, &_listeners[n], &*_brokers, &http_shared,
                                protocol::v2_tls{_tls ? &*_tls : nullptr, &*_client_tls}));
  if (!_opts.statsd_address.empty()) services.spawn(run_statsd(&*_brokers));
  services.spawn(run_lookup(&*_brokers, &_settings));
  services.spawn(watch_signals(&services, &_log, &_systemd.notifier));
  if (_systemd.watchdog)
    services.spawn(loops::watchdog(_systemd.notifier, *_systemd.watchdog, unsigned(_listeners.size())));
  // Listeners bound, metadata loaded: connections are served from here on.
  _systemd.notifier.notify("READY=1\nSTATUS=serving: TCP " + _tcp_listening +
                           (_http_listening.empty() ? std::string() : ", HTTP " + _http_listening) +
                           (_https_listening.empty() ? std::string() : ", HTTPS " + _https_listening) + ", " +
                           std::to_string(_listeners.size()) + " shards\nMAINPID=" + std::to_string(::getpid()));
  try {
    co_await services.join();
  } catch (...) {
    failure = std::current_exception();
    _systemd.notifier.notify("STOPPING=1\nSTATUS=stopping after a failure: writing queued messages to disk");
  }
  co_return failure;
}

core::task<void> node::stop() {
  // Every queued, in-flight and deferred message to disk, in upstream's layout; nsqd.dat.
  if (_loaded) co_await _brokers->invoke_on(0, [](broker::broker_shard& b) { return b.flush_all(); });
  co_await _brokers->stop();
  if (_loaded) _log.info("TCP: closing ", _tcp_listening);
  _listeners.clear();
  remove_unix_socket_files();
  _systemd.notifier.notify("STATUS=stopped");
}

}  // namespace nsqd::node
