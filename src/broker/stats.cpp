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

constexpr auto by_name = [](const auto& a, const auto& b) { return a.name < b.name; };

// Merges `part` into `total`, both sorted by name: an entry of both is added into total's
// with `add`; total stays sorted.
template <class T, class Add>
void merge_sorted(std::vector<T>& total, std::vector<T>&& part, Add add) {
  if (part.empty()) return;
  std::vector<T> out;
  out.reserve(total.size() + part.size());
  auto a = total.begin();
  auto b = part.begin();
  while (a != total.end() || b != part.end()) {
    if (b == part.end() || (a != total.end() && a->name < b->name)) {
      out.push_back(std::move(*a++));
    } else if (a == total.end() || b->name < a->name) {
      out.push_back(std::move(*b++));
    } else {
      add(*a, std::move(*b++));
      out.push_back(std::move(*a++));
    }
  }
  total = std::move(out);
}

}  // namespace

void merge_stats(std::vector<topic_stats>& total, std::vector<topic_stats>&& part) {
  // Both sorted, then merged in one pass: 10,000 topics over 4 shards cost 40,000 steps, not
  // 10,000 scans of 10,000 names each.
  std::sort(part.begin(), part.end(), by_name);
  for (topic_stats& t : part) std::sort(t.channels.begin(), t.channels.end(), by_name);
  merge_sorted(total, std::move(part), [](topic_stats& into, topic_stats&& t) {
    into.depth += t.depth;
    into.backend_depth += t.backend_depth;
    into.message_count += t.message_count;
    into.message_bytes += t.message_bytes;
    into.paused = into.paused || t.paused;
    into.e2e.add(std::move(t.e2e));
    merge_sorted(into.channels, std::move(t.channels), add_channel);
  });
}

}  // namespace nsqd::broker
