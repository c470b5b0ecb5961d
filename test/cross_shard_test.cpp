#include <boost/test/unit_test.hpp>

#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/cross_shard.hpp"
#include "core/io.hpp"
#include "core/runtime.hpp"
#include "core/sharded.hpp"
#include "core/task_group.hpp"

// Cross-shard calls, sharded<T> and the runtime's threads. Boost.Test assertions run only on
// shard 0 (or after run() returned): Boost.Test is not thread-safe, and shard 0 is the only
// shard thread touching it while the test's own thread waits in run().

using namespace nsqd::core;
using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool slow_build = true;
#else
constexpr bool slow_build = false;
#endif

const logger& quiet_log() {
  static const logger log("[test] ", log_level::warn);
  return log;
}

task<unsigned> whoami() {
  promise_context ctx = co_await this_context();
  co_return ctx.shard->shard_id();
}

task<int> remote_fail() {
  co_await yield_now();
  throw std::runtime_error("remote task");
}

task<void> remote_void_task(int* out) {
  co_await yield_now();
  *out = int(co_await whoami());
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

BOOST_AUTO_TEST_SUITE(cross_shard)

BOOST_AUTO_TEST_CASE(on_shard_runs_on_the_target_with_more_shards_than_cpus) {
  runtime rt(4, quiet_log());
  BOOST_TEST(rt.shards() == 4u);
  int sum = rt.run([&] { return cross_main(4); });
  BOOST_TEST(sum == 60);
}

namespace {
task<void> kinds_main() {
  // A value, computed on the target.
  unsigned where = co_await on_shard(2, [] { return 7u; });
  BOOST_TEST(where == 7u);
  // A task, run as a coroutine of the target.
  BOOST_TEST(co_await on_shard(3, [] { return whoami(); }) == 3u);
  // void, both ways; references captured by the caller are safe while it waits.
  int x = 0;
  co_await on_shard(1, [&x] { x = 5; });
  BOOST_TEST(x == 5);
  int y = -1;
  co_await on_shard(2, [&y] { return remote_void_task(&y); });
  BOOST_TEST(y == 2);
  // A move-only result.
  std::unique_ptr<int> p = co_await on_shard(3, [] { return std::make_unique<int>(9); });
  BOOST_REQUIRE(p);
  BOOST_TEST(*p == 9);
  // Exceptions, from a plain function and from a task, rethrown here.
  std::string caught;
  try {
    (void)co_await on_shard(1, []() -> int { throw std::invalid_argument("remote fn"); });
  } catch (const std::invalid_argument& e) {
    caught = e.what();
  }
  BOOST_TEST(caught == "remote fn");
  caught.clear();
  try {
    (void)co_await on_shard(2, [] { return remote_fail(); });
  } catch (const std::runtime_error& e) {
    caught = e.what();
  }
  BOOST_TEST(caught == "remote task");
  // The caller resumes on its own shard.
  BOOST_TEST(co_await whoami() == 0u);
  // On the caller's own shard fn runs inline.
  BOOST_TEST(co_await on_shard(0, [] { return whoami(); }) == 0u);
  bool inline_ran = false;
  co_await on_shard(0, [&inline_ran] { inline_ran = true; });
  BOOST_TEST(inline_ran);
  caught.clear();
  try {
    co_await on_shard(0, [] { throw std::runtime_error("local"); });
  } catch (const std::runtime_error& e) {
    caught = e.what();
  }
  BOOST_TEST(caught == "local");
}
}  // namespace

BOOST_AUTO_TEST_CASE(on_shard_values_tasks_void_and_exceptions) {
  runtime rt(4, quiet_log());
  rt.run([] { return kinds_main(); });
}

// ---- many concurrent calls: every shard to every other, well past the SPSC ring's size ----------

namespace {

struct load_plan {
  unsigned shards;
  int workers;     // concurrent callers per (caller, target) pair
  int calls_each;  // sequential calls per caller
};

task<void> load_worker(unsigned target, int calls, std::vector<long>* hits, long* sum) {
  for (int i = 0; i < calls; ++i) {
    if (i % 2 == 0) {
      // A plain function: counts on the target (only the target's thread touches its slot).
      *sum += co_await on_shard(target, [hits, target] { return ++(*hits)[target], long(target); });
    } else {
      // A task on the target.
      *sum += long(co_await on_shard(target, [] { return whoami(); }));
    }
  }
}

// Runs on one shard: calls every other shard from many coroutines at once.
task<long> fan_out(load_plan plan, std::vector<long>* hits) {
  promise_context ctx = co_await this_context();
  unsigned me = ctx.shard->shard_id();
  long sum = 0;
  task_group g{ctx};
  for (unsigned t = 0; t < plan.shards; ++t) {
    if (t == me) continue;
    for (int w = 0; w < plan.workers; ++w) g.spawn(load_worker(t, plan.calls_each, hits, &sum));
  }
  co_await g.join();
  co_return sum;
}

task<void> fan_out_from(unsigned shard, load_plan plan, std::vector<long>* hits, long* sum) {
  *sum = co_await on_shard(shard, [plan, hits] { return fan_out(plan, hits); });
}

task<void> load_main(load_plan plan, std::vector<long>* hits, std::vector<long>* sums) {
  task_group g{co_await this_context()};
  for (unsigned s = 0; s < plan.shards; ++s) g.spawn(fan_out_from(s, plan, hits, &(*sums)[s]));
  co_await g.join();
}

}  // namespace

BOOST_AUTO_TEST_CASE(many_concurrent_calls_between_all_shards) {
  // 2000 callers per pair put ~2000 items in flight per ring of 1024: the overflow path runs.
  load_plan plan{4, 2000, slow_build ? 10 : 50};
  const long per_pair = long(plan.workers) * plan.calls_each;
  std::vector<long> hits(plan.shards, 0), sums(plan.shards, 0);
  runtime rt(plan.shards, quiet_log());
  auto t0 = std::chrono::steady_clock::now();
  rt.run([&] { return load_main(plan, &hits, &sums); });
  BOOST_TEST_MESSAGE("cross-shard calls: " << per_pair * 12 << " in "
                     << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                     << " s");
  for (unsigned t = 0; t < plan.shards; ++t) {
    // Every other shard made per_pair calls to t; half of them were plain functions.
    BOOST_TEST(hits[t] == long(plan.shards - 1) * per_pair / 2);
  }
  for (unsigned s = 0; s < plan.shards; ++s) {
    long expect = 0;
    for (unsigned t = 0; t < plan.shards; ++t)
      if (t != s) expect += long(t) * per_pair;
    BOOST_TEST(sums[s] == expect);
  }
}

// ---- replies in overflow while the caller's shard is blocked ---------------------------------

namespace {

// On the target: ends at a common deadline, so thousands of replies are sent in one burst.
task<int> finish_at(clock::time_point when) {
  co_await sleep_for(std::chrono::duration_cast<std::chrono::nanoseconds>(when - clock::now()));
  co_return 1;
}

task<void> call_finish_at(unsigned n, clock::time_point when, int* done) {
  *done += co_await on_shard(n, [when] { return finish_at(when); });
}

// Blocks this shard's thread (no loop turns) across the burst.
task<void> block_thread_at(clock::time_point when, std::chrono::milliseconds how_long) {
  co_await sleep_for(std::chrono::duration_cast<std::chrono::nanoseconds>(when - clock::now()));
  std::this_thread::sleep_for(how_long);
}

task<void> poke(unsigned n) { co_await on_shard(n, [] {}); }

// If the replies are stuck, flags it and keeps sending calls to shard `n`: each one wakes it
// to push another ring's worth, so a broken build fails the test instead of hanging.
// (The named result is needed: GCC 12.2 miscompiles a coroutine that declares no variable
// and has a co_await in a condition.)
task<void> watchdog(unsigned n, task_group* pokes, bool* fired) {
  int rc = co_await sleep_for(5s);
  if (rc != 0) co_return;
  *fired = true;
  while (rc == 0) {
    rc = co_await sleep_for(1ms);
    if (rc == 0) pokes->spawn(poke(n));
  }
}

task<void> done_waiter(task_group* calls, task_group* guard) {
  co_await calls->join();
  guard->cancel();
}

task<void> burst_main(int callers, int* done, bool* watchdog_fired) {
  auto when = clock::now() + 200ms;
  task_group pokes{co_await this_context()};
  task_group guard{co_await this_context()};
  task_group calls{co_await this_context()};
  for (int i = 0; i < callers; ++i) calls.spawn(call_finish_at(1, when, done));
  guard.spawn(block_thread_at(when - 20ms, 300ms));
  guard.spawn(watchdog(1, &pokes, watchdog_fired));
  guard.spawn(done_waiter(&calls, &guard));
  co_await guard.join();
  co_await calls.join();
  co_await pokes.join();
}

}  // namespace

BOOST_AUTO_TEST_CASE(replies_beyond_the_ring_reach_a_caller_that_was_blocked) {
  // Shard 1 finishes 5000 calls while shard 0 cannot drain: 1024 replies fit in the ring, the
  // rest wait in shard 1's overflow. Shard 0's callers then end without sending anything
  // more to shard 1, so only the ring's drain can tell shard 1 to push the rest.
  int done = 0;
  bool watchdog_fired = false;
  runtime rt(2, quiet_log());
  rt.run([&] { return burst_main(5000, &done, &watchdog_fired); });
  BOOST_TEST(!watchdog_fired);
  BOOST_TEST(done == 5000);
}

// ---- cancellation across shards ------------------------------------------------------------

namespace {

task<int> remote_sleep(std::chrono::milliseconds d, int* seen) {
  int rc = co_await sleep_for(d);
  *seen = rc;  // on the target; read by the caller after the call returned
  co_return rc;
}

task<void> call_remote_sleep(unsigned n, std::chrono::milliseconds d, int* seen, int* result) {
  *result = co_await on_shard(n, [d, seen] { return remote_sleep(d, seen); });
}

task<int> remote_recv(int fd) {
  char buf[8];
  int n = co_await recv(fd, buf, sizeof buf);
  co_return n;
}

task<void> call_remote_recv(unsigned n, int fd, int* result) {
  *result = co_await on_shard(n, [fd] { return remote_recv(fd); });
}

task<void> cancel_after(task_group* g, std::chrono::milliseconds d) {
  co_await sleep_for(d);
  g->cancel();
}

task<void> remote_cancel_main() {
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  int seen = 0, result = 0, received = 0;
  auto t0 = clock::now();
  {
    task_group g{co_await this_context()};
    g.spawn(call_remote_sleep(1, 10s, &seen, &result));
    g.spawn(call_remote_recv(2, sv[0], &received));
    g.spawn(cancel_after(&g, 20ms));
    co_await g.join();
  }
  BOOST_TEST(seen == -ECANCELED);
  BOOST_TEST(result == -ECANCELED);
  BOOST_TEST(received == -ECANCELED);
  BOOST_TEST((clock::now() - t0) < 5s);

  // A call made from an already-cancelled group reaches the target cancelled.
  seen = result = 0;
  {
    task_group g{co_await this_context()};
    g.cancel();
    g.spawn(call_remote_sleep(3, 10s, &seen, &result));
    co_await g.join();
  }
  BOOST_TEST(seen == -ECANCELED);
  BOOST_TEST(result == -ECANCELED);
  BOOST_TEST((clock::now() - t0) < 5s);

  // The socket is still usable on another shard after the cancelled remote recv.
  BOOST_TEST(::write(sv[1], "hi", 2) == 2);
  BOOST_TEST(co_await on_shard(3, [fd = sv[0]] { return remote_recv(fd); }) == 2);
  ::close(sv[0]);
  ::close(sv[1]);
}

// Cancellation racing completion: some remote sleeps end before the cancel, some after.
task<void> cancel_race_main() {
  constexpr int n = 400;
  std::vector<int> seen(n, 1), result(n, 1);
  task_group g{co_await this_context()};
  for (int i = 0; i < n; ++i)
    g.spawn(call_remote_sleep(unsigned(1 + i % 3), std::chrono::milliseconds(i % 5), &seen[size_t(i)],
                              &result[size_t(i)]));
  g.spawn(cancel_after(&g, 2ms));
  co_await g.join();
  int ok = 0, cancelled = 0;
  for (int i = 0; i < n; ++i) {
    BOOST_TEST(seen[size_t(i)] == result[size_t(i)]);
    if (result[size_t(i)] == 0) ++ok;
    if (result[size_t(i)] == -ECANCELED) ++cancelled;
  }
  BOOST_TEST(ok + cancelled == n);
}

}  // namespace

BOOST_AUTO_TEST_CASE(remote_task_is_cancelled_from_the_callers_group) {
  runtime rt(4, quiet_log());
  rt.run([] { return remote_cancel_main(); });
}

BOOST_AUTO_TEST_CASE(cancel_racing_remote_completion) {
  runtime rt(4, quiet_log());
  for (int round = 0; round < 5; ++round) rt.run([] { return cancel_race_main(); });
}

// ---- sharded<T> ----------------------------------------------------------------------------

namespace {

struct event {
  std::string what;
  unsigned shard;
  pid_t tid;
};

// Shared by the instances on every shard: the one thread-safe part of the test.
struct recorder {
  std::mutex m;
  std::vector<event> events;
  void add(std::string what, unsigned shard) {
    std::lock_guard lock(m);
    events.push_back({std::move(what), shard, ::gettid()});
  }
};

class service {
 public:
  service(reactor& shard, recorder* rec, int base) : _shard(shard), _rec(rec), _base(base) {
    _rec->add("ctor", _shard.shard_id());
  }
  ~service() { _rec->add("dtor", _shard.shard_id()); }
  int value() const { return _base + int(_shard.shard_id()); }
  task<int> value_later() {
    co_await yield_now();
    co_return value() * 2;
  }
  int hits = 0;

 private:
  reactor& _shard;
  recorder* _rec;
  int _base;
};

task<pid_t> tid_task() { co_return ::gettid(); }

task<void> sharded_main(unsigned shards, recorder* rec, std::vector<pid_t>* tids) {
  for (unsigned n = 0; n < shards; ++n) (*tids)[n] = co_await on_shard(n, [] { return tid_task(); });
  sharded<service> services(shards);
  BOOST_TEST(services.shards() == shards);
  co_await services.start(rec, 100);
  for (unsigned n = 0; n < shards; ++n) {
    BOOST_TEST(co_await services.invoke_on(n, [](service& s) { return s.value(); }) == 100 + int(n));
    BOOST_TEST(co_await services.invoke_on(n, [](service& s) { return s.value_later(); }) ==
               2 * (100 + int(n)));
  }
  co_await services.invoke_on_all([](service& s) { ++s.hits; });
  co_await services.invoke_on_all([](service& s) { ++s.hits; });
  for (unsigned n = 0; n < shards; ++n)
    BOOST_TEST(co_await services.invoke_on(n, [](service& s) { return s.hits; }) == 2);
  BOOST_TEST(services.local(0).value() == 100);
  // A failure on one shard is rethrown by invoke_on_all once every shard is done.
  std::string caught;
  try {
    co_await services.invoke_on_all([last = shards - 1](service& s) {
      ++s.hits;
      if (s.value() == 100 + int(last)) throw std::runtime_error("shard failed");
    });
  } catch (const std::runtime_error& e) {
    caught = e.what();
  }
  BOOST_TEST(caught == "shard failed");
  co_await services.stop();
}

void check_sharded_events(unsigned shards, const recorder& rec, const std::vector<pid_t>& tids) {
  std::vector<int> ctors(shards, 0), dtors(shards, 0);
  for (const event& e : rec.events) {
    BOOST_REQUIRE(e.shard < shards);
    BOOST_TEST(e.tid == tids[e.shard], e.what << " of shard " << e.shard << " on its own thread");
    (e.what == "ctor" ? ctors : dtors)[e.shard]++;
  }
  for (unsigned n = 0; n < shards; ++n) {
    BOOST_TEST(ctors[n] == 1);
    BOOST_TEST(dtors[n] == 1);
  }
  std::set<pid_t> distinct(tids.begin(), tids.end());
  BOOST_TEST(distinct.size() == shards);
}

}  // namespace

BOOST_AUTO_TEST_CASE(sharded_instances_live_on_their_own_shard) {
  constexpr unsigned shards = 4;
  recorder rec;
  std::vector<pid_t> tids(shards, 0);
  runtime rt(shards, quiet_log());
  rt.run([&] { return sharded_main(shards, &rec, &tids); });
  check_sharded_events(shards, rec, tids);
  BOOST_TEST(std::count(tids.begin(), tids.end(), ::gettid()) == 0);  // the caller only waits
}

// ---- the runtime's threads -------------------------------------------------------------------

namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

task<std::string> my_thread_name() { co_return read_first_line("/proc/thread-self/comm"); }

task<std::vector<int>> my_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  co_return cpus;
}

