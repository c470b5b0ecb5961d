#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/cross_shard.hpp"
#include "core/io.hpp"
#include "core/runtime.hpp"
#include "core/sharded.hpp"
#include "core/task_group.hpp"

using namespace nsqd::core;
using namespace std::chrono_literals;

namespace {

task<unsigned> whoami() {
  promise_context ctx = co_await this_context();
  co_return ctx.shard->shard_id();
}

task<int> cross_main(unsigned shards) {
  int sum = 0;
  for (unsigned n = 0; n < shards; ++n) {
    unsigned id = co_await on_shard(n, [] { return whoami(); });
    BOOST_TEST(id == n);
    sum += int(co_await on_shard(n, [n] { return int(n) * 10; }));
  }
  co_return sum;
}

}  // namespace

BOOST_AUTO_TEST_CASE(on_shard_runs_on_the_target_with_more_shards_than_cpus) {
  logger log("[test] ", log_level::warn);
  runtime rt(4, log);
  int sum = rt.run([&] { return cross_main(4); });
  BOOST_TEST(sum == 60);
}
