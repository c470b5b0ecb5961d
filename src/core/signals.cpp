#include "core/signals.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <system_error>

#include "core/io.hpp"

namespace nsqd::core {

namespace {
sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}
}  // namespace

void block_stop_signals() {
  sigset_t set = stop_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

signal_watch::signal_watch() {
  sigset_t set = stop_set();
  _fd = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (_fd < 0) throw std::system_error(errno, std::system_category(), "signalfd");
}

signal_watch::~signal_watch() { ::close(_fd); }

task<int> signal_watch::next() {
  signalfd_siginfo info{};
  int n = co_await core::read(_fd, &info, sizeof info, uint64_t(-1));
  if (n < 0) co_return n;
  if (n != int(sizeof info)) co_return -EIO;
  co_return int(info.ssi_signo);
}

}  // namespace nsqd::core
