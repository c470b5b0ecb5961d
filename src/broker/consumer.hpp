#pragma once
// consumer: what a channel sees of a subscribed client (implemented by the V2 protocol's
// client, protocol/protocol_v2.cpp). Lives on the shard of its connection; subscribed to one
// channel part of that same shard. The channel decides what to send and keeps the in-flight
// bookkeeping; the consumer turns deliveries into frames.

#include <chrono>
#include <cstdint>
#include <string>

#include "broker/stats.hpp"
#include "model/message.hpp"

namespace nsqd::broker {

// Per-client counters the channel maintains (reported by /stats as the client's).
struct consumer_counters {
  std::int64_t in_flight = 0;      // delivered, not yet FIN/REQ/timed out
  std::uint64_t message_count = 0; // deliveries
  std::uint64_t finish_count = 0;
  std::uint64_t requeue_count = 0;
};

class consumer {
 public:
  explicit consumer(std::uint64_t id) noexcept : _id(id) {}
  virtual ~consumer() = default;
  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;

  // Unique per process: owner of in-flight messages (FIN from another client is refused).
  std::uint64_t id() const noexcept { return _id; }

  // Messages it can take right now: max(0, RDY - in_flight), 0 while closing (CLS).
  virtual std::int64_t credit() const noexcept = 0;
  // In-flight timeout for messages delivered to it (IDENTIFY msg_timeout or --msg-timeout).
  virtual std::chrono::nanoseconds msg_timeout() const noexcept = 0;
  // sample_rate 1..99, or 0 for every message. The channel applies it (quirk 5, fixed):
  // a message this consumer skips stays in the channel for the others.
  virtual int sample_rate() const noexcept { return 0; }
  // Takes one message. The channel has already counted it in flight with this consumer as
  // owner and incremented its attempts. Must not call back into the channel.
  virtual void deliver(const message& m) = 0;
  // The channel was deleted (HTTP /channel/delete, /topic/delete): the channel pointer must
  // not be used again. Upstream closes such clients' connections.
  virtual void channel_closed() {}
  // /stats: the connection's fields (client_id, hostname, remote_address, state, rdy...);
  // the channel fills the counters.
  virtual void describe(client_stats&) const {}

  consumer_counters counters;

 private:
  std::uint64_t _id;
};

}  // namespace nsqd::broker
