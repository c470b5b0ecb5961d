#pragma once
// One nsqlookupd peer (upstream's lookupPeer and its connectCallback): a task on shard 0 that
// keeps one TCP connection to --lookupd-tcp-address, speaking nsqlookupd's protocol V1.
//
// - Connecting (at start, on the 15 s tick after a failure, or on a change, at most once a
//   second): dial within 1 s, `  V1`, `IDENTIFY\n<len><json>`, read nsqlookupd's answer
//   (its ports and broadcast address: http_address() for the /channels queries), then
//   REGISTER everything that exists at that moment (the snapshot function).
// - Connected: REGISTER / UNREGISTER lines as topics and channels come and go, and PING on
//   every tick; each answered by a `<len>OK` frame. Commands are pipelined in batches.
// - Every write and every read is bounded by 1 s. A failure, a timeout, an answer that is not
//   OK (an `E_...` error, garbage), a frame over --max-body-size: logged, the connection
//   closed, and the next tick connects again and registers everything anew (nsqlookupd
//   drops a closed connection's registrations), so nothing queued while disconnected is kept.
// - No UNREGISTER at shutdown, as upstream: nsqlookupd forgets the node when it hangs up.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.hpp"
#include "core/log.hpp"
#include "core/task.hpp"
#include "net/connection.hpp"

namespace nsqd::loops {

// What nsqlookupd answers to IDENTIFY (upstream's PeerInfo).
struct lookupd_info {
  std::int64_t tcp_port = 0;
  std::int64_t http_port = 0;
  std::string version;
  std::string broadcast_address;
};
// Parses the IDENTIFY answer; nullopt when it is not a JSON object of those fields.
std::optional<lookupd_info> parse_lookupd_info(std::string_view json);

class lookup_peer {
 public:
  // The REGISTER lines (no '\n') of every topic and channel that exists now.
  using snapshot_fn = std::function<std::vector<std::string>()>;

  lookup_peer(std::string address, std::string identify_body, snapshot_fn registrations,
              const core::logger& log, std::int64_t max_body_size);

  const std::string& address() const noexcept { return _address; }
  bool connected() const noexcept { return _state == state::connected; }
  // `line` (REGISTER/UNREGISTER ...) for nsqlookupd; `branch` ("topic", "channel") is for
  // the log. Dropped while not connected: the next connection registers everything.
  void command(std::string line, std::string_view branch);
  // The 15 s tick: a PING when connected, a connection attempt when not.
  void tick();
  // Ends run() soon (the exchange under way ends within its 1 s bounds).
  void stop();
  // nsqlookupd's HTTP address as its last IDENTIFY answer gave it (upstream keeps it across
  // reconnections), when it named a broadcast address.
  std::optional<std::string> http_address() const;

  // Until stop() or cancellation.
  core::task<void> run();

 private:
  enum class state { disconnected, connecting, connected };
  struct pending_command {
    std::string line;
    std::string log_prefix;  // "topic ", "channel " or "" before the line in the INFO log
  };

  core::task<bool> connect_and_identify();
  core::task<bool> send_pending();
  core::task<bool> send_all(std::string_view bytes);
  // One `<int32 size><data>` answer; nullopt (with `_error` set, "" when cancelled) when it
  // could not be read.
  core::task<std::optional<std::string>> read_answer();
  // ERROR `LOOKUPD(addr): <command> - <_error>`, unless the failure was a cancellation or stop().
  void log_failure(std::string_view command) const;
  void disconnect();

  std::string _address;
  std::string _identify_body;
  snapshot_fn _registrations;
  const core::logger& _log;
  std::int64_t _max_body_size;
  state _state = state::disconnected;
  bool _stopping = false;
  std::unique_ptr<net::connection> _conn;
  std::deque<pending_command> _pending;
  std::optional<lookupd_info> _info;
  std::optional<std::chrono::steady_clock::time_point> _last_attempt;
  std::string _error;  // why the last read or write failed
  core::event _wake;
};

}  // namespace nsqd::loops
