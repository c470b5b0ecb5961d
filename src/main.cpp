// nsqd: upstream's start-up at a glance.
//   options -> create (lock the data path, bind) -> load metadata -> persist metadata
//   -> run the task group on every shard until the first failure or SIGTERM/SIGINT.
// Exit codes: 0 after a signal, 1 for a bad flag, a start-up failure or a service failure.

#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>

#include "broker/options.hpp"
#include "broker/server.hpp"
#include "core/log.hpp"
#include "core/runtime.hpp"
#include "core/signals.hpp"
#include "core/syscheck.hpp"

using namespace nsqd;

int main(int argc, char** argv) {
  broker::parse_result parsed = broker::parse_command_line(argc, argv);
  if (parsed.outcome == broker::parse_outcome::exit_ok) {
    std::fputs(parsed.message.c_str(), stdout);
    return 0;
  }
  if (parsed.outcome == broker::parse_outcome::exit_error) {
    std::fprintf(stderr, "%s\n", parsed.message.c_str());
    return 1;
  }
  const broker::options& opts = parsed.opts;
  core::logger log(opts.log_prefix, core::log_level(int(opts.log_level)));

  if (auto problem = core::io_uring_problem()) {
    log.fatal(*problem);
    return 1;
  }
  // Before any thread exists, so that every shard inherits the mask.
  core::block_stop_signals();

  std::optional<broker::server> server;
  try {
    server.emplace(opts, log);
  } catch (const std::exception& e) {
    log.fatal("failed to instantiate nsqd - ", e.what());
    return 1;
  }

  try {
    core::runtime shards(unsigned(opts.cores), log);
    return shards.run([&] { return server->run(); });
  } catch (const std::exception& e) {
    log.fatal(e.what());
    return 1;
  }
}
