#include "core/syscheck.hpp"

#include <sys/resource.h>

#include <liburing.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

namespace nsqd::core {

namespace {

struct needed_op {
  int op;
  const char* name;
};

constexpr needed_op needed_ops[] = {
    {IORING_OP_ACCEPT, "ACCEPT"},   {IORING_OP_RECV, "RECV"},
    {IORING_OP_SEND, "SEND"},       {IORING_OP_WRITEV, "WRITEV"},
    {IORING_OP_SENDMSG, "SENDMSG"}, {IORING_OP_CONNECT, "CONNECT"},
    {IORING_OP_OPENAT, "OPENAT"},   {IORING_OP_READ, "READ"},
    {IORING_OP_WRITE, "WRITE"},     {IORING_OP_FSYNC, "FSYNC"},
    {IORING_OP_CLOSE, "CLOSE"},     {IORING_OP_SHUTDOWN, "SHUTDOWN"},
    {IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
    {IORING_OP_MSG_RING, "MSG_RING"},
};

std::string disabled_sysctl() {
  std::ifstream f("/proc/sys/kernel/io_uring_disabled");
  int v = 0;
  if (f >> v && v != 0) return " (kernel.io_uring_disabled=" + std::to_string(v) + ")";
  return "";
}

}  // namespace

std::optional<std::string> io_uring_problem() {
  io_uring ring{};
  int rc = io_uring_queue_init(4, &ring, 0);
  if (rc < 0) {
    std::string why = "io_uring is not available: io_uring_setup failed: ";
    why += std::strerror(-rc);
    std::string sysctl = disabled_sysctl();
    if (!sysctl.empty())
      why += sysctl;
    else if (rc == -EPERM || rc == -EACCES)
      why += " (forbidden by a seccomp filter or a container runtime?)";
    else if (rc == -ENOSYS)
      why += " (this kernel was built without io_uring)";
    return why;
  }
  std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> probe(io_uring_get_probe_ring(&ring),
                                                                  io_uring_free_probe);
  io_uring_queue_exit(&ring);
  if (!probe) return "io_uring is not usable: the kernel cannot list its operations (Linux 5.19+ needed)";
  std::string missing;
  for (auto& op : needed_ops)
    if (!io_uring_opcode_supported(probe.get(), op.op)) missing += std::string(missing.empty() ? "" : ", ") + op.name;
  if (!missing.empty())
    return "io_uring is not usable: the kernel lacks operations " + missing + " (Linux 5.19+ needed)";
  return std::nullopt;
}

fd_limit raise_fd_limit() {
  fd_limit out;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return out;
  out.soft = limit.rlim_cur;
  out.hard = limit.rlim_max;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
      out.soft = limit.rlim_cur;
      out.raised = true;
    }
  }
  return out;
}

std::string descriptor_limit_note(int rc) {
  if (rc == -ENFILE) return " (the system's file table is full: see fs.file-max)";
  if (rc != -EMFILE) return "";
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return "";
  return " (the limit is " + std::to_string(limit.rlim_cur) +
         " descriptors: raise LimitNOFILE= in the systemd unit, or ulimit -n)";
}

}  // namespace nsqd::core
