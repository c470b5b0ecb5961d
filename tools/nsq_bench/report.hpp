#pragma once
// The end-of-run summary, as text (default) or one JSON object (--json), and the exit code.

#include <string>

#include "nsq_bench/options.hpp"
#include "nsq_bench/runner.hpp"

namespace nsqd::nsq_bench {

std::string format_text(const bench_options& o, const bench_summary& s);
std::string format_json(const bench_options& o, const bench_summary& s);
// "812ns", "41.2us", "1.23ms", "2.50s".
std::string format_ns(std::uint64_t ns);

// 0 ok; 1 a connection failed; 3 messages were lost or duplicated.
int exit_code(const bench_summary& s);

}  // namespace nsqd::nsq_bench
