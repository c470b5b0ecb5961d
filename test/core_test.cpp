#define BOOST_TEST_MODULE core
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/io.hpp"
#include "core/log.hpp"
#include "core/runtime.hpp"
#include "core/signals.hpp"
#include "core/syscheck.hpp"
#include "core/task.hpp"
#include "core/task_group.hpp"
#include "test/support/coro_test.hpp"

// task<T> and task_group on one reactor; signals and syscheck.

using namespace nsqd::core;
using namespace std::chrono_literals;

namespace {

// Symmetric transfer is a tail call only in optimised builds without ASan: GCC 12 emits the
// resume as a plain call at -O0 and under ASan's use-after-scope checks, where deep chains and
// long loops of synchronous awaits use stack. There the depths stay modest.
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__)
constexpr long deep_chain = 100'000, long_loop = 1'000'000;
#else
constexpr long deep_chain = 1'000, long_loop = 1'000;
#endif

// Counts live instances, so a test can see that every frame holding one was freed.
struct tracked {
  int* live;
  explicit tracked(int* l) : live(l) { ++*live; }
  tracked(const tracked& o) : live(o.live) { ++*live; }
  tracked(tracked&& o) noexcept : live(o.live) { ++*live; }
  tracked& operator=(const tracked&) = delete;
  ~tracked() { --*live; }
};

// A socket pair whose ends close when the test ends.
struct socket_pair {
  int fd[2] = {-1, -1};
  socket_pair() {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) != 0)
      throw std::runtime_error("socketpair");
  }
  ~socket_pair() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
};

task<int> answer() { co_return 42; }
task<int> add_one(int x) { co_return x + 1; }
task<void> set_flag(bool* flag) {
  *flag = true;
  co_return;
}
task<void> fail_now() {
  throw std::runtime_error("boom");
  co_return;
}
task<int> fail_int() {
  throw std::logic_error("bad int");
  co_return 0;
}
task<void> sleeper(int* done, std::chrono::milliseconds d) {
  int rc = co_await sleep_for(d);
  *done = rc == 0 ? 1 : rc;
}
task<void> shielded_sleeper(int* done, std::chrono::milliseconds d) {
  co_await shielded(sleeper(done, d));
}
task<void> receiver(int fd, int* result) {
  char buf[16];
  *result = co_await recv(fd, buf, sizeof buf);
}
task<void> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await sleep_for(d);
  throw std::runtime_error(what);
}
// Fails only once cancelled: the second error of a group, which join must not report.
task<void> fail_when_cancelled(int* slept) {
  *slept = co_await sleep_for(10s);
  throw std::runtime_error("second");
}

task<std::unique_ptr<int>> make_unique_int(int v) { co_return std::make_unique<int>(v); }

task<long> depth(long n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await depth(n - 1);
}
task<long> depth_throw(long n) {
  if (n == 0) throw std::runtime_error("deep");
  co_return 1 + co_await depth_throw(n - 1);
}

task<int> guarded(tracked t, bool* ran) {
  *ran = true;
  co_return *t.live;
}

task<void> counted_child(int* live, int* ended) {
  tracked guard(live);
  co_await yield_now();
  ++*ended;
}

task<void> nested_inner(int fd, int* result, bool* inner_cancelled) {
  task_group inner{co_await this_context()};
  inner.spawn(receiver(fd, result));
  co_await inner.join();
  *inner_cancelled = inner.cancelled();
}

task<void> sleep_then_cancel(task_group* g, std::chrono::milliseconds d) {
  co_await sleep_for(d);
  g->cancel();
}

task<void> record_context(promise_context* out) {
  *out = co_await this_context();
}

}  // namespace

// ---- task<T> -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(tasks)

CORO_TEST_CASE(task_returns_values) {
  BOOST_TEST(co_await answer() == 42);
  BOOST_TEST(co_await add_one(co_await answer()) == 43);
}

