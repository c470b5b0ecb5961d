#include "core/file.hpp"

#include <fcntl.h>
#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "core/io.hpp"

namespace nsqd::core {

namespace {

task<int> write_all_inner(int fd, std::string_view bytes, std::uint64_t offset) {
  while (!bytes.empty()) {
    unsigned chunk = unsigned(std::min<std::size_t>(bytes.size(), 1u << 30));
    int n = co_await write(fd, bytes.data(), chunk, offset);
    if (n < 0) co_return n;
    if (n == 0) co_return -EIO;
    bytes.remove_prefix(std::size_t(n));
    offset += std::uint64_t(n);
  }
  co_return 0;
}

// A name no other write uses at the same time (O_EXCL makes a clash an error, not a mix).
std::string temporary_name(const std::string& name) {
  std::uint64_t salt = 0;
  if (::getrandom(&salt, sizeof salt, GRND_NONBLOCK) != sizeof salt)
    salt = std::uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  return name + "." + std::to_string(salt) + ".tmp";
}

// Opens `name` with `flags`, writes all of `bytes`, fsyncs when `sync`, closes.
task<int> write_whole(int dirfd, const std::string& name, std::string_view bytes, mode_t mode, int flags, bool sync) {
  int fd = co_await openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, mode);
  if (fd < 0) co_return fd;
  int rc = co_await write_all_inner(fd, bytes, 0);
  if (rc == 0 && sync) rc = co_await fsync(fd);
  int closed = co_await close(fd);
  co_return rc == 0 ? closed : rc;
}

task<int> write_atomically_inner(int dirfd, std::string name, std::string_view bytes, mode_t mode) {
  std::string tmp = temporary_name(name);
  int rc = co_await write_whole(dirfd, tmp, bytes, mode, O_EXCL, true);
  if (rc == -EEXIST) co_return rc;  // another write's: not ours to remove
  if (rc == 0) rc = co_await renameat(dirfd, tmp.c_str(), dirfd, name.c_str());
  if (rc != 0) (void)co_await unlinkat(dirfd, tmp.c_str());
  co_return rc;
}

task<int> read_file_inner(int dirfd, std::string name, std::string& out) {
  int fd = co_await openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) co_return fd;
  out.clear();
  int rc = 0;
  // Small steps first: most files read here are a few bytes (thousands of queue meta files
  // at start), and each step's room is zeroed before the read fills it.
  std::size_t step = 4 * 1024;
  for (;;) {
    std::size_t have = out.size();
    out.resize(have + step);
    int n = co_await read(fd, out.data() + have, unsigned(step), have);
    if (n < 0) {
      rc = n;
      out.resize(have);
      break;
    }
    out.resize(have + std::size_t(n));
    if (n == 0) break;
    step = std::min<std::size_t>(step * 2, 1024 * 1024);
  }
  (void)co_await close(fd);
  co_return rc;
}

}  // namespace

task<int> write_all(int fd, std::string_view bytes, std::uint64_t offset) {
  int rc = co_await shielded(write_all_inner(fd, bytes, offset));
  co_return rc;
}

task<int> write_file_atomically(int dirfd, std::string name, std::string_view bytes, mode_t mode) {
  int rc = co_await shielded(write_atomically_inner(dirfd, std::move(name), bytes, mode));
  co_return rc;
}

task<int> write_file(int dirfd, std::string name, std::string_view bytes, mode_t mode) {
  int rc = co_await shielded(write_whole(dirfd, name, bytes, mode, O_TRUNC, false));
  co_return rc;
}

task<int> read_file(int dirfd, std::string name, std::string& out) {
  int rc = co_await shielded(read_file_inner(dirfd, std::move(name), out));
  co_return rc;
}

}  // namespace nsqd::core
