#pragma once
// Whole-file helpers over io_uring (core/io.hpp), for small files written and read at once:
// nsqd.dat, diskqueue meta files.
//
//   int rc = co_await core::write_file_atomically(dirfd, "nsqd.dat", json, 0600);
//   std::string text;
//   int rc = co_await core::read_file(dirfd, "nsqd.dat", text);   // -ENOENT: no such file
//
// Both return 0 or -errno and run shielded from cancellation: a file half-written because
// the caller was cancelled would be worse than a write that finishes.

#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/task.hpp"

namespace nsqd::core {

// Writes `bytes` to `<name>.<random>.tmp` (mode `mode`), fsyncs it and renames it over
// `name`, all relative to `dirfd`: readers see the old file or the new one, never a part.
// The directory is not fsynced (as upstream).
task<int> write_file_atomically(int dirfd, std::string name, std::string_view bytes, mode_t mode);

// Writes `bytes` over `name` in place (created or truncated), without a fsync: only for a
// file whose loss, or truncation by a crash, loses nothing (the meta file of a queue that
// never held a message says what no file says). Three operations instead of five and a sync.
task<int> write_file(int dirfd, std::string name, std::string_view bytes, mode_t mode);

// Reads the whole of `name` (relative to `dirfd`) into `out`.
task<int> read_file(int dirfd, std::string name, std::string& out);

// Writes all of `bytes` at `offset` (short writes are continued). 0 or -errno.
task<int> write_all(int fd, std::string_view bytes, std::uint64_t offset);

}  // namespace nsqd::core
