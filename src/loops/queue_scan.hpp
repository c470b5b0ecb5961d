#pragma once
// The queue scan (upstream's queueScanLoop), one per shard over that shard's channel parts:
// every --queue-scan-interval (100 ms), pick --queue-scan-selection-count random channel
// parts, requeue their timed-out in-flight messages and queue their due deferred ones; while
// more than --queue-scan-dirty-percent of the picked parts had something due, pick again at
// once. Timeouts and deferrals therefore fire at most about one interval late.
//
// Differences from upstream: it samples only parts holding in-flight or deferred messages
// (broker_shard::timed_channels), so idle topics and channels cost it nothing (upstream's
// scan of 10,000 idle channels costs it tens of ms of CPU a second); because a shard is one
// thread, that list is read afresh on every pass (no --queue-scan-refresh-interval staleness,
// no dangling parts), and there is no worker pool (--queue-scan-worker-pool-max has nothing
// to size).

#include "broker/broker.hpp"
#include "core/task.hpp"

namespace nsqd::loops {

// Runs until cancelled, on the shard of `broker`.
core::task<void> queue_scan(broker::broker_shard& broker);

}  // namespace nsqd::loops
