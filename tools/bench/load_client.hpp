#pragma once
// load_client: the request/response load both servers get, so it is not part of the
// comparison. C connections to 127.0.0.1:port, spread round-robin over K threads; each thread
// runs a level-triggered epoll loop. Every connection keeps exactly one request of `size`
// bytes outstanding (ping-pong): send it, read `size` bytes back, count one round trip,
// send the next. Threads are pinned to CPUs the server's shards do not use, when there are
// such CPUs (client_cpu in sockets.hpp).
//
// The connections are made in the constructor (blocking connects: the server's listeners
// must exist, accepting may come later) and the threads start at once. The owner samples
// completed() and cpu_time() while it runs, then calls stop(), which closes every connection.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include "bench/sockets.hpp"

namespace nsqd::bench {

class load_client {
 public:
  load_client(uint16_t port, unsigned connections, unsigned threads, size_t size,
              unsigned server_shards);
  ~load_client();
  load_client(const load_client&) = delete;
  load_client& operator=(const load_client&) = delete;

  // Round trips completed so far, over all threads (any thread may ask).
  uint64_t completed() const noexcept;
  // CPU time the client threads have used so far.
  std::chrono::nanoseconds cpu_time() const noexcept;
  // Stops and joins the threads, closes the connections; rethrows the first thread error
  // (e.g. the server hung up). Call once; the destructor calls it if nobody did.
  void stop();

 private:
  struct alignas(64) slot {
    std::atomic<uint64_t> completed{0};
  };
  void run(unsigned k, std::vector<int> fds, int cpu);

  size_t _size;
  std::unique_ptr<char[]> _request;  // the payload every connection sends, read-only
  std::unique_ptr<slot[]> _slots;
  std::vector<std::exception_ptr> _errors;
  std::vector<clockid_t> _clocks;
  std::vector<std::thread> _threads;
  stop_signal _stop;
};

}  // namespace nsqd::bench
