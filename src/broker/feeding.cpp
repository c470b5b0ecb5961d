// Cross-shard feeding: a starving channel part asks the other shards' parts for batches
// (steal), and a part whose oldest message waits for older ones elsewhere fetches them
// (fetch_older, for publish order: ordering.hpp).
#include "broker/broker.hpp"

#include <time.h>

#include <algorithm>

#include "core/cross_shard.hpp"
#include "core/event.hpp"
#include "core/io.hpp"
#include "model/names.hpp"

namespace nsqd::broker {
namespace {

// The other shards, their parts' oldest heads first.
std::vector<unsigned> oldest_first(const channel_heads& heads, unsigned me) {
  std::vector<std::pair<std::uint64_t, unsigned>> by_head;
  for (unsigned s = 0; s < heads.shards(); ++s)
    if (s != me) by_head.emplace_back(heads.head(s), s);
  std::sort(by_head.begin(), by_head.end());
  std::vector<unsigned> out;
  for (auto& [head, s] : by_head) out.push_back(s);
  return out;
}

// On the shard of a part whose oldest queued message waits for older ones in other parts:
// takes them over until it may deliver (or it has no credit left). A part whose head is
// older but that gives nothing is in a transfer of its own: look again shortly.
core::task<void> fetch_older(broker_shard* self, std::string topic_name, std::string name) {
  const std::string* tn = &topic_name;
  const std::string* cn = &name;
  const unsigned me = self->shard_id();
  for (int empty_rounds = 0;;) {
    topic* t = self->find_topic(topic_name);
    channel* c = t ? t->find_channel(name) : nullptr;
    if (!c) co_return;
    std::optional<channel::fetch_plan> plan = c->plan_fetch();
    if (!plan) break;
    if (empty_rounds >= 4) {
      int r = co_await core::sleep_for(std::chrono::microseconds(200));
      if (r < 0) break;  // stopping
      empty_rounds = 0;
      continue;
    }
    broker_shard* peer = self->peer(plan->from);
    std::uint64_t before = plan->before_key;
    std::size_t want = plan->want;
    c->transfer_begun();
    std::vector<message> batch = co_await core::on_shard(plan->from, [peer, tn, cn, before, me, want] {
      topic* pt = peer->find_topic(*tn);
      channel* pc = pt ? pt->find_channel(*cn) : nullptr;
      return pc ? pc->give_older(before, me, want) : std::vector<message>{};
    });
    t = self->find_topic(topic_name);
    c = t ? t->find_channel(name) : nullptr;
    if (!c) co_return;
    c->transfer_done();
    empty_rounds = batch.empty() ? empty_rounds + 1 : 0;
    if (!batch.empty()) c->take_batch(std::move(batch));
  }
  topic* t = self->find_topic(topic_name);
  if (channel* c = t ? t->find_channel(name) : nullptr) c->fetch_ended();
}

// On the starving shard: asks every other shard for work for one channel.
core::task<void> steal(broker_shard* self, std::string topic_name, std::string name) {
  bool first_round = true;
  bool took_any = false;
  for (bool got = true; got;) {
    got = false;
    std::vector<unsigned> order;  // the oldest heads first: what they give may go at once
    {
      topic* t = self->find_topic(topic_name);
      channel* c = t ? t->find_channel(name) : nullptr;
      if (!c) co_return;
      order = oldest_first(*c->heads(), self->shard_id());
    }
    for (unsigned o : order) {
      topic* t = self->find_topic(topic_name);
      channel* c = t ? t->find_channel(name) : nullptr;
      if (!c) co_return;
      // The first round asks every shard even when nothing is wanted any more: what a shard
      // dealt to this one (channel_share.cpp) waits there until taken.
      std::int64_t want = std::max<std::int64_t>(0, c->wanted());
      if (want == 0 && !first_round) break;
      channel::demand d = c->demand_now();
      broker_shard* peer = self->peer(o);
      unsigned me = self->shard_id();
      const std::string* tn = &topic_name;
      const std::string* cn = &name;
      c->transfer_begun();
      std::vector<message> batch = co_await core::on_shard(o, [peer, tn, cn, me, want, d] {
        return peer->give_batch(*tn, *cn, me, size_t(want), d);
      });
      t = self->find_topic(topic_name);
      c = t ? t->find_channel(name) : nullptr;
      if (!c) co_return;
      c->transfer_done();
      if (!batch.empty()) {
        got = took_any = true;
        c->take_batch(std::move(batch));
      }
      if (c->wanted() <= 0 && !first_round) break;
    }
    first_round = false;
  }
  topic* t = self->find_topic(topic_name);
  if (channel* c = t ? t->find_channel(name) : nullptr) c->steal_ended(!took_any);
}

core::task<void> tell_starving(broker_shard* peer, unsigned shard, std::string topic_name,
                               std::string name) {
  const std::string* tn = &topic_name;
  const std::string* cn = &name;
  co_await core::on_shard(shard, [peer, tn, cn] {
    topic* t = peer->find_topic(*tn);
    channel* c = t ? t->find_channel(*cn) : nullptr;
    if (c) peer->start_steal(*c);
  });
}

}  // namespace

void broker_shard::start_steal(channel& c) {
  if (!_group) return;
  if (c._stealing) {  // told while a steal runs: it may have passed the shard that told
    c._steal_again = true;
    return;
  }
  c._stealing = true;
  _group->spawn(steal(this, c.owner().name(), c.name()));
}

void broker_shard::start_fetch(channel& c) {
  if (c._fetching || !_group) return;
  c._fetching = true;
  _group->spawn(fetch_older(this, c.owner().name(), c.name()));
}

void broker_shard::notify_demand(channel& c, unsigned starving_shard) {
  if (!_group) return;
  _group->spawn(tell_starving(_peers[starving_shard], starving_shard, c.owner().name(), c.name()));
}

}  // namespace nsqd::broker
