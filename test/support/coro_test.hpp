#pragma once
// CORO_TEST_CASE(name) { ... co_await ...; }  — a Boost.Test case whose body is a coroutine,
// run to completion on a fresh single-shard reactor (no cross-shard hub).

#include <boost/test/unit_test.hpp>

#include "core/log.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"

#define CORO_TEST_CASE(name)                                     \
  static ::nsqd::core::task<void> name##_coro_body();            \
  BOOST_AUTO_TEST_CASE(name) {                                   \
    ::nsqd::core::logger test_log("[test] ", ::nsqd::core::log_level::warn); \
    ::nsqd::core::reactor test_reactor({}, test_log);            \
    test_reactor.run(name##_coro_body());                        \
  }                                                              \
  static ::nsqd::core::task<void> name##_coro_body()
