#pragma once
// runtime: the shards. One thread per shard, pinned to a CPU, each owning one reactor.
//
//   core::runtime rt(4, log);                 // --cores 4, even on a 2-CPU machine
//   int rc = rt.run([&]() -> core::task<int> { ... co_return 0; });
//
// run() starts every shard's thread, runs `make_main()`'s task on shard 0 and, once it has
// ended, stops the other shards and joins their threads; it returns main's result or rethrows
// its error. Shard i runs on the i-th CPU of the process's affinity mask (modulo their count)
// and its thread is named `shard-i`. The calling thread only waits.

#include <exception>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "core/cross_shard.hpp"
#include "core/log.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"

namespace nsqd::core {

class runtime {
 public:
  runtime(unsigned shards, const logger& log, reactor_options base = {});
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  unsigned shards() const noexcept { return _shards; }
  const logger& log() const noexcept { return _log; }

  template <class F>
  auto run(F make_main) {
    using T = typename detail::unwrap_task<std::invoke_result_t<F&>>::type;
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
    std::exception_ptr error;
    start([&](reactor& shard0) {
      try {
        if constexpr (std::is_void_v<T>) {
          shard0.run(with_shutdown<T>(make_main));
          value.emplace(true);
        } else {
          value.emplace(shard0.run(with_shutdown<T>(make_main)));
        }
      } catch (...) {
        error = std::current_exception();
      }
    });
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) return std::move(*value);
  }

 private:
  // Runs make_main()'s task, then stops every other shard, whatever it did (even if
  // make_main itself threw).
  template <class T, class F>
  task<T> with_shutdown(F& make_main) {
    std::exception_ptr error;
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
    try {
      if constexpr (std::is_void_v<T>) {
        co_await make_main();
        value.emplace(true);
      } else {
        value.emplace(co_await make_main());
      }
    } catch (...) {
      error = std::current_exception();
    }
    co_await stop_other_shards();
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) co_return std::move(*value);
  }

  task<void> stop_other_shards();
  void start(std::function<void(reactor&)> shard0_body);
  void shard_thread(unsigned id, std::latch& ready, std::latch& stopped,
                    std::function<void(reactor&)>* shard0_body);

  unsigned _shards;
  const logger& _log;
  reactor_options _base;
  cross_shard_hub _hub;
  std::vector<int> _cpus;
  std::vector<std::exception_ptr> _start_errors;
};

}  // namespace nsqd::core
