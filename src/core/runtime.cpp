#include "core/runtime.hpp"

#include <pthread.h>
#include <sched.h>

#include <string>

namespace nsqd::core {

namespace {

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

}  // namespace

runtime::runtime(unsigned shards, const logger& log, reactor_options base)
    : _shards(shards == 0 ? 1 : shards), _log(log), _base(base), _hub(_shards),
      _cpus(allowed_cpus()) {}

void runtime::start(std::function<void(reactor&)> shard0_body) {
  _start_errors.assign(_shards, nullptr);
  std::latch ready(_shards);
  std::latch stopped(_shards);
  std::vector<std::thread> threads;
  threads.reserve(_shards);
  for (unsigned i = 0; i < _shards; ++i)
    threads.emplace_back(
        [this, i, &ready, &stopped, &shard0_body] { shard_thread(i, ready, stopped, &shard0_body); });
  for (auto& t : threads) t.join();
  for (auto& e : _start_errors)
    if (e) std::rethrow_exception(e);
}

void runtime::shard_thread(unsigned id, std::latch& ready, std::latch& stopped,
                           std::function<void(reactor&)>* shard0_body) {
  std::string name = "shard-" + std::to_string(id);
  pthread_setname_np(pthread_self(), name.c_str());
  if (!_cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(_cpus[id % _cpus.size()], &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  std::unique_ptr<reactor> r;
  try {
    reactor_options opts = _base;
    opts.shard_id = id;
    r = std::make_unique<reactor>(opts, _log);
    _hub.attach(id, *r);
  } catch (...) {
    _start_errors[id] = std::current_exception();
  }
  ready.arrive_and_wait();
  bool can_run = true;
  for (auto& e : _start_errors)
    if (e) can_run = false;  // some shard could not start: nobody runs
  if (can_run) {
    if (id == 0)
      (*shard0_body)(*r);
    else
      r->run_until_stopped();
  }
  // Every reactor outlives every loop: a shard's last flush may still wake another's ring.
  stopped.arrive_and_wait();
}

task<void> runtime::stop_other_shards() {
  for (unsigned n = 1; n < _shards; ++n) {
    reactor* target = &_hub.shard(n);
    co_await on_shard(n, [target] { target->stop(); });
  }
}

}  // namespace nsqd::core
