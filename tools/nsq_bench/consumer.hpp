#pragma once
// One consumer connection: IDENTIFY (feature_negotiation), SUB, RDY, then FIN every message
// while recording its latency and sequence; NOP answers each heartbeat. It stops on a stop
// request, when the run's messages are all in, at the --duration of a `sub` run, or after
// --drain-timeout of silence; it then sends CLS and FINs what arrives until CLOSE_WAIT.

#include "nsq_bench/options.hpp"
#include "nsq_bench/run_state.hpp"

namespace nsqd::nsq_bench {

// The IDENTIFY body a consumer sends.
std::string identify_json(const bench_options& o, unsigned index);

// Runs on the calling thread until done; never throws (failures land in error()).
void run_consumer(const bench_options& o, unsigned index, run_state& state,
                  consumer_result& result);

}  // namespace nsqd::nsq_bench
