#pragma once
// A protocol-level fake nsqlookupd on a thread, for black-box tests of nsqd's lookup sync:
// it speaks nsqlookupd's TCP protocol V1 (`  V1`, IDENTIFY with a sized JSON body,
// REGISTER / UNREGISTER / PING lines, each answered by a `<int32 size><data>` frame), keeps
// the registrations of each open connection as nsqlookupd does, and can misbehave on demand.
//
//   fake_lookupd lookupd;
//   nsqd.start({"--lookupd-tcp-address=" + lookupd.address()});
//   BOOST_TEST(lookupd.wait_for([&] { return lookupd.registrations() == expected; }));

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test/support/nsqd_process.hpp"

namespace nsqd::test {

class fake_lookupd {
 public:
  // How IDENTIFY (and, for error_on_register, REGISTER) is answered.
  enum class mode {
    normal,             // IDENTIFY: the info JSON; every command: OK
    garbage,            // IDENTIFY: bytes that are not JSON
    e_invalid,          // IDENTIFY: E_INVALID
    huge_size,          // IDENTIFY: a size of 2^31-1 and nothing more
    truncated,          // IDENTIFY: a size of 100, 10 bytes, then the connection closed
    stall,              // IDENTIFY: no answer at all (the connection stays open)
    error_on_register,  // IDENTIFY as normal; REGISTER: an E_ error frame, then closed
  };

  // `http_port`: the port the IDENTIFY answer names for nsqlookupd's HTTP API (/channels).
  explicit fake_lookupd(std::uint16_t http_port = 0);
  ~fake_lookupd();
  fake_lookupd(const fake_lookupd&) = delete;
  fake_lookupd& operator=(const fake_lookupd&) = delete;

  std::uint16_t port() const { return _port; }
  std::string address() const { return "127.0.0.1:" + std::to_string(_port); }
  void set_mode(mode m) { _mode = m; }

  // One connection as the fake saw it.
  struct peer {
    std::string identify;               // the IDENTIFY body
    std::vector<std::string> commands;  // every later line, in order
    std::set<std::string> registered;   // "topic" and "topic:channel", as nsqlookupd keeps them
    bool open = true;                   // the nsqd side has not closed it
  };
  std::vector<peer> peers() const;
  // The registrations of the open connections that identified, merged.
  std::set<std::string> registrations() const;
  // How many times `line` was sent over every connection.
  std::size_t count(const std::string& line) const;
  // Closes every connection from this side (nsqlookupd going away).
  void drop_connections();

  // Polls `condition` every 20 ms until true or `timeout`.
  static bool wait_for(const std::function<bool()>& condition, milliseconds timeout = 5s);

 private:
  void accept_loop();
  void serve(int fd, std::size_t index);

  int _listen_fd = -1;
  std::uint16_t _port = 0;
  std::uint16_t _http_port = 0;
  std::atomic<mode> _mode{mode::normal};
  std::atomic<bool> _stop{false};
  mutable std::mutex _mutex;
  std::vector<peer> _peers;
  std::vector<int> _fds;  // by peer index; -1 once closed
  std::vector<std::thread> _workers;
  std::thread _acceptor;
};

}  // namespace nsqd::test
