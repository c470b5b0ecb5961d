#include "nsq_bench/runner.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include <signal.h>

#include "nsq_bench/consumer.hpp"
#include "nsq_bench/payload.hpp"
#include "nsq_bench/publisher.hpp"
#include "nsq_bench/wire.hpp"

namespace nsqd::nsq_bench {

namespace {

// Blocks SIGINT/SIGTERM on this thread (and the threads it starts) while alive.
class blocked_signals {
 public:
  blocked_signals() {
    sigemptyset(&_set);
    sigaddset(&_set, SIGINT);
    sigaddset(&_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &_set, &_old);
  }
  ~blocked_signals() { pthread_sigmask(SIG_SETMASK, &_old, nullptr); }
  // Waits up to `ms` for one of them; true if one came.
  bool wait(long ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1000000};
    return sigtimedwait(&_set, nullptr, &ts) > 0;
  }

 private:
  sigset_t _set, _old;
};

std::vector<publisher_plan> plan_publishers(const bench_options& o, std::uint64_t start) {
  std::vector<publisher_plan> plans(o.publishers);
  double rate = o.rate ? double(o.rate) / o.publishers : 0;
  for (unsigned p = 0; p < o.publishers; ++p) {
    publisher_plan& pl = plans[p];
    pl.index = p;
    if (o.count) pl.quota = *o.count / o.publishers + (p < *o.count % o.publishers ? 1 : 0);
    if (o.duration) pl.deadline_ns = start + std::uint64_t(o.duration->count());
    pl.rate = rate;
    // Spread paced publishers over one batch interval instead of bursting together.
    if (rate > 0) pl.first_send_ns = start + std::uint64_t(o.batch / rate * 1e9 * p / o.publishers);
  }
  return plans;
}

void progress(const bench_options& o, const run_state& s, std::uint64_t& last_pub,
              std::uint64_t& last_sub, std::uint64_t elapsed_s) {
  std::uint64_t pub = s.published.load(std::memory_order_relaxed);
  std::uint64_t sub = s.received.load(std::memory_order_relaxed);
  std::fprintf(stderr, "[%4llus]", (unsigned long long)elapsed_s);
  if (o.mode != run_mode::sub)
    std::fprintf(stderr, "  pub %9llu msgs/s", (unsigned long long)(pub - last_pub));
  if (o.mode != run_mode::pub)
    std::fprintf(stderr, "  sub %9llu msgs/s", (unsigned long long)(sub - last_sub));
  if (o.mode == run_mode::both) {
    std::uint64_t fresh = s.fresh.load(std::memory_order_relaxed);
    std::fprintf(stderr, "  backlog %llu", (unsigned long long)(pub > fresh ? pub - fresh : 0));
  }
  std::fputc('\n', stderr);
  last_pub = pub;
  last_sub = sub;
}

}  // namespace

bench_summary run(const bench_options& o) {
  blocked_signals signals;
  std::uint32_t run_id = std::random_device()();
  unsigned consumers = o.mode == run_mode::pub ? 0 : o.consumers;
  unsigned publishers = o.mode == run_mode::sub ? 0 : o.publishers;
  run_state state(run_id, now_ns(), consumers);
  if (o.tls) state.tls = insecure_tls_context();

  std::vector<std::unique_ptr<consumer_result>> cons;
  std::vector<publisher_result> pubs(publishers);
  std::atomic<unsigned> consumers_left{consumers}, publishers_left{publishers};
  std::vector<std::jthread> threads;
  for (unsigned i = 0; i < consumers; ++i) {
    cons.push_back(std::make_unique<consumer_result>());
    threads.emplace_back([&o, &state, &consumers_left, i, r = cons.back().get()] {
      run_consumer(o, i, state, *r);
      consumers_left.fetch_sub(1);
    });
  }
  // Pacing and deadlines start once the consumers are in; plan in the first publisher thread.
  std::vector<publisher_plan> plans;
  std::once_flag planned;
  for (unsigned p = 0; p < publishers; ++p) {
    threads.emplace_back([&, p] {
      state.subscribed.wait();
      std::call_once(planned, [&] { plans = plan_publishers(o, now_ns()); });
      pubs[p] = run_publisher(o, plans[p], state);
      if (publishers_left.fetch_sub(1) == 1) {
        state.publishing_done_ns.store(now_ns(), std::memory_order_relaxed);
        state.publishing_done.store(true, std::memory_order_release);
      }
    });
  }

  bench_summary s;
  s.run_id = run_id;
  std::uint64_t last_pub = 0, last_sub = 0, ticks = 0;
  while (consumers_left.load() + publishers_left.load() > 0) {
    if (signals.wait(100)) {
      if (s.interrupted) state.abort.store(true);  // second signal: stop waiting for answers
      s.interrupted = true;
      state.stop.store(true);
    }
    if (++ticks % 10 == 0 && !o.quiet && !o.json)
      progress(o, state, last_pub, last_sub, ticks / 10);
  }
  threads.clear();  // joins

  std::uint64_t first = UINT64_MAX, last = 0;
  for (const publisher_result& p : pubs) {
    s.published += p.acked;
    s.pub_commands += p.commands;
    if (p.first_send_ns) first = std::min(first, p.first_send_ns);
    last = std::max(last, p.last_ack_ns);
    if (!p.error.empty())
      s.errors.push_back("publisher " + std::to_string(p.index) + ": " + p.error);
  }
  s.pub_window_ns = last > first ? last - first : 0;

  first = UINT64_MAX;
  last = 0;
  sequence_tracker all;
  for (unsigned i = 0; i < cons.size(); ++i) {
    consumer_result& c = *cons[i];
    s.received += c.messages;
    s.received_bytes += c.body_bytes;
    s.duplicates += c.duplicates + all.merge(c.seen);
    s.foreign += c.foreign;
    s.redelivered += c.redelivered;
    s.fin_failed += c.fin_failed;
    s.clock_skew += c.clock_skew;
    s.latency.merge(c.latency);
    if (i == 0) s.rdy = c.rdy;
    if (c.first_receive_ns) first = std::min(first, c.first_receive_ns);
    last = std::max(last, c.last_receive_ns);
    if (!c.error.empty()) s.errors.push_back("consumer " + std::to_string(i) + ": " + c.error);
  }
  s.sub_window_ns = last > first ? last - first : 0;
  s.unique = all.unique();
  if (o.mode == run_mode::both) {
    std::uint64_t lost = 0;
    for (const publisher_result& p : pubs) lost += all.missing(run_id, p.index, p.acked);
    s.lost = lost;
  } else if (o.mode == run_mode::sub && o.count) {
    s.lost = s.unique < *o.count ? *o.count - s.unique : 0;
  }
  return s;
}

}  // namespace nsqd::nsq_bench
