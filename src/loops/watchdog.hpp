#pragma once
// systemd's watchdog (WatchdogSec=): on shard 0, every half interval, ask every shard to
// answer (an empty cross-shard call) and send WATCHDOG=1 only once all of them did. A shard
// whose loop is stuck never answers, the keep-alives stop, and systemd restarts the service:
// what the watchdog is for. A shard that is merely busy answers late; the next keep-alive
// waits for it.

#include <chrono>

#include "core/task.hpp"
#include "net/service_notify.hpp"

namespace nsqd::loops {

// Runs until cancelled, on shard 0.
core::task<void> watchdog(const net::service_notifier& systemd, std::chrono::microseconds interval, unsigned shards);

}  // namespace nsqd::loops