task<void> threads_main(unsigned shards, std::vector<int> allowed) {
  // Every shard thread of this process, by name, while the runtime runs.
  std::multiset<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task"))
    names.insert(read_first_line((entry.path() / "comm").string()));
  for (unsigned n = 0; n < shards; ++n) {
    std::string name = "shard-" + std::to_string(n);
    BOOST_TEST(names.count(name) == 1u, name << " is running");
    BOOST_TEST(co_await on_shard(n, [] { return my_thread_name(); }) == name);
    // Pinned to one CPU: the n-th allowed one, modulo their count.
    std::vector<int> cpus = co_await on_shard(n, [] { return my_cpus(); });
    BOOST_REQUIRE(cpus.size() == 1u);
    BOOST_TEST(cpus[0] == allowed[n % allowed.size()]);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(shard_threads_are_named_and_pinned) {
  std::vector<int> allowed;
  cpu_set_t set;
  CPU_ZERO(&set);
  BOOST_REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) allowed.push_back(c);
  runtime rt(4, quiet_log());
  rt.run([&] { return threads_main(4, allowed); });
}

namespace {
task<int> single_main(recorder* rec, std::vector<pid_t>* tids) {
  BOOST_TEST(co_await whoami() == 0u);
  BOOST_TEST(co_await on_shard(0, [] { return 41; }) == 41);
  BOOST_TEST(co_await on_shard(0, [] { return whoami(); }) == 0u);
  co_await sharded_main(1, rec, tids);
  co_return 1;
}
}  // namespace

BOOST_AUTO_TEST_CASE(runtime_with_one_shard) {
  recorder rec;
  std::vector<pid_t> tids(1, 0);
  runtime rt(1, quiet_log());
  BOOST_TEST(rt.shards() == 1u);
  BOOST_TEST(rt.run([&] { return single_main(&rec, &tids); }) == 1);
  check_sharded_events(1, rec, tids);
  runtime zero(0, quiet_log());  // 0 means 1
  BOOST_TEST(zero.shards() == 1u);
}

namespace {
task<int> failing_main() {
  co_await on_shard(1, [] { return 0; });
  throw std::runtime_error("main failed");
}
task<void> void_main(int* out) {
  *out = int(co_await on_shard(2, [] { return whoami(); }));
}
}  // namespace

BOOST_AUTO_TEST_CASE(runtime_rethrows_mains_error_and_stops_every_shard) {
  runtime rt(3, quiet_log());
  std::string caught;
  try {
    rt.run([] { return failing_main(); });
  } catch (const std::runtime_error& e) {
    caught = e.what();
  }
  BOOST_TEST(caught == "main failed");
  // The same runtime can run again; a void main is fine.
  int out = 0;
  rt.run([&] { return void_main(&out); });
  BOOST_TEST(out == 2);
}

BOOST_AUTO_TEST_CASE(runtime_stops_every_shard_when_making_main_throws) {
  // make_main itself fails (say, a bad configuration found while building the server): the
  // other shards must still be stopped, and run() rethrows.
  runtime rt(3, quiet_log());
  std::string caught;
  try {
    rt.run([]() -> task<int> { throw std::invalid_argument("bad config"); });
  } catch (const std::invalid_argument& e) {
    caught = e.what();
  }
  BOOST_TEST(caught == "bad config");
}

BOOST_AUTO_TEST_SUITE_END()
