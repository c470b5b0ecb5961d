#pragma once
// Socket and CPU helpers shared by the bench's servers and client. All throw
// std::system_error on failure: a benchmark that cannot set up has nothing to measure.

#include <cstdint>
#include <vector>

namespace nsqd::bench {

// N listening TCP sockets on 127.0.0.1, all with SO_REUSEPORT on one port: the first binds
// `port` (0: the kernel picks one), the others reuse its number. Blocking, close-on-exec.
// The caller owns the fds (close_all).
struct listeners {
  std::vector<int> fds;
  uint16_t port = 0;
};
listeners make_listeners(unsigned count, uint16_t port = 0);
void close_all(listeners& l) noexcept;

// A blocking connect to 127.0.0.1:port; the fd comes back nonblocking with TCP_NODELAY.
int connect_loopback(uint16_t port);

void set_nodelay(int fd);
void set_nonblocking(int fd);

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus();
// Pins the calling thread to `cpu` (ignored when cpu < 0).
void pin_this_thread(int cpu) noexcept;

// The CPU of server thread i (the runtime's rule: the i-th allowed CPU, modulo their count).
int server_cpu(const std::vector<int>& cpus, unsigned i) noexcept;
// The CPU of client thread k: one the `shards` server threads do not use, or -1 (unpinned)
// when they use them all.
int client_cpu(const std::vector<int>& cpus, unsigned shards, unsigned k) noexcept;

// Owns an eventfd that wakes a loop to stop it (write once, from any thread). Blocking, so
// that an io_uring read on it waits instead of failing with -EAGAIN.
class stop_signal {
 public:
  stop_signal();
  ~stop_signal();
  stop_signal(const stop_signal&) = delete;
  stop_signal& operator=(const stop_signal&) = delete;
  int fd() const noexcept { return _fd; }
  void raise() noexcept;

 private:
  int _fd;
};

}  // namespace nsqd::bench
