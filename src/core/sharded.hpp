#pragma once
// sharded<T>: one T per shard, in Seastar's spirit. Each instance is built, used and destroyed
// on its own shard; other shards reach it only through invoke_on (a cross-shard call).
//
//   core::sharded<tcp_server> servers(rt.shards());
//   co_await servers.start(std::ref(opts));             // T(reactor&, Args...) on every shard
//   co_await servers.invoke_on_all([](tcp_server& s) { return s.serve(); });
//   co_await servers.stop();                            // destroys each T on its shard
//
// The sharded object itself is owned by a coroutine on one shard and outlives every call.

#include <memory>
#include <vector>

#include "core/cross_shard.hpp"
#include "core/task_group.hpp"

namespace nsqd::core {

template <class T>
class sharded {
 public:
  explicit sharded(unsigned shards) : _items(shards) {}
  sharded(const sharded&) = delete;
  sharded& operator=(const sharded&) = delete;

  unsigned shards() const noexcept { return unsigned(_items.size()); }

  // Builds T(reactor& shard, args...) on every shard.
  template <class... Args>
  task<void> start(Args... args) {
    promise_context ctx = co_await this_context();
    cross_shard_hub* hub = ctx.shard->hub();
    for (unsigned n = 0; n < shards(); ++n) {
      reactor* r = hub ? &hub->shard(n) : ctx.shard;
      co_await on_shard(n, [this, n, r, &args...] { _items[n] = std::make_unique<T>(*r, args...); });
    }
  }

  // Destroys every T on its shard.
  task<void> stop() {
    for (unsigned n = 0; n < shards(); ++n)
      co_await on_shard(n, [this, n] { _items[n].reset(); });
  }

  // This shard's instance: only from a coroutine running on shard `shard_id`.
  T& local(unsigned shard_id) noexcept { return *_items[shard_id]; }

  // fn(T&) on shard n; fn may return a value or a task.
  template <class F>
  auto invoke_on(unsigned n, F fn) {
    return on_shard(n, [this, n, fn = std::move(fn)]() mutable { return fn(*_items[n]); });
  }

  // fn(T&) on every shard at once; waits for all and rethrows the first error.
  template <class F>
  task<void> invoke_on_all(F fn) {
    task_group group{co_await this_context()};
    for (unsigned n = 0; n < shards(); ++n) group.spawn(invoke_one(this, n, fn));
    co_await group.join();
  }

 private:
  template <class F>
  static task<void> invoke_one(sharded* self, unsigned n, F fn) {
    co_await self->invoke_on(n, std::move(fn));
  }
  std::vector<std::unique_ptr<T>> _items;
};

}  // namespace nsqd::core