CORO_TEST_CASE(task_void_runs_its_body) {
  bool flag = false;
  task<void> t = set_flag(&flag);
  BOOST_TEST(!flag);  // lazy: nothing runs before co_await
  co_await std::move(t);
  BOOST_TEST(flag);
}

CORO_TEST_CASE(task_rethrows_at_await) {
  bool caught = false;
  try {
    co_await fail_now();
  } catch (const std::runtime_error& e) {
    caught = std::string(e.what()) == "boom";
  }
  BOOST_TEST(caught);

  bool caught_logic = false;
  try {
    (void)co_await fail_int();
  } catch (const std::logic_error& e) {
    caught_logic = std::string(e.what()) == "bad int";
  }
  BOOST_TEST(caught_logic);
}

CORO_TEST_CASE(task_moves_move_only_results) {
  std::unique_ptr<int> p = co_await make_unique_int(7);
  BOOST_REQUIRE(p);
  BOOST_TEST(*p == 7);
}

CORO_TEST_CASE(deep_await_chain_uses_no_stack) {
  // 100k nested frames: without symmetric transfer this overflows an 8 MB stack.
  BOOST_TEST(co_await depth(deep_chain) == deep_chain);
  bool caught = false;
  try {
    (void)co_await depth_throw(deep_chain);
  } catch (const std::runtime_error& e) {
    caught = std::string(e.what()) == "deep";
  }
  BOOST_TEST(caught);
}

CORO_TEST_CASE(long_loop_of_synchronous_awaits) {
  // Each await completes at once; with symmetric transfer the loop does not nest.
  long sum = 0;
  for (long i = 0; i < long_loop; ++i) sum += co_await add_one(int(i)) - int(i);
  BOOST_TEST(sum == long_loop);
}

CORO_TEST_CASE(context_is_inherited_from_the_awaiter) {
  promise_context root = co_await this_context();
  BOOST_TEST(root.shard != nullptr);
  BOOST_TEST(root.shard->shard_id() == 0u);
  promise_context child{};
  co_await record_context(&child);
  BOOST_TEST(child.shard == root.shard);
  BOOST_TEST(child.cancel == root.cancel);

  task_group g{root};
  promise_context in_group{};
  g.spawn(record_context(&in_group));
  co_await g.join();
  BOOST_TEST(in_group.shard == root.shard);
  BOOST_TEST(in_group.cancel != nullptr);
  BOOST_TEST(in_group.cancel != root.cancel);
}

namespace {
// One in_lanes job: counts how many run at once, and fails at `fail_at`.
task<void> lane_job(std::size_t i, int* running, int* most, std::vector<int>* done, std::size_t fail_at) {
  ++*running;
  *most = std::max(*most, *running);
  co_await sleep_for(std::chrono::milliseconds(1 + i % 3));
  --*running;
  if (i == fail_at) throw std::runtime_error("job failed");
  (*done)[i] += 1;
}
}  // namespace

CORO_TEST_CASE(in_lanes_runs_every_job_once_with_at_most_lanes_at_once) {
  for (auto [n, lanes] : {std::pair<std::size_t, std::size_t>{50, 8}, {3, 10}, {0, 4}, {7, 1}}) {
    int running = 0, most = 0;
    std::vector<int> done(n, 0);
    co_await in_lanes(n, lanes, [&](std::size_t i) { return lane_job(i, &running, &most, &done, std::size_t(-1)); });
    BOOST_TEST(std::count(done.begin(), done.end(), 1) == std::ptrdiff_t(n));
    BOOST_TEST(most == int(std::min(n, lanes)));
    BOOST_TEST(running == 0);
  }
  // A failing job: the first error comes back once the lanes have ended.
  int running = 0, most = 0;
  std::vector<int> done(20, 0);
  bool thrown = false;
  try {
    co_await in_lanes(20, 4, [&](std::size_t i) { return lane_job(i, &running, &most, &done, 5); });
  } catch (const std::runtime_error& e) {
    thrown = std::string(e.what()) == "job failed";
  }
  BOOST_TEST(thrown);
  BOOST_TEST(running == 0);
  BOOST_TEST(done[5] == 0);
}

