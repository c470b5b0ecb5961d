#pragma once
// Start-up checks of what the runtime needs from the kernel, so that a host where io_uring
// is disabled (kernel.io_uring_disabled) or filtered (seccomp, container runtimes) gets one
// clear error line instead of a crash.

#include <optional>
#include <string>

namespace nsqd::core {

// Empty when io_uring can be used as the reactor needs it; otherwise what is wrong.
std::optional<std::string> io_uring_problem();

}  // namespace nsqd::core
