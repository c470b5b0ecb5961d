#pragma once
// Who hears, on shard 0, that topics and channels come and go: the lookup loop, which tells
// nsqlookupd (REGISTER / UNREGISTER), and which may name the channels a new topic starts with
// (the channels nsqlookupd knows for it), as upstream's GetTopic asks before it starts a topic.
//
//   broker_shard& zero = ...;                 // shard 0's broker
//   zero.set_topology_observer(&lookup);      // while the lookup loop runs; nullptr after
//
// Every creation and deletion is decided on shard 0 (broker.hpp), so the observer sees each
// change once, in order, whatever shard it came from. #ephemeral topics and channels are
// reported too (nsqlookupd lists them, as upstream registers them).

#include <optional>
#include <string>
#include <vector>

#include "core/task.hpp"

namespace nsqd::broker {

struct topology_change {
  enum class kind { added, removed };
  kind what;
  std::string topic;
  std::optional<std::string> channel;  // nullopt: the topic itself
};

class topology_observer {
 public:
  // A topic or channel came to exist, or was deleted (after every shard applied it).
  virtual void changed(const topology_change& change) = 0;
  // Before a new topic is created (not at load): channels to create with it, so that its
  // first messages wait for the channels consumers use. May take a while (HTTP); never
  // throws; an empty list creates none.
  virtual core::task<std::vector<std::string>> channels_for_new_topic(std::string topic) = 0;

 protected:
  ~topology_observer() = default;
};

}  // namespace nsqd::broker
