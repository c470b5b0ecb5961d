#pragma once
// Stats snapshots: plain values gathered from every shard's parts and merged by name (the
// map-reduce behind /stats, /metrics and statsd). Field meanings follow upstream's /stats
// (SPEC C): depth = queued (memory + disk), in_flight and deferred apart.

#include <cstdint>
#include <string>
#include <vector>

#include "broker/quantile.hpp"

namespace nsqd::broker {

// One TCP client as /stats shows it (upstream's ClientStats); the protocol fills the
// connection fields, the channel the counters.
struct client_stats {
  std::string client_id;
  std::string hostname;
  std::string version = "V2";
  std::string remote_address;
  int state = 0;
  std::int64_t ready_count = 0;
  std::int64_t in_flight_count = 0;
  std::uint64_t message_count = 0;
  std::uint64_t finish_count = 0;
  std::uint64_t requeue_count = 0;
  std::int64_t connect_ts = 0;
  int sample_rate = 0;
  bool deflate = false;
  bool snappy = false;
  std::string user_agent;
  bool authed = false;
  std::string auth_identity;
  std::string auth_identity_url;
  std::string topology_zone;
  std::string topology_region;
  struct pub_count {
    std::string topic;
    std::uint64_t count = 0;
  };
  std::vector<pub_count> pub_counts;
  bool tls = false;
  std::string tls_cipher_suite;
  std::string tls_version;
  std::string tls_negotiated_protocol;
  bool tls_negotiated_protocol_is_mutual = false;
};

struct channel_stats {
  std::string name;
  std::int64_t depth = 0;
  std::int64_t backend_depth = 0;
  std::int64_t in_flight = 0;
  std::int64_t deferred = 0;
  std::uint64_t message_count = 0;
  std::uint64_t requeue_count = 0;
  std::uint64_t timeout_count = 0;
  std::uint64_t overflow_count = 0;
  std::int64_t client_count = 0;
  bool paused = false;
  std::vector<client_stats> clients;
  latency_summary e2e;  // this channel's latency window(s); evaluate() gives /stats' numbers
};

struct topic_stats {
  std::string name;
  std::int64_t depth = 0;
  std::int64_t backend_depth = 0;
  std::uint64_t message_count = 0;
  std::uint64_t message_bytes = 0;
  bool paused = false;
  std::vector<channel_stats> channels;  // sorted by name after merge
  // Every channel's window merged (all channels, even those a channel filter leaves out);
  // no percentiles when the topic has no channel.
  latency_summary e2e;
};

// Adds `part` (one shard's snapshot) into `total`, matching topics and channels by name.
// `total` starts empty and stays sorted by name, its topics' channels too.
void merge_stats(std::vector<topic_stats>& total, std::vector<topic_stats>&& part);

}  // namespace nsqd::broker
