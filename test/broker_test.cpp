#define BOOST_TEST_MODULE broker
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <set>
#include <vector>

#include "broker/broker.hpp"
#include "core/io.hpp"
#include "core/runtime.hpp"
#include "core/sharded.hpp"
#include "core/task_group.hpp"
#include "loops/queue_scan.hpp"
#include "test/support/coro_test.hpp"

using namespace nsqd;
using namespace nsqd::broker;
using namespace std::chrono_literals;

namespace {

// A consumer that records what it is given.
class recorder final : public consumer {
 public:
  explicit recorder(std::uint64_t id, std::int64_t rdy = 0) : consumer(id), rdy(rdy) {}
  std::int64_t credit() const noexcept override {
    return closing ? 0 : std::max<std::int64_t>(0, rdy - counters.in_flight);
  }
  std::chrono::nanoseconds msg_timeout() const noexcept override { return timeout; }
  int sample_rate() const noexcept override { return rate; }
  void deliver(const message& m) override { got.push_back(m); }

  std::int64_t rdy;
  bool closing = false;
  int rate = 0;
  std::chrono::nanoseconds timeout = 60s;
  std::vector<message> got;
};

struct single_shard {
  explicit single_shard(core::reactor& r) : peers(1) {
    opts.node_id = 7;
    shard.emplace(r, opts, log, peers);
  }
  options opts;
  core::logger log{"[test] ", core::log_level::warn};
  std::vector<broker_shard*> peers;
  std::optional<broker_shard> shard;
};

core::task<core::reactor*> current_reactor() {
  core::promise_context ctx = co_await core::this_context();
  co_return ctx.shard;
}

}  // namespace

namespace {
core::task<void> run_for(broker_shard* b) { co_await b->run(); }
}  // namespace

CORO_TEST_CASE(publish_reaches_a_ready_consumer_with_attempts_and_id) {
  core::reactor* shard = co_await current_reactor();  // (GCC 12: no co_await in this initializer)
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  recorder r(1, 10);
  BOOST_TEST(co_await ch->subscribe(r));
  topic* t = s.shard->find_topic("t");
  BOOST_REQUIRE(t);
  t->publish(message_body::copy_of("hello"));
  BOOST_REQUIRE_EQUAL(r.got.size(), 1u);
  BOOST_TEST(r.got[0].body.view() == "hello");
  BOOST_TEST(r.got[0].attempts == 1);
  BOOST_TEST(r.got[0].id.raw().has_value());
  BOOST_TEST(r.counters.in_flight == 1);
  BOOST_TEST(ch->stats().in_flight == 1);
  BOOST_TEST(int(ch->finish(r, r.got[0].id)) == int(channel::result::ok));
  BOOST_TEST(r.counters.in_flight == 0);
  BOOST_TEST(r.counters.finish_count == 1u);
  BOOST_TEST(int(ch->finish(r, r.got[0].id)) == int(channel::result::not_in_flight));
}

CORO_TEST_CASE(rdy_is_a_window_and_fin_opens_it) {
  core::reactor* shard = co_await current_reactor();  // (GCC 12: no co_await in this initializer)
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  recorder r(1, 2);
  co_await ch->subscribe(r);
  topic* t = s.shard->find_topic("t");
  for (int i = 0; i < 5; ++i) t->publish(message_body::copy_of("m"));
  BOOST_TEST(r.got.size() == 2u);
  BOOST_TEST(ch->stats().depth == 3);
  ch->finish(r, r.got[0].id);
  BOOST_TEST(r.got.size() == 3u);
  r.rdy = 10;
  ch->ready(r);
  BOOST_TEST(r.got.size() == 5u);
  BOOST_TEST(ch->stats().depth == 0);
}

CORO_TEST_CASE(backlog_goes_to_the_first_channel_and_fan_out_copies) {
  core::reactor* shard = co_await current_reactor();  // (GCC 12: no co_await in this initializer)
  single_shard s(*shard);
  topic* t = co_await s.shard->get_topic("t");
  t->publish(message_body::copy_of("early"));
  BOOST_TEST(t->stats().depth == 1);
  channel* first = co_await s.shard->get_channel("t", "a");
  BOOST_TEST(t->stats().depth == 0);
  BOOST_TEST(first->stats().depth == 1);
  channel* second = co_await s.shard->get_channel("t", "b");
  BOOST_TEST(second->stats().depth == 0);
  t->publish(message_body::copy_of("both"));
  BOOST_TEST(first->stats().depth == 2);
  BOOST_TEST(second->stats().depth == 1);
  BOOST_TEST(first->stats().message_count == 2u);
  BOOST_TEST(t->stats().message_count == 2u);
}

