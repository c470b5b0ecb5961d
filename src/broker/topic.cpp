// A topic part: publish, fan-out into its channels, the backlog before the first channel.
#include "broker/broker.hpp"

#include <time.h>

#include <algorithm>

#include "core/cross_shard.hpp"
#include "core/event.hpp"
#include "core/io.hpp"
#include "model/names.hpp"

namespace nsqd::broker {

topic::topic(broker_shard& shard, std::string name)
    : _shard(shard),
      _name(std::move(name)),
      _ephemeral(is_ephemeral(_name)),
      _ids(std::uint32_t(shard.opts().node_id), shard.shard_id(), shard.shard_count()) {}

topic::~topic() = default;

message topic::make_message(message_body body) {
  std::int64_t now = unix_now_ns();
  message m;
  m.id = _ids.next(now);
  m.timestamp = now;
  m.attempts = 0;
  m.body = std::move(body);
  m.set_tag(order_key_now(_shard.reactor()));  // its place in publish order (ordering.hpp)
  return m;
}

void topic::publish(message_body body) {
  ++_message_count;
  _message_bytes += body.size();
  fan_out(make_message(std::move(body)));
}

void topic::publish_deferred(message_body body, std::chrono::nanoseconds delay) {
  ++_message_count;
  _message_bytes += body.size();
  message m = make_message(std::move(body));
  std::int64_t due = unix_now_ns() + delay.count();
  if (_channels.empty() || _paused) {
    std::optional<storage::deferred_journal::ref> copy = _shard.keep_in_journal(_journal.get(), m);
    _backlog.push_back({std::move(m), due, copy});  // keeps its due time while it waits
    return;
  }
  for (auto& [name, ch] : _channels) hand_over(*ch, m, due);
}

void topic::hand_over(channel& ch, message m, std::int64_t due) {
  if (due > unix_now_ns()) {
    ++ch._message_count;
    std::optional<storage::deferred_journal::ref> copy = ch._topic._shard.keep_in_journal(ch._journal.get(), m);
    ch.put_deferred(std::move(m), due, std::nullopt, copy);
  } else {
    ch.put(std::move(m));
  }
}

void topic::fan_out(message m, bool to_disk) {
  if (to_disk) m.set_tag(0);  // the topic's disk ticket is not the channels'
  if (_channels.empty() || _paused) {
    if (_shard.spill(_disk, _backlog.size(), m)) return;
    _backlog.push_back({std::move(m), 0});
    return;
  }
  size_t left = _channels.size();
  for (auto& [name, ch] : _channels) {
    if (--left == 0)
      ch->put(std::move(m), to_disk);  // the last channel takes the original
    else
      ch->put(m, to_disk);
  }
}

channel* topic::find_channel(std::string_view name) {
  auto it = _channels.find(std::string(name));
  return it == _channels.end() ? nullptr : it->second.get();
}

channel& topic::ensure_channel(const std::string& name, std::shared_ptr<channel_heads> heads) {
  auto it = _channels.find(name);
  if (it != _channels.end()) return *it->second;
  channel& ch = *_channels.emplace(name, std::make_unique<channel>(*this, name, std::move(heads))).first->second;
  // Messages that waited for a channel all go to the first one (upstream #1520).
  release_backlog();
  return ch;
}

bool topic::channels_disk_ready() const noexcept {
  for (auto& [name, ch] : _channels)
    if (!ch->disk_ready()) return false;
  return true;
}

void topic::release_backlog() {
  // Not before every channel's disk queue is open: a message must not go from the topic's
  // disk (or journal) to a channel's memory only (open_part_disk calls again).
  if (_paused || _channels.empty() || !channels_disk_ready()) return;
  core::fifo<waiting> held;
  held.swap(_backlog);
  for (waiting& w : held) {
    for (auto& [name, ch] : _channels) hand_over(*ch, w.msg, w.due);
    storage::release_copy(_journal.get(), w.journal);
  }
  if (_disk && _disk->depth() > 0) start_disk_drain();
}

void topic::clear_backlog() {
  for (waiting& w : _backlog)
    storage::release_copy(_journal.get(), w.journal);
  _backlog.clear();
}

void topic::set_paused(bool paused) {
  _paused = paused;
  release_backlog();
}

void topic::drop_channel(const std::string& name) {
  auto it = _channels.find(name);
  if (it == _channels.end()) return;
  it->second->close();
  _channels.erase(it);
}

topic::counters topic::stats() const {
  std::int64_t on_disk = _disk ? _disk->depth() : 0;
  return {std::int64_t(_backlog.size()) + on_disk, on_disk, _message_count, _message_bytes};
}

}  // namespace nsqd::broker
