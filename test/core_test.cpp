#define BOOST_TEST_MODULE core
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <stdexcept>

#include "core/io.hpp"
#include "core/task.hpp"
#include "core/task_group.hpp"
#include "test/support/coro_test.hpp"

using namespace nsqd::core;
using namespace std::chrono_literals;

namespace {
task<int> answer() { co_return 42; }
task<int> add_one(int x) { co_return x + 1; }
task<void> fail_now() {
  throw std::runtime_error("boom");
  co_return;
}
task<void> sleeper(int* done, std::chrono::milliseconds d) {
  int rc = co_await sleep_for(d);
  *done = rc == 0 ? 1 : rc;
}
}  // namespace

CORO_TEST_CASE(task_returns_values) {
  BOOST_TEST(co_await answer() == 42);
  BOOST_TEST(co_await add_one(co_await answer()) == 43);
}

CORO_TEST_CASE(task_rethrows_at_await) {
  bool caught = false;
  try {
    co_await fail_now();
  } catch (const std::runtime_error& e) {
    caught = std::string(e.what()) == "boom";
  }
  BOOST_TEST(caught);
}

CORO_TEST_CASE(group_join_waits_for_children) {
  int a = 0, b = 0;
  task_group g{co_await this_context()};
  g.spawn(sleeper(&a, 20ms));
  g.spawn(sleeper(&b, 1ms));
  BOOST_TEST(g.size() == 2u);
  co_await g.join();
  BOOST_TEST(a == 1);
  BOOST_TEST(b == 1);
}

CORO_TEST_CASE(group_first_failure_cancels_siblings) {
  int slow = 0;
  task_group g{co_await this_context()};
  g.spawn(sleeper(&slow, 10s));
  g.spawn(fail_now());
  auto t0 = clock::now();
  bool caught = false;
  try {
    co_await g.join();
  } catch (const std::runtime_error&) {
    caught = true;
  }
  BOOST_TEST(caught);
  BOOST_TEST(slow == -ECANCELED);
  BOOST_TEST((clock::now() - t0) < 5s);
}
