#include "bench/runner.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "bench/load_client.hpp"
#include "bench/sockets.hpp"

namespace nsqd::bench {

namespace {

using steady = std::chrono::steady_clock;

struct listener_guard {
  listeners l;
  ~listener_guard() { close_all(l); }
};

double seconds(std::chrono::nanoseconds d) { return double(d.count()) / 1e9; }

std::chrono::nanoseconds process_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Waits until a one-second window in which the machine (minus this idle process) was below
// `limit` busy CPUs, or until `patience` ran out.
void wait_for_quiet(double limit, std::chrono::nanoseconds patience) {
  auto give_up = steady::now() + patience;
  while (steady::now() < give_up) {
    auto m0 = machine_cpu();
    auto t0 = steady::now();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (seconds(machine_cpu() - m0) / seconds(steady::now() - t0) < limit) return;
  }
}

std::unique_ptr<echo_server> start(server_kind kind, const listeners& l, size_t size,
                                   const bench_options& o) {
  return kind == server_kind::epoll ? start_epoll_server(l, size, o.edge_triggered, o.spin)
                                    : start_reactor_server(l, size, o.reactor_recv, o.spin);
}

}  // namespace

std::chrono::nanoseconds machine_cpu() {
  std::FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return {};
  unsigned long long v[8] = {};
  int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                      &v[4], &v[5], &v[6], &v[7]);
  std::fclose(f);
  if (n != 8) return {};
  // user nice system [idle iowait] irq softirq steal
  unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  long hz = sysconf(_SC_CLK_TCK);
  return std::chrono::nanoseconds(busy * (1'000'000'000LL / (hz > 0 ? hz : 100)));
}

sample run_once(server_kind kind, unsigned connections, size_t size, const bench_options& o) {
  listener_guard guard{make_listeners(o.shards)};
  std::unique_ptr<echo_server> server = start(kind, guard.l, size, o);
  load_client client(guard.l.port, connections, o.client_threads, size, o.shards);

  std::this_thread::sleep_for(o.warmup);
  auto t0 = steady::now();
  uint64_t c0 = client.completed();
  auto p0 = process_cpu();
  auto k0 = client.cpu_time();
  auto m0 = machine_cpu();
  std::this_thread::sleep_for(o.duration);
  auto t1 = steady::now();
  uint64_t c1 = client.completed();
  auto p1 = process_cpu();
  auto k1 = client.cpu_time();
  auto m1 = machine_cpu();

  client.stop();
  server->stop();

  sample s;
  double wall = seconds(t1 - t0);
  s.rate = double(c1 - c0) / wall;
  s.client_cpu = seconds(k1 - k0) / wall;
  s.server_cpu = seconds((p1 - p0) - (k1 - k0)) / wall;  // the main thread only sleeps
  s.others_cpu = std::max(0.0, seconds((m1 - m0) - (p1 - p0)) / wall);
  s.round_trips = client.completed();
  s.totals = server->totals();
  return s;
}

sample measure(server_kind kind, unsigned connections, size_t size, const bench_options& o) {
  for (int attempt = 1;; ++attempt) {
    sample s = run_once(kind, connections, size, o);
    if (o.max_other_load <= 0 || s.others_cpu <= o.max_other_load) return s;
    if (attempt == 3) {
      s.noisy = true;
      return s;
    }
    std::fprintf(stderr, "  (other load %.0f%% of a CPU during the run: waiting to retry)\n",
                 100 * s.others_cpu);
    wait_for_quiet(o.max_other_load, o.patience);
  }
}

int serve_alone(const bench_options& o) {
  server_kind kind = o.mode == run_mode::epoll ? server_kind::epoll : server_kind::reactor;
  listener_guard guard{make_listeners(o.shards, o.port)};
  std::unique_ptr<echo_server> server = start(kind, guard.l, o.sizes.front(), o);
  std::printf("listening on 127.0.0.1:%u\n", unsigned(guard.l.port));
  std::fflush(stdout);
  std::this_thread::sleep_for(o.duration);
  server->stop();
  reactor_totals t = server->totals();
  if (kind == server_kind::reactor)
    std::printf("reactor: loop_turns=%llu io_uring_enter=%llu cqes=%llu resumes=%llu\n",
                (unsigned long long)t.loop_turns, (unsigned long long)t.enters,
                (unsigned long long)t.cqes, (unsigned long long)t.resumes);
  return 0;
}

int connect_alone(const bench_options& o) {
  load_client client(o.port, o.connections.front(), o.client_threads, o.sizes.front(), o.shards);
  std::this_thread::sleep_for(o.warmup);
  auto t0 = steady::now();
  uint64_t c0 = client.completed();
  auto k0 = client.cpu_time();
  std::this_thread::sleep_for(o.duration);
  auto t1 = steady::now();
  uint64_t c1 = client.completed();
  auto k1 = client.cpu_time();
  client.stop();
  double wall = seconds(t1 - t0);
  std::printf("%.0f round trips/s over %.2f s (client CPU %.0f%%); %llu round trips in all\n",
              double(c1 - c0) / wall, wall, 100 * seconds(k1 - k0) / wall,
              (unsigned long long)client.completed());
  return 0;
}

}  // namespace nsqd::bench
