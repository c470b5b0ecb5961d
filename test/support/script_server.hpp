#pragma once
// A scripted HTTP/1.1 server on a thread, for black-box tests of what nsqd asks other servers
// (auth servers, nsqlookupd's /channels): each connection's one request is recorded and
// answered by a handler.
//
//   script_server s([](const seen_request& r) { return always(R"({"channels":["a"]})"); });
//   ... nsqd asks http://<s.address()>/... ...
//   BOOST_TEST(s.requests().at(0).query.at("topic") == "t");

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/tls.hpp"
#include "test/support/nsqd_process.hpp"

namespace nsqd::test {

// One request as the server saw it.
struct seen_request {
  std::string method;
  std::string target;
  std::string path;
  std::map<std::string, std::string> query;    // decoded, first value per key
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// What to do with a request.
struct reply {
  int status = 200;
  std::string body;
  milliseconds delay{0};   // before answering
  std::string raw;         // when set: sent as is instead of status/body
  bool hang_up = false;    // close without answering
};

// Query strings and their parts as a server decodes them ('+' is a space).
std::string url_decode(std::string_view s);
std::map<std::string, std::string> parse_query(std::string_view q);

// Listens on 127.0.0.1:<any>; answers each connection's one request with the handler's reply,
// each connection on its own thread. Records every request. Stops (and joins) in the
// destructor. With `tls` (a server context that outlives it) it is an HTTPS server.
class script_server {
 public:
  using handler = std::function<reply(const seen_request&)>;

  explicit script_server(handler h, const net::tls_context* tls = nullptr) : _handler(std::move(h)), _tls(tls) {
    _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(_fd, 64) != 0)
      throw std::runtime_error("script_server: bind/listen failed");
    socklen_t len = sizeof a;
    ::getsockname(_fd, reinterpret_cast<sockaddr*>(&a), &len);
    _port = ntohs(a.sin_port);
    _thread = std::thread([this] { run(); });
  }
  ~script_server() {
    _stop = true;
    _thread.join();
    ::close(_fd);
  }
  script_server(const script_server&) = delete;
  script_server& operator=(const script_server&) = delete;

  std::uint16_t port() const { return _port; }
  std::string address() const { return "127.0.0.1:" + std::to_string(_port); }
  void set_handler(handler h) {
    std::lock_guard lock(_mutex);
    _handler = std::move(h);
  }
  std::vector<seen_request> requests() const {
    std::lock_guard lock(_mutex);
    return _requests;
  }
  std::size_t count() const {
    std::lock_guard lock(_mutex);
    return _requests.size();
  }

 private:
  void run();
  void serve(int c);

  int _fd = -1;
  std::uint16_t _port = 0;
  std::atomic<bool> _stop{false};
  mutable std::mutex _mutex;
  handler _handler;
  const net::tls_context* _tls;
  std::vector<seen_request> _requests;
  std::vector<std::thread> _workers;  // one per connection; joined by run() when stopping
  std::thread _thread;
};

// A reply with `code` and `body` (after `delay`); always(): 200 with `body`.
reply status(int code, std::string body, milliseconds delay = 0ms);
reply always(std::string body);

}  // namespace nsqd::test
