#include "broker/server.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "broker/broker.hpp"
#include "core/cross_shard.hpp"
#include "core/sharded.hpp"
#include "loops/queue_scan.hpp"
#include "core/signals.hpp"
#include "core/task_group.hpp"
#include "net/http_api_settings.hpp"
#include "net/http_server.hpp"
#include "net/tcp_server.hpp"

namespace nsqd::broker {

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
core::task<void> serve_shard(net::unique_fd* tcp, net::unique_fd* http, broker_shard* broker,
                             net::http_shared* shared) {
  core::task_group group{co_await core::this_context()};
  group.spawn(broker->run());
  group.spawn(loops::queue_scan(*broker));
  group.spawn(net::serve_tcp(tcp->get(), *broker));
  if (*http) group.spawn(net::serve_http(http->get(), *broker, *shared));
  co_await group.join();
}

// Stops the services when SIGTERM or SIGINT arrives; SIGHUP is accepted and ignored
// (logs go to stderr, there is nothing to reopen).
core::task<void> watch_signals(core::task_group* services, const core::logger* log) {
  core::signal_watch signals;
  for (;;) {
    int sig = co_await signals.next();
    if (sig < 0) co_return;  // cancelled: something else stopped the services
    if (sig == SIGHUP) continue;
    log->info("signal ", sig, " received, exiting");
    services->cancel();
    co_return;
  }
}

core::task<void> run_on_shard(unsigned n, net::unique_fd* tcp, net::unique_fd* http,
                              core::sharded<broker_shard>* brokers, net::http_shared* shared) {
  co_await brokers->invoke_on(n, [tcp, http, shared](broker_shard& b) {
    return serve_shard(tcp, http, &b, shared);
  });
}

}  // namespace

server::server(const options& opts, const core::logger& log) : _opts(opts), _log(log) {
  _data_lock = lock_data_path(opts.data_path);
  validate(opts);  // upstream checks its options after taking the lock
  unsigned shards = unsigned(opts.cores < 1 ? 1 : opts.cores);
  std::vector<net::unique_fd> tcp, http;
  try {
    tcp = net::listen_tcp(opts.tcp_address, shards);
    if (!opts.http_address.empty()) http = net::listen_tcp(opts.http_address, shards);
  } catch (const net::listen_error& e) {
    throw startup_error(e.what());
  }
  _tcp_port = net::local_port(tcp.front().get());
  if (!http.empty()) _http_port = net::local_port(http.front().get());
  _listeners.resize(shards);
  for (unsigned i = 0; i < shards; ++i) {
    _listeners[i].tcp = std::move(tcp[i]);
    if (!http.empty()) _listeners[i].http = std::move(http[i]);
  }
}

core::task<int> server::run() {
  _log.info("nsqd v", nsqd_version, " (built w/g++ " __VERSION__ ")");
  _log.info("TCP: listening on ", _opts.tcp_address, " (", _listeners.size(), " shards)");
  if (_http_port >= 0) _log.info("HTTP: listening on ", _opts.http_address);
  unsigned shards = unsigned(_listeners.size());
  std::vector<broker_shard*> peers(shards, nullptr);
  // What every shard's HTTP side shares: the real ports, start time, run-time settings.
  net::http_shared http_shared(_opts, _tcp_port, _http_port);
  core::sharded<broker_shard> brokers(shards);
  co_await brokers.start(std::cref(_opts), std::cref(_log), std::ref(peers), _data_lock.get(), &_health);
  std::exception_ptr failure;
  std::string load_error;
  try {
    // nsqd.dat and the queues, before any listener accepts (connections wait in the backlog).
    co_await brokers.invoke_on(0, [this](broker_shard& b) { return b.load(_opts.data_path.empty() ? "." : _opts.data_path); });
  } catch (const std::exception& e) {
    load_error = e.what();
  }
  if (!load_error.empty()) {
    _log.fatal("failed to load metadata - ", load_error);
    co_await brokers.stop();
    co_return 1;
  }
  {
    core::task_group services{co_await core::this_context()};
    for (unsigned n = 0; n < shards; ++n)
      services.spawn(run_on_shard(n, &_listeners[n].tcp, &_listeners[n].http, &brokers, &http_shared));
    services.spawn(watch_signals(&services, &_log));
    try {
      co_await services.join();
    } catch (...) {
      failure = std::current_exception();
    }
  }
  // Every queued, in-flight and deferred message to disk, in upstream's layout; nsqd.dat.
  co_await brokers.invoke_on(0, [](broker_shard& b) { return b.flush_all(); });
  co_await brokers.stop();
  if (failure) std::rethrow_exception(failure);
  _log.info("TCP: closing ", _opts.tcp_address);
  co_return 0;
}

}  // namespace nsqd::broker
