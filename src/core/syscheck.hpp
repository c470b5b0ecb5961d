#pragma once
// Start-up checks of what the runtime needs from the kernel, so that a host where io_uring
// is disabled (kernel.io_uring_disabled) or filtered (seccomp, container runtimes) gets one
// clear error line instead of a crash.

#include <optional>
#include <string>

namespace nsqd::core {

// Empty when io_uring can be used as the reactor needs it; otherwise what is wrong.
std::optional<std::string> io_uring_problem();

// The descriptor limit in force after raising the soft RLIMIT_NOFILE to the hard one, as
// Go's runtime does at start (so upstream nsqd gets it too): every client and every open
// queue file is a descriptor, and systemd's default soft limit is 1024.
struct fd_limit {
  unsigned long long soft = 0;  // in force now
  unsigned long long hard = 0;
  bool raised = false;  // soft was below hard and is now hard
};
fd_limit raise_fd_limit();

// What an operator needs beside "too many open files": for -EMFILE the limit in force and
// where to raise it, for -ENFILE the system's table; "" for any other result.
std::string descriptor_limit_note(int rc);

}  // namespace nsqd::core
