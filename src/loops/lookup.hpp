#pragma once
// Lookup sync (upstream's lookupLoop), one task on shard 0 for the node's whole life:
//
// - one lookup_peer per address of the run-time settings (--lookupd-tcp-address, then
//   `PUT /config/nsqlookupd_tcp_addresses`): a change adds the new peers (they connect and
//   register everything) and stops the removed ones (their connections close);
// - the broker's topology observer on shard 0: each topic and channel created or deleted,
//   from any shard, becomes one REGISTER or UNREGISTER line for every connected peer (a
//   topic without channels as `REGISTER topic`); a deleted topic's channels are unregistered
//   before the topic itself;
// - a new topic's channels: before the broker creates a topic it asks every peer's nsqlookupd
//   `GET /channels?topic=` (in parallel; --http-client-connect-timeout and
//   --http-client-request-timeout) and creates the union of their channels with it
//   (#ephemeral ones left out), as upstream's GetTopic; a failing query is logged and the
//   topic is made with what the others answered;
// - every 15 s a PING on every connected peer, and a new attempt for every disconnected one;
// - on shutdown: peers closed without UNREGISTER, then `LOOKUP: closing`.

#include "broker/broker.hpp"
#include "config/runtime_settings.hpp"
#include "core/task.hpp"

namespace nsqd::loops {

// Runs until cancelled, on shard 0 (`broker` is shard 0's part: it sees every change).
core::task<void> lookup(broker::broker_shard& broker, config::runtime_settings& settings);

// The IDENTIFY body nsqd sends to nsqlookupd: upstream's keys, sorted as Go's encoder writes
// a map: broadcast_address, hostname, http_port, tcp_port, topology_region, topology_zone,
// version.
std::string lookup_identify_body(const config::options& opts, const std::string& hostname);

// The channels of nsqlookupd's `/channels` answer: `{"channels":[...]}`, or the same inside
// upstream's old `{"data":...}` envelope; nullopt when it is neither.
std::optional<std::vector<std::string>> parse_lookupd_channels(std::string_view json);

}  // namespace nsqd::loops
