#include "broker/stats.hpp"

#include <algorithm>

namespace nsqd::broker {

namespace {

void add_channel(channel_stats& total, channel_stats&& part) {
  total.depth += part.depth;
  total.backend_depth += part.backend_depth;
  total.in_flight += part.in_flight;
  total.deferred += part.deferred;
  total.message_count += part.message_count;
  total.requeue_count += part.requeue_count;
  total.timeout_count += part.timeout_count;
  total.overflow_count += part.overflow_count;
  total.client_count += part.client_count;
  total.paused = total.paused || part.paused;
  for (auto& c : part.clients) total.clients.push_back(std::move(c));
  total.e2e.add(std::move(part.e2e));
}

}  // namespace

void merge_stats(std::vector<topic_stats>& total, std::vector<topic_stats>&& part) {
  for (topic_stats& t : part) {
    auto it = std::find_if(total.begin(), total.end(), [&](const topic_stats& x) { return x.name == t.name; });
    if (it == total.end()) {
      total.push_back(std::move(t));
      it = total.end() - 1;
    } else {
      it->depth += t.depth;
      it->backend_depth += t.backend_depth;
      it->message_count += t.message_count;
      it->message_bytes += t.message_bytes;
      it->paused = it->paused || t.paused;
      it->e2e.add(std::move(t.e2e));
      for (channel_stats& c : t.channels) {
        auto ct = std::find_if(it->channels.begin(), it->channels.end(),
                               [&](const channel_stats& x) { return x.name == c.name; });
        if (ct == it->channels.end())
          it->channels.push_back(std::move(c));
        else
          add_channel(*ct, std::move(c));
      }
    }
    std::sort(it->channels.begin(), it->channels.end(),
              [](const channel_stats& a, const channel_stats& b) { return a.name < b.name; });
  }
  std::sort(total.begin(), total.end(),
            [](const topic_stats& a, const topic_stats& b) { return a.name < b.name; });
}

}  // namespace nsqd::broker
