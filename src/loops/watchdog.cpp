#include "loops/watchdog.hpp"

#include "core/cross_shard.hpp"
#include "core/io.hpp"

namespace nsqd::loops {

core::task<void> watchdog(const net::service_notifier& systemd, std::chrono::microseconds interval, unsigned shards) {
  const auto half = interval / 2;
  for (;;) {
    const int slept = co_await core::sleep_for(half);
    if (slept == -ECANCELED) co_return;
    for (unsigned n = 0; n < shards; ++n) co_await core::on_shard(n, [] { return true; });
    systemd.notify("WATCHDOG=1");
  }
}

}  // namespace nsqd::loops
