#pragma once
// server: nsqd itself, as main() sees it, in upstream's order:
//   server srv(opts, log);          // create: lock the data path, bind every listener
//                                   //   (a held data path or a busy port throws startup_error)
//   rt.run([&] { return srv.run(); });   // on shard 0: load nsqd.dat and the queues, serve on
//                                        //   every shard until SIGTERM/SIGINT, flush every
//                                        //   message to disk (exit 0); exit 1 on a failure
// Owned by main; run() is the task group of upstream's Main(): one service task per shard
// (TCP and HTTP accept loops and their connections) plus the signal watch on shard 0.

#include <stdexcept>
#include <vector>

#include "broker/health.hpp"
#include "broker/options.hpp"
#include "core/log.hpp"
#include "core/task.hpp"
#include "net/socket.hpp"

namespace nsqd::broker {

// A start-up failure; main prints `FATAL: failed to instantiate nsqd - <what>` and exits 1.
class startup_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class server {
 public:
  server(const options& opts, const core::logger& log);

  const options& opts() const noexcept { return _opts; }
  int tcp_port() const noexcept { return _tcp_port; }
  int http_port() const noexcept { return _http_port; }

  // Runs on shard 0 of a runtime with opts().cores shards. Returns the exit code.
  core::task<int> run();

 private:
  struct shard_listeners {
    net::unique_fd tcp;
    net::unique_fd http;  // empty when --http-address is ""
  };

  const options& _opts;
  const core::logger& _log;
  net::unique_fd _data_lock;  // the data directory, flock'ed; its fd is the queues' dirfd
  node_health _health;
  std::vector<shard_listeners> _listeners;  // by shard
  int _tcp_port = -1;
  int _http_port = -1;
};

}  // namespace nsqd::broker