BOOST_AUTO_TEST_CASE(never_awaited_task_frees_its_frame) {
  int live = 0;
  bool ran = false;
  {
    task<int> t = guarded(tracked(&live), &ran);
    BOOST_TEST(live == 1);  // the parameter copy in the frame
    BOOST_TEST(t.valid());
  }
  BOOST_TEST(live == 0);
  BOOST_TEST(!ran);

  // Move-assigning over a task frees the frame it held.
  task<int> a = guarded(tracked(&live), &ran);
  task<int> b = guarded(tracked(&live), &ran);
  BOOST_TEST(live == 2);
  a = std::move(b);
  BOOST_TEST(live == 1);
  BOOST_TEST(a.valid());
  BOOST_TEST(!b.valid());
  a = task<int>{};
  BOOST_TEST(live == 0);
  BOOST_TEST(!ran);
}

BOOST_AUTO_TEST_CASE(reactor_run_returns_and_rethrows) {
  logger log("[test] ", log_level::warn);
  reactor r({}, log);
  BOOST_TEST(r.run(answer()) == 42);
  BOOST_CHECK_THROW(r.run(fail_now()), std::runtime_error);
  // The reactor stays usable after a root failed.
  BOOST_TEST(r.run(add_one(1)) == 2);
  auto p = r.run(make_unique_int(3));
  BOOST_TEST(*p == 3);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- task_group ------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(groups)

CORO_TEST_CASE(join_with_no_children) {
  task_group g{co_await this_context()};
  BOOST_TEST(g.size() == 0u);
  co_await g.join();
  BOOST_TEST(!g.cancelled());
}

CORO_TEST_CASE(join_with_one_child) {
  bool flag = false;
  task_group g{co_await this_context()};
  g.spawn(set_flag(&flag));
  BOOST_TEST(!flag);  // spawn never runs the child inline
  BOOST_TEST(g.size() == 1u);
  co_await g.join();
  BOOST_TEST(flag);
  BOOST_TEST(g.size() == 0u);
}

CORO_TEST_CASE(group_join_waits_for_children) {
  int a = 0, b = 0;
  task_group g{co_await this_context()};
  g.spawn(sleeper(&a, 20ms));
  g.spawn(sleeper(&b, 1ms));
  BOOST_TEST(g.size() == 2u);
  auto t0 = clock::now();
  co_await g.join();
  BOOST_TEST(a == 1);
  BOOST_TEST(b == 1);
  BOOST_TEST((clock::now() - t0) >= 20ms);
}

CORO_TEST_CASE(group_first_failure_cancels_siblings) {
  socket_pair sp;
  int slow = 0, received = 0;
  task_group g{co_await this_context()};
  g.spawn(sleeper(&slow, 10s));
  g.spawn(receiver(sp.fd[0], &received));
  g.spawn(fail_after(10ms, "first"));
  auto t0 = clock::now();
  std::string caught;
  try {
    co_await g.join();
  } catch (const std::runtime_error& e) {
    caught = e.what();
  }
  BOOST_TEST(caught == "first");
  BOOST_TEST(slow == -ECANCELED);
  BOOST_TEST(received == -ECANCELED);
  BOOST_TEST(g.cancelled());
  BOOST_TEST((clock::now() - t0) < 5s);
}

CORO_TEST_CASE(join_rethrows_only_the_first_error) {
  int slept = 0;
  task_group g{co_await this_context()};
  g.spawn(fail_when_cancelled(&slept));
  g.spawn(fail_after(5ms, "first"));
  std::string caught;
  int errors = 0;
  try {
    co_await g.join();
  } catch (const std::runtime_error& e) {
    caught = e.what();
    ++errors;
  }
  BOOST_TEST(errors == 1);
  BOOST_TEST(caught == "first");
  BOOST_TEST(slept == -ECANCELED);  // the second child ran to its throw
  BOOST_TEST(g.size() == 0u);
}

CORO_TEST_CASE(cancel_is_not_a_failure) {
  socket_pair sp;
  int slow = 0, received = 0;
  task_group g{co_await this_context()};
  g.spawn(sleeper(&slow, 10s));
  g.spawn(receiver(sp.fd[0], &received));
  co_await sleep_for(10ms);  // both are waiting now
  g.cancel();
  BOOST_TEST(g.cancelled());
  bool threw = false;
  try {
    co_await g.join();
  } catch (...) {
    threw = true;
  }
  BOOST_TEST(!threw);
  BOOST_TEST(slow == -ECANCELED);
  BOOST_TEST(received == -ECANCELED);
  g.cancel();  // twice is harmless
}

// core::shielded: the child runs to its end although the group around it is cancelled.
CORO_TEST_CASE(shielded_child_ignores_cancellation) {
  int shielded_result = 0, plain_result = 0;
  task_group g{co_await this_context()};
  g.spawn(shielded_sleeper(&shielded_result, 50ms));
  g.spawn(sleeper(&plain_result, 10s));
  co_await sleep_for(10ms);
  auto t0 = clock::now();
  g.cancel();
  co_await g.join();
  BOOST_TEST(plain_result == -ECANCELED);
  BOOST_TEST(shielded_result == 1);  // its sleep ran out
  BOOST_TEST((clock::now() - t0) >= 30ms);
}

CORO_TEST_CASE(cancelling_the_outer_group_cancels_the_inner_groups_io) {
  socket_pair sp;
  int received = 0;
  bool inner_cancelled = false;
  task_group outer{co_await this_context()};
  outer.spawn(nested_inner(sp.fd[0], &received, &inner_cancelled));
  outer.spawn(sleep_then_cancel(&outer, 10ms));
  auto t0 = clock::now();
  co_await outer.join();
  BOOST_TEST(received == -ECANCELED);
  BOOST_TEST(inner_cancelled);
  BOOST_TEST((clock::now() - t0) < 5s);
}

CORO_TEST_CASE(inner_group_of_a_cancelled_outer_starts_cancelled) {
  socket_pair sp;
  int received = 0;
  bool inner_cancelled = false;
  task_group outer{co_await this_context()};
  outer.cancel();
  outer.spawn(nested_inner(sp.fd[0], &received, &inner_cancelled));
  co_await outer.join();
  BOOST_TEST(received == -ECANCELED);
  BOOST_TEST(inner_cancelled);
}

CORO_TEST_CASE(spawn_after_cancel_runs_the_child_cancelled) {
  socket_pair sp;
  int slow = 0, received = 0;
  bool flag = false;
  task_group g{co_await this_context()};
  g.cancel();
  g.spawn(sleeper(&slow, 10s));
  g.spawn(receiver(sp.fd[0], &received));
  g.spawn(set_flag(&flag));
  auto t0 = clock::now();
  co_await g.join();
  BOOST_TEST(slow == -ECANCELED);
  BOOST_TEST(received == -ECANCELED);
  BOOST_TEST(flag);  // a child runs; only its waits are cut short
  BOOST_TEST((clock::now() - t0) < 5s);
}

CORO_TEST_CASE(group_of_ten_thousand_short_children) {
  int live = 0, ended = 0;
  {
    task_group g{co_await this_context()};
    for (int i = 0; i < 10'000; ++i) g.spawn(counted_child(&live, &ended));
    BOOST_TEST(g.size() == 10'000u);
    co_await g.join();
    BOOST_TEST(g.size() == 0u);
  }
  BOOST_TEST(ended == 10'000);
  BOOST_TEST(live == 0);  // every child frame was freed
}

CORO_TEST_CASE(group_can_be_joined_again_after_more_spawns) {
  int a = 0, b = 0;
  task_group g{co_await this_context()};
  g.spawn(sleeper(&a, 1ms));
  co_await g.join();
  g.spawn(sleeper(&b, 1ms));
  co_await g.join();
  BOOST_TEST(a == 1);
  BOOST_TEST(b == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- signals and start-up checks ---------------------------------------------------------------

namespace {

task<void> raise_after(int sig, std::chrono::milliseconds d) {
  co_await sleep_for(d);
  ::kill(::getpid(), sig);
}

task<void> watch_once(signal_watch* w, int* out) { *out = co_await w->next(); }

task<std::vector<int>> signal_main() {
  std::vector<int> seen;
  signal_watch watch;
  task_group g{co_await this_context()};
  g.spawn(raise_after(SIGTERM, 10ms));
  seen.push_back(co_await watch.next());
  co_await g.join();
  // A signal already pending when next() is called.
  ::kill(::getpid(), SIGHUP);
  seen.push_back(co_await watch.next());
  // A read in flight ends with -ECANCELED when its group is cancelled.
  int cancelled = 0;
  task_group g2{co_await this_context()};
  g2.spawn(watch_once(&watch, &cancelled));
  g2.spawn(sleep_then_cancel(&g2, 10ms));
  co_await g2.join();
  seen.push_back(cancelled);
  co_return seen;
}

}  // namespace

BOOST_AUTO_TEST_CASE(signal_watch_reports_sigterm_and_sighup) {
  // The mask must be in place before the runtime's threads start; it stays for the rest of
  // the process, which is harmless for the other tests.
  block_stop_signals();
  logger log("[test] ", log_level::warn);
  runtime rt(2, log);
  std::vector<int> seen = rt.run([] { return signal_main(); });
  BOOST_REQUIRE(seen.size() == 3u);
  BOOST_TEST(seen[0] == SIGTERM);
  BOOST_TEST(seen[1] == SIGHUP);
  BOOST_TEST(seen[2] == -ECANCELED);
}

namespace {
std::string drain(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(logger_writes_upstream_lines_and_filters_by_level) {
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
  logger log("[nsqd] ", log_level::info, p[1]);
  log.debug("hidden");
  log.info("hello ", 42, ' ', 1.5);
  log.warn("careful");
  log.error("bad: ", std::string("thing"));
  log.set_level(log_level::error);
  BOOST_TEST((log.level() == log_level::error));
  BOOST_TEST(!log.enabled(log_level::warn));
  log.warn("hidden too");
  log.fatal("fatal is always written");
  std::string out = drain(p[0]);
  ::close(p[0]);
  ::close(p[1]);
  std::vector<std::string> lines;
  for (size_t start = 0; start < out.size();) {
    size_t nl = out.find('\n', start);
    BOOST_REQUIRE(nl != std::string::npos);
    lines.push_back(out.substr(start, nl - start));
    start = nl + 1;
  }
  BOOST_REQUIRE(lines.size() == 4u);
  // [nsqd] 2026/11/23 10:21:33.123456 INFO: text
  const std::regex line(R"(\[nsqd\] \d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} ([A-Z]+): (.*))");
  const char* levels[] = {"INFO", "WARNING", "ERROR", "FATAL"};
  const char* texts[] = {"hello 42 1.5", "careful", "bad: thing", "fatal is always written"};
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    BOOST_TEST_REQUIRE(std::regex_match(lines[i], m, line), lines[i]);
    BOOST_TEST(m[1].str() == levels[i]);
    BOOST_TEST(m[2].str() == texts[i]);
  }
  BOOST_TEST(to_string(log_level::debug) == "DEBUG");
}

BOOST_AUTO_TEST_CASE(io_uring_is_usable_here) {
  auto problem = io_uring_problem();
  BOOST_TEST(!problem.has_value(), (problem ? *problem : std::string()));
}