CORO_TEST_CASE(fin_from_another_consumer_is_refused) {
  core::reactor* shard = co_await current_reactor();  // (GCC 12: no co_await in this initializer)
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  recorder a(1, 1), b(2, 1);
  co_await ch->subscribe(a);
  co_await ch->subscribe(b);
  s.shard->find_topic("t")->publish(message_body::copy_of("x"));
  recorder& owner = a.got.empty() ? b : a;
  recorder& other = a.got.empty() ? a : b;
  BOOST_REQUIRE_EQUAL(owner.got.size(), 1u);
  message_id id = owner.got[0].id;
  BOOST_TEST(int(ch->finish(other, id)) == int(channel::result::not_owner));
  BOOST_TEST(int(ch->requeue(other, id, 0s)) == int(channel::result::not_owner));
  BOOST_TEST(int(ch->touch(other, id)) == int(channel::result::not_owner));
  BOOST_TEST(int(ch->touch(owner, id)) == int(channel::result::ok));
}

CORO_TEST_CASE(req_zero_redelivers_with_attempts_plus_one) {
  core::reactor* shard = co_await current_reactor();  // (GCC 12: no co_await in this initializer)
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  recorder r(1, 1);
  co_await ch->subscribe(r);
  s.shard->find_topic("t")->publish(message_body::copy_of("x"));
  BOOST_REQUIRE_EQUAL(r.got.size(), 1u);
  BOOST_TEST(int(ch->requeue(r, r.got[0].id, 0s)) == int(channel::result::ok));
  BOOST_REQUIRE_EQUAL(r.got.size(), 2u);
  BOOST_TEST(r.got[1].attempts == 2);
  BOOST_TEST((r.got[1].id == r.got[0].id));
  BOOST_TEST(ch->stats().requeue_count == 1u);
  BOOST_TEST(r.counters.requeue_count == 1u);
}

