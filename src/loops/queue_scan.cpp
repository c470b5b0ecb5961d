#include "loops/queue_scan.hpp"

#include <algorithm>

#include "core/io.hpp"

namespace nsqd::loops {

core::task<void> queue_scan(broker::broker_shard& broker) {
  const config::options& opts = broker.opts();
  size_t selection = size_t(std::max(1, opts.queue_scan_selection_count));
  for (;;) {
    int slept = co_await core::sleep_for(opts.queue_scan_interval);
    if (slept == -ECANCELED) co_return;
    for (;;) {
      std::vector<broker::channel*> channels = broker.timed_channels();
      if (channels.empty()) break;
      size_t n = std::min(selection, channels.size());
      // A random sample of n distinct parts: a partial Fisher-Yates shuffle.
      for (size_t i = 0; i < n; ++i) {
        size_t j = i + size_t(broker.rng()() % (channels.size() - i));
        std::swap(channels[i], channels[j]);
      }
      std::int64_t now = broker::unix_now_ns();
      size_t dirty = 0;
      for (size_t i = 0; i < n; ++i) {
        if (channels[i]->process_due(now)) ++dirty;
        if (!channels[i]->holds_timed()) broker.forget_timed(*channels[i]);
      }
      if (double(dirty) / double(n) <= opts.queue_scan_dirty_percent) break;
      co_await core::yield_now();  // let the shard's connections run between passes
    }
  }
}

}  // namespace nsqd::loops
