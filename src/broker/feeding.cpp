// Cross-shard feeding: a starving channel part asks the other shards' parts for batches.
#include "broker/broker.hpp"

#include <time.h>

#include <algorithm>

#include "core/cross_shard.hpp"
#include "core/event.hpp"
#include "core/io.hpp"
#include "model/names.hpp"

namespace nsqd::broker {
namespace {

// On the starving shard: asks every other shard for work for one channel.
core::task<void> steal(broker_shard* self, std::string topic_name, std::string name) {
  for (bool got = true; got;) {
    got = false;
    for (unsigned o = 0; o < self->shard_count(); ++o) {
      if (o == self->shard_id()) continue;
      topic* t = self->find_topic(topic_name);
      channel* c = t ? t->find_channel(name) : nullptr;
      if (!c) co_return;
      std::int64_t want = c->wanted();
      if (want <= 0) break;
      broker_shard* peer = self->peer(o);
      unsigned me = self->shard_id();
      const std::string* tn = &topic_name;
      const std::string* cn = &name;
      std::vector<message> batch = co_await core::on_shard(
          o, [peer, tn, cn, me, want] { return peer->give_batch(*tn, *cn, me, size_t(want)); });
      t = self->find_topic(topic_name);
      c = t ? t->find_channel(name) : nullptr;
      if (!c) co_return;
      if (!batch.empty()) {
        got = true;
        c->take_batch(std::move(batch));
      }
      if (c->wanted() <= 0) break;
    }
  }
  topic* t = self->find_topic(topic_name);
  if (channel* c = t ? t->find_channel(name) : nullptr) c->steal_ended();
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
  if (c._stealing || !_group) return;
  c._stealing = true;
  _group->spawn(steal(this, c.owner().name(), c.name()));
}

void broker_shard::notify_demand(channel& c, unsigned starving_shard) {
  if (!_group) return;
  _group->spawn(tell_starving(_peers[starving_shard], starving_shard, c.owner().name(), c.name()));
}

}  // namespace nsqd::broker