CORO_TEST_CASE(req_with_delay_and_timeouts_come_back_through_process_due) {
  core::reactor* shard = co_await current_reactor();  // (GCC 12: no co_await in this initializer)
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  recorder r(1, 1);
  r.timeout = 50ms;
  co_await ch->subscribe(r);
  topic* t = s.shard->find_topic("t");
  t->publish(message_body::copy_of("x"));
  BOOST_REQUIRE_EQUAL(r.got.size(), 1u);
  ch->requeue(r, r.got[0].id, 100ms);
  BOOST_TEST(ch->stats().deferred == 1);
  BOOST_TEST(!ch->process_due(unix_now_ns()));
  BOOST_TEST(ch->process_due(unix_now_ns() + 200'000'000));
  BOOST_REQUIRE_EQUAL(r.got.size(), 2u);
  // Not finished in time: timed out, requeued, and (no credit left to anyone) queued.
  r.rdy = 0;
  BOOST_TEST(ch->process_due(unix_now_ns() + 1'000'000'000));
  BOOST_TEST(ch->stats().timeout_count == 1u);
  BOOST_TEST(r.counters.in_flight == 0);
  BOOST_TEST(ch->stats().depth == 1);
}

CORO_TEST_CASE(dpub_is_deferred_in_every_channel) {
  core::reactor* shard = co_await current_reactor();  // (GCC 12: no co_await in this initializer)
  single_shard s(*shard);
  channel* a = co_await s.shard->get_channel("t", "a");
  channel* b = co_await s.shard->get_channel("t", "b");
  s.shard->find_topic("t")->publish_deferred(message_body::copy_of("later"), 1s);
  BOOST_TEST(a->stats().deferred == 1);
  BOOST_TEST(b->stats().deferred == 1);
  BOOST_TEST(a->stats().depth == 0);
  a->process_due(unix_now_ns() + 2'000'000'000);
  BOOST_TEST(a->stats().depth == 1);
}

CORO_TEST_CASE(sampled_out_messages_stay_for_other_consumers) {
  core::reactor* shard = co_await current_reactor();  // (GCC 12: no co_await in this initializer)
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  recorder sampler(1, 1000), full(2, 1000);
  sampler.rate = 10;
  co_await ch->subscribe(sampler);
  co_await ch->subscribe(full);
  topic* t = s.shard->find_topic("t");
  for (int i = 0; i < 1000; ++i) t->publish(message_body::copy_of("m"));
  BOOST_TEST(sampler.got.size() + full.got.size() == 1000u);
  BOOST_TEST(sampler.got.size() < 200u);
  BOOST_TEST(ch->stats().depth == 0);
}

CORO_TEST_CASE(a_lone_sampling_consumer_gets_its_share_without_stalling) {
  core::reactor* shard = co_await current_reactor();
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  recorder sampler(1, 1000);
  sampler.rate = 50;
  co_await ch->subscribe(sampler);
  topic* t = s.shard->find_topic("t");
  for (int i = 0; i < 400; ++i) t->publish(message_body::copy_of("m"));
  BOOST_TEST(sampler.got.size() > 120u);
  BOOST_TEST(sampler.got.size() < 280u);
  // What it declined waits for another consumer.
  BOOST_TEST(ch->stats().depth == std::int64_t(400 - sampler.got.size()));
  recorder other(2, 1000);
  co_await ch->subscribe(other);
  BOOST_TEST(other.got.size() == 400u - sampler.got.size());
}

CORO_TEST_CASE(queue_scan_requeues_timeouts_on_time) {
  core::reactor* shard = co_await current_reactor();  // (GCC 12: no co_await in this initializer)
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  recorder r(1, 1);
  r.timeout = 200ms;
  co_await ch->subscribe(r);
  s.shard->find_topic("t")->publish(message_body::copy_of("x"));
  core::task_group g{co_await core::this_context()};
  g.spawn(loops::queue_scan(*s.shard));
  co_await core::sleep_for(600ms);
  g.cancel();
  co_await g.join();
  BOOST_TEST(ch->stats().timeout_count >= 1u);
  BOOST_TEST(r.got.size() >= 2u);
  BOOST_TEST(r.got.back().attempts >= 2);
}

CORO_TEST_CASE(paused_channel_holds_messages_until_unpaused) {
  core::reactor* shard = co_await current_reactor();
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  recorder r(1, 10);
  co_await ch->subscribe(r);
  BOOST_TEST(co_await s.shard->channel_admin("t", "c", broker_shard::admin::pause));
  s.shard->find_topic("t")->publish(message_body::copy_of("x"));
  BOOST_TEST(r.got.empty());
  BOOST_TEST(ch->paused());
  co_await s.shard->channel_admin("t", "c", broker_shard::admin::unpause);
  BOOST_TEST(r.got.size() == 1u);
  BOOST_TEST(!co_await s.shard->channel_admin("t", "nope", broker_shard::admin::pause));
  BOOST_TEST(!co_await s.shard->topic_admin("nope", broker_shard::admin::pause));
}

CORO_TEST_CASE(paused_topic_keeps_messages_at_topic_depth) {
  core::reactor* shard = co_await current_reactor();
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  topic* t = s.shard->find_topic("t");
  co_await s.shard->topic_admin("t", broker_shard::admin::pause);
  t->publish(message_body::copy_of("x"));
  t->publish(message_body::copy_of("y"));
  BOOST_TEST(t->stats().depth == 2);
  BOOST_TEST(ch->stats().depth == 0);
  co_await s.shard->topic_admin("t", broker_shard::admin::unpause);
  BOOST_TEST(t->stats().depth == 0);
  BOOST_TEST(ch->stats().depth == 2);
}

CORO_TEST_CASE(empty_channel_drops_queued_in_flight_and_deferred) {
  core::reactor* shard = co_await current_reactor();
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  recorder r(1, 1);
  co_await ch->subscribe(r);
  topic* t = s.shard->find_topic("t");
  t->publish(message_body::copy_of("a"));
  t->publish(message_body::copy_of("b"));
  t->publish_deferred(message_body::copy_of("c"), 10s);
  BOOST_TEST(ch->stats().in_flight == 1);
  BOOST_TEST(ch->stats().depth == 1);
  BOOST_TEST(ch->stats().deferred == 1);
  co_await s.shard->channel_admin("t", "c", broker_shard::admin::empty);
  BOOST_TEST(ch->stats().in_flight == 0);
  BOOST_TEST(ch->stats().deferred == 0);
  BOOST_TEST(r.counters.in_flight == 0);
  BOOST_TEST(int(ch->finish(r, r.got[0].id)) == int(channel::result::not_in_flight));
}

CORO_TEST_CASE(max_channel_consumers_is_enforced_and_freed_on_leave) {
  core::reactor* shard = co_await current_reactor();
  single_shard s(*shard);
  s.opts.max_channel_consumers = 1;
  core::task_group g{co_await core::this_context()};
  g.spawn(run_for(&*s.shard));
  co_await core::yield_now();
  channel* ch = co_await s.shard->get_channel("t", "c");
  recorder a(1, 1), b(2, 1);
  BOOST_TEST(co_await ch->subscribe(a));
  BOOST_TEST(!co_await ch->subscribe(b));
  ch->unsubscribe(a);
  co_await core::sleep_for(10ms);
  BOOST_TEST(co_await ch->subscribe(b));
  g.cancel();
  co_await g.join();
}

namespace {
class closing_recorder final : public consumer {
 public:
  using consumer::consumer;
  std::int64_t credit() const noexcept override { return 0; }
  std::chrono::nanoseconds msg_timeout() const noexcept override { return 60s; }
  void deliver(const message&) override {}
  void channel_closed() override { closed = true; }
  void describe(client_stats& cs) const override { cs.client_id = "me"; }
  bool closed = false;
};
}  // namespace

CORO_TEST_CASE(deleting_a_channel_tells_its_consumers_and_stats_forget_it) {
  core::reactor* shard = co_await current_reactor();
  single_shard s(*shard);
  channel* ch = co_await s.shard->get_channel("t", "c");
  co_await s.shard->get_channel("t", "d");
  closing_recorder r(1);
  co_await ch->subscribe(r);
  auto stats = co_await s.shard->gather_stats("", "", true);
  BOOST_REQUIRE_EQUAL(stats.size(), 1u);
  BOOST_REQUIRE_EQUAL(stats[0].channels.size(), 2u);
  BOOST_TEST(stats[0].channels[0].name == "c");
  BOOST_REQUIRE_EQUAL(stats[0].channels[0].clients.size(), 1u);
  BOOST_TEST(stats[0].channels[0].clients[0].client_id == "me");
  BOOST_TEST(co_await s.shard->channel_admin("t", "c", broker_shard::admin::remove));
  BOOST_TEST(r.closed);
  stats = co_await s.shard->gather_stats("", "", true);
  BOOST_REQUIRE_EQUAL(stats[0].channels.size(), 1u);
  BOOST_TEST(stats[0].channels[0].name == "d");
  BOOST_TEST(co_await s.shard->topic_admin("t", broker_shard::admin::remove));
  BOOST_TEST(s.shard->find_topic("t") == nullptr);
  BOOST_TEST((co_await s.shard->gather_stats("", "", true)).empty());
}

CORO_TEST_CASE(stats_filters_by_topic_and_channel) {
  core::reactor* shard = co_await current_reactor();
  single_shard s(*shard);
  co_await s.shard->get_channel("b", "x");
  co_await s.shard->get_channel("a", "y");
  co_await s.shard->get_topic("c");
  auto all = co_await s.shard->gather_stats("", "", false);
  BOOST_REQUIRE_EQUAL(all.size(), 3u);
  BOOST_TEST(all[0].name == "a");
  BOOST_TEST(all[2].name == "c");
  auto only_b = co_await s.shard->gather_stats("b", "", false);
  BOOST_REQUIRE_EQUAL(only_b.size(), 1u);
  auto with_y = co_await s.shard->gather_stats("", "y", false);
  BOOST_REQUIRE_EQUAL(with_y.size(), 1u);
  BOOST_TEST(with_y[0].name == "a");
}

CORO_TEST_CASE(ephemeral_channel_and_topic_go_with_their_last_consumer) {
  core::reactor* shard = co_await current_reactor();
  single_shard s(*shard);
  core::task_group g{co_await core::this_context()};
  g.spawn(run_for(&*s.shard));
  co_await core::yield_now();
  channel* ch = co_await s.shard->get_channel("t#ephemeral", "c#ephemeral");
  recorder r(1, 1);
  co_await ch->subscribe(r);
  ch->unsubscribe(r);
  co_await core::sleep_for(20ms);
  BOOST_TEST(s.shard->find_topic("t#ephemeral") == nullptr);
  g.cancel();
  co_await g.join();
}

// ---- across shards ----------------------------------------------------------------------------

namespace {

core::task<void> consume_on(core::sharded<broker_shard>* brokers, unsigned shard, recorder* r,
                            size_t want) {
  co_await brokers->invoke_on(shard, [r, want](broker_shard& b) -> core::task<void> {
    channel* ch = co_await b.get_channel("hot", "c");
    co_await ch->subscribe(*r);
    // FIN everything as it arrives until `want` messages were seen.
    size_t finished = 0;
    for (int i = 0; i < 500 && r->got.size() < want; ++i) {
      for (; finished < r->got.size(); ++finished) ch->finish(*r, r->got[finished].id);
      co_await core::sleep_for(10ms);
    }
    for (; finished < r->got.size(); ++finished) ch->finish(*r, r->got[finished].id);
    ch->unsubscribe(*r);
  });
}

core::task<void> publish_on(core::sharded<broker_shard>* brokers, unsigned shard, int count) {
  co_await brokers->invoke_on(shard, [count](broker_shard& b) -> core::task<void> {
    topic* t = co_await b.get_topic("hot");
    for (int i = 0; i < count; ++i) t->publish(message_body::copy_of("m"));
  });
}

core::task<void> run_brokers(core::sharded<broker_shard>* brokers, core::task_group* g) {
  for (unsigned n = 0; n < brokers->shards(); ++n)
    g->spawn(brokers->invoke_on(n, [](broker_shard& b) { return b.run(); }));
  co_return;
}

core::task<int> cross_shard_main(options* opts, core::logger* log, std::vector<broker_shard*>* peers,
                                 std::vector<std::unique_ptr<recorder>>* consumers) {
  core::sharded<broker_shard> brokers(4);
  co_await brokers.start(std::cref(*opts), std::cref(*log), std::ref(*peers));
  {
    core::task_group running{co_await core::this_context()};
    co_await run_brokers(&brokers, &running);
    co_await core::sleep_for(10ms);
    // Every message published on shards 0 and 1 reaches consumers on shards 2 and 3 only.
    core::task_group work{co_await core::this_context()};
    work.spawn(consume_on(&brokers, 2, (*consumers)[0].get(), 2000));
    work.spawn(consume_on(&brokers, 3, (*consumers)[1].get(), 2000));
    co_await core::sleep_for(50ms);
    work.spawn(publish_on(&brokers, 0, 1000));
    work.spawn(publish_on(&brokers, 1, 1000));
    co_await work.join();
    running.cancel();
    co_await running.join();
  }
  std::vector<topic_stats> stats = co_await brokers.invoke_on(
      1, [](broker_shard& b) { return b.gather_stats("hot", "", true); });
  BOOST_REQUIRE_EQUAL(stats.size(), 1u);
  BOOST_TEST(stats[0].message_count == 2000u);
  BOOST_REQUIRE_EQUAL(stats[0].channels.size(), 1u);
  BOOST_TEST(stats[0].channels[0].message_count == 2000u);
  BOOST_TEST(stats[0].channels[0].in_flight == 0);
  co_await brokers.stop();
  co_return 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(messages_published_on_any_shard_reach_consumers_on_other_shards) {
  core::logger log("[test] ", core::log_level::warn);
  options opts;
  std::vector<broker_shard*> peers(4, nullptr);
  std::vector<std::unique_ptr<recorder>> consumers;
  consumers.push_back(std::make_unique<recorder>(1, 50));
  consumers.push_back(std::make_unique<recorder>(2, 50));
  core::runtime rt(4, log);
  rt.run([&] { return cross_shard_main(&opts, &log, &peers, &consumers); });
  std::set<std::string> ids;
  for (auto& c : consumers)
    for (auto& m : c->got) ids.insert(std::string(m.id.view()));
  BOOST_TEST(ids.size() == 2000u);
  BOOST_TEST(consumers[0]->got.size() + consumers[1]->got.size() == 2000u);
}
