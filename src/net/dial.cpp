#include "net/dial.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "core/io.hpp"

namespace nsqd::net {

core::task<int> connect_stream(const socket_address& addr, std::optional<std::chrono::nanoseconds> timeout,
                               unique_fd& fd) {
  fd.reset(::socket(addr.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) co_return -errno;
  if (timeout && timeout->count() <= 0) {
    fd.reset();
    co_return -ETIMEDOUT;
  }
  int r;
  if (timeout)
    r = co_await core::connect(fd.get(), addr.get(), addr.length).timeout(*timeout);
  else
    r = co_await core::connect(fd.get(), addr.get(), addr.length);
  if (r < 0) fd.reset();
  co_return r;
}

}  // namespace nsqd::net
