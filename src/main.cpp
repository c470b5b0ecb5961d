// nsqd: upstream's start-up at a glance.
//   parse options -> create the node (lock the data path, bind) -> load metadata
//   -> persist metadata -> run the task group on every shard until the first failure or
//   SIGTERM/SIGINT -> flush to disk -> exit code.
// Exit codes: 0 after a signal, 2 for a bad flag (Go's flag package), 1 for a bad config
// file, a start-up failure or a service failure.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>

#include "config/options.hpp"
#include "core/log.hpp"
#include "core/runtime.hpp"
#include "core/signals.hpp"
#include "core/syscheck.hpp"
#include "core/task.hpp"
#include "node/node.hpp"

using namespace nsqd;

namespace {

// On shard 0, from LoadMetadata on.
core::task<int> run(node::node& nsqd) {
  co_await nsqd.start();
  bool ok = co_await nsqd.load_metadata();
  if (ok) ok = co_await nsqd.persist_metadata();
  std::exception_ptr failure;
  if (ok) failure = co_await nsqd.serve();
  co_await nsqd.stop();
  if (failure) std::rethrow_exception(failure);
  co_return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  config::parse_result parsed = config::parse_command_line(argc, argv);
  if (parsed.outcome == config::parse_outcome::exit_ok) {
    std::fputs(parsed.message.c_str(), stdout);
    return 0;
  }
  if (parsed.outcome == config::parse_outcome::exit_usage) {
    std::fprintf(stderr, "%s\n%s", parsed.message.c_str(), config::usage_text(config::default_options()).c_str());
    return 2;
  }
  if (parsed.outcome == config::parse_outcome::exit_error) {
    std::fprintf(stderr, "%s\n", parsed.message.c_str());
    return 1;
  }
  const config::options& opts = parsed.opts;
  core::logger log(opts.log_prefix, core::log_level(int(opts.log_level)));

  if (auto problem = core::io_uring_problem()) {
    log.fatal(*problem);
    return 1;
  }
  // Before any thread exists, so that every shard inherits the mask.
  core::block_stop_signals();
  const core::fd_limit fds = core::raise_fd_limit();
  log.info("file descriptor limit: ", fds.soft, fds.raised ? " (soft limit raised to the hard one)" : "");

  // systemd: where to tell it how the service is doing, and how often to say it is alive.
  const char* notify_socket = std::getenv("NOTIFY_SOCKET");
  node::service_manager systemd{net::service_notifier(notify_socket ? notify_socket : ""),
                                net::watchdog_interval(std::getenv("WATCHDOG_USEC"),
                                                       std::getenv("WATCHDOG_PID"), ::getpid()),
                                net::passed_sockets(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"),
                                                    std::getenv("LISTEN_FDNAMES"), ::getpid())};
  // Meant for this process only (sd_listen_fds(3) with unset_environment).
  for (const char* name : {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}) ::unsetenv(name);

  std::optional<node::node> nsqd;
  try {
    nsqd.emplace(opts, log, systemd);
  } catch (const std::exception& e) {
    log.fatal("failed to instantiate nsqd - ", e.what());
    return 1;
  }

  try {
    core::runtime shards(unsigned(opts.cores), log);
    return shards.run([&] { return run(*nsqd); });
  } catch (const std::exception& e) {
    log.fatal(e.what());
    return 1;
  }
}
