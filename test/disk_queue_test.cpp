#define BOOST_TEST_MODULE disk_queue
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/io.hpp"
#include "core/task_group.hpp"
#include "storage/deferred_journal.hpp"
#include "storage/disk_queue.hpp"
#include "test/support/coro_test.hpp"
#include "test/support/nsqd_process.hpp"

using namespace nsqd;
using namespace nsqd::storage;

namespace {

core::logger quiet{"[test] ", core::log_level::fatal};

// A small tmpfs over a temp_dir, unmounted when the test ends (even when it fails).
struct tmpfs_mount {
  tmpfs_mount(const std::string& at, const char* options) : path(at) {
    mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, options) == 0;
    if (mounted) fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  ~tmpfs_mount() {
    if (fd >= 0) ::close(fd);
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
  std::string path;
  bool mounted = false;
  int fd = -1;
};

message make(std::uint64_t n, std::string_view body, std::uint16_t attempts = 0) {
  message m;
  m.id = message_id::from_raw(n);
  m.timestamp = 1'700'000'000'000'000'000 + std::int64_t(n);
  m.attempts = attempts;
  m.body = message_body::copy_of(body);
  return m;
}

disk_queue_limits small(std::int64_t bytes_per_file = 1 << 20) {
  disk_queue_limits l;
  l.max_bytes_per_file = bytes_per_file;
  l.max_msg_size = 1024;
  l.sync_every = 2500;
  return l;
}

core::task<void> flush_into(disk_queue* q, int* rc) { *rc = co_await q->flush(); }

core::task<void> read_into(disk_queue* q, std::vector<message>* out) { *out = co_await q->read(100, 1 << 20); }

std::string body_of(int i) { return "message-" + std::to_string(i); }

// Journals exist with --durable-publish only: every flush fsyncs.
disk_queue_limits journal_limits() {
  disk_queue_limits l = small();
  l.sync_each_flush = true;
  return l;
}

// Background work of a journal goes to `group`.
deferred_journal::spawner spawner_of(core::task_group& group) {
  return [&group](core::task<void> work) {
    group.spawn(std::move(work));
    return true;
  };
}

// A closed queue `prefix` holding `records` records of 20 bytes ("aaa...", "bbb...", ...) in
// 100-byte segments: 4 + 26 + 20 = 50 bytes a record, two per segment.
core::task<void> write_closed_queue(test::data_dir& dir, std::string prefix, int records) {
  disk_queue q(dir.fd(), std::move(prefix), small(100), quiet);
  (void)co_await q.open();
  for (int i = 0; i < records; ++i) (void)q.put(make(std::uint64_t(i), std::string(20, char('a' + i))));
  (void)co_await q.close();
}

}  // namespace

CORO_TEST_CASE(round_trip_and_byte_format) {
  test::data_dir dir;
  disk_queue q(dir.fd(), "t:c.diskqueue", small(), quiet);
  int rc = co_await q.open();
  BOOST_TEST(rc == 0);
  BOOST_TEST(!dir.exists("t:c.diskqueue.meta.dat"));  // opening creates nothing
  auto at = q.put(make(1, "x"));
  BOOST_TEST_REQUIRE(at.has_value());
  BOOST_TEST(at->file == 0);
  BOOST_TEST(at->pos == 0);
  (void)q.put(make(2, std::string("\0\xff bin", 6), 3));
  (void)q.put(make(3, ""));
  BOOST_TEST(q.pending() == 3);
  BOOST_TEST(q.depth() == 3);
  rc = co_await q.flush();
  BOOST_TEST(rc == 0);
  BOOST_TEST(q.pending() == 0);
  // A 1-byte body makes a 31-byte record: 4 + 26 + 1.
  std::string seg = dir.read("t:c.diskqueue.000000.dat");
  BOOST_TEST(seg.size() == 31u + 36u + 30u);
  BOOST_TEST(seg.substr(0, 4) == std::string("\0\0\0\x1b", 4));
  BOOST_TEST(seg.substr(4 + 10, 16) == std::string(message_id::from_raw(1).view()));
  BOOST_TEST(seg[30] == 'x');
  std::vector<message> got = co_await q.read(10, 1 << 20);
  BOOST_TEST_REQUIRE(got.size() == 3u);
  BOOST_TEST(got[0].body.view() == "x");
  BOOST_TEST((got[1].id == message_id::from_raw(2)));
  BOOST_TEST(got[1].attempts == 3);
  BOOST_TEST(got[1].timestamp == 1'700'000'000'000'000'002);
  BOOST_TEST(got[1].body.view() == std::string_view("\0\xff bin", 6));
  BOOST_TEST(got[2].body.empty());
  BOOST_TEST(q.depth() == 0);
  rc = co_await q.close();
  BOOST_TEST(rc == 0);
  BOOST_TEST(dir.read("t:c.diskqueue.meta.dat") == "0\n0,97\n0,97\n");
}

// Closing a queue whose meta file already says what it would write leaves the file alone
// (no write, no fsync: a stop with thousands of idle queues costs nothing); a change writes it.
CORO_TEST_CASE(an_unchanged_meta_file_is_not_written_again) {
  test::data_dir dir;
  auto inode = [&] {
    struct stat st {};
    BOOST_REQUIRE(::stat(dir.file("m.diskqueue.meta.dat").c_str(), &st) == 0);
    return st.st_ino;
  };
  {
    disk_queue q(dir.fd(), "m.diskqueue", small(), quiet);
    (void)co_await q.open();
    for (int i = 0; i < 3; ++i) (void)q.put(make(std::uint64_t(i), "abc"));
    BOOST_TEST(co_await q.close() == 0);
  }
  const auto first = inode();
  {
    disk_queue q(dir.fd(), "m.diskqueue", small(), quiet);
    (void)co_await q.open();
    BOOST_TEST(q.depth() == 3);
    BOOST_TEST(co_await q.sync() == 0);
    BOOST_TEST(co_await q.close() == 0);
  }
  BOOST_TEST(inode() == first);
  BOOST_TEST(dir.read("m.diskqueue.meta.dat") == "3\n0,0\n0,99\n");
  {
    disk_queue q(dir.fd(), "m.diskqueue", small(), quiet);
    (void)co_await q.open();
    std::vector<message> got = co_await q.read(1, 1 << 20);
    BOOST_TEST(got.size() == 1u);
    BOOST_TEST(co_await q.close() == 0);
  }
  BOOST_TEST(inode() != first);
  BOOST_TEST(dir.read("m.diskqueue.meta.dat") == "2\n0,33\n0,99\n");
}

// A queue that never had files is removed without looking for any; one whose segment was left
// without a meta file (a crash before its first sync) still has it removed.
CORO_TEST_CASE(remove_finds_a_segment_left_without_a_meta_file) {
  test::data_dir dir;
  dir.write("s.diskqueue.000000.dat", "");
  disk_queue q(dir.fd(), "s.diskqueue", small(), quiet);
  (void)co_await q.open();
  BOOST_TEST(q.depth() == 0);
  BOOST_TEST(co_await q.remove() == 0);
  BOOST_TEST(!dir.exists("s.diskqueue.000000.dat"));
  BOOST_TEST(!dir.exists("s.diskqueue.meta.dat"));
}

CORO_TEST_CASE(meta_of_an_empty_queue_and_reopen) {
  test::data_dir dir;
  {
    disk_queue q(dir.fd(), "e.diskqueue", small(), quiet);
    (void)co_await q.open();
    int rc = co_await q.close();
    BOOST_TEST(rc == 0);
    BOOST_TEST(dir.read("e.diskqueue.meta.dat") == "0\n0,0\n0,0\n");
  }
  {
    disk_queue q(dir.fd(), "r.diskqueue", small(), quiet);
    (void)co_await q.open();
    for (int i = 0; i < 3; ++i) (void)q.put(make(std::uint64_t(i), "abc"));
    (void)co_await q.close();
    BOOST_TEST(dir.read("r.diskqueue.meta.dat") == "3\n0,0\n0,99\n");
  }
  disk_queue q(dir.fd(), "r.diskqueue", small(), quiet);
  (void)co_await q.open();
  BOOST_TEST(q.depth() == 3);
  BOOST_TEST(q.write_position().pos == 99);
  (void)q.put(make(9, "abc"));
  (void)co_await q.flush();
  std::vector<message> got = co_await q.read(10, 1 << 20);
  BOOST_TEST(got.size() == 4u);
  BOOST_TEST(got.back().body.view() == "abc");
}

CORO_TEST_CASE(rolls_segments_and_deletes_read_ones) {
  test::data_dir dir;
  disk_queue q(dir.fd(), "roll.diskqueue", small(100), quiet);
  (void)co_await q.open();
  // 4 + 26 + 20 = 50 bytes a record: two per 100-byte segment.
  for (int i = 0; i < 5; ++i) (void)q.put(make(std::uint64_t(i), std::string(20, char('a' + i))));
  // A record bigger than the limit gets a segment of its own.
  (void)q.put(make(9, std::string(200, 'z')));
  (void)co_await q.flush();
  BOOST_TEST(dir.read("roll.diskqueue.000000.dat").size() == 100u);
  BOOST_TEST(dir.read("roll.diskqueue.000001.dat").size() == 100u);
  BOOST_TEST(dir.read("roll.diskqueue.000002.dat").size() == 50u);
  BOOST_TEST(dir.read("roll.diskqueue.000003.dat").size() == 230u);
  std::vector<message> got = co_await q.read(3, 1 << 20);
  BOOST_TEST(got.size() == 3u);
  got = co_await q.read(10, 1 << 20);
  BOOST_TEST(got.size() == 3u);
  BOOST_TEST(got.back().body.size() == 200u);
  BOOST_TEST(!dir.exists("roll.diskqueue.000000.dat"));
  BOOST_TEST(!dir.exists("roll.diskqueue.000001.dat"));
  BOOST_TEST(!dir.exists("roll.diskqueue.000002.dat"));
  BOOST_TEST(q.depth() == 0);
  BOOST_TEST(!q.put(make(10, std::string(1025, 'x'))).has_value());  // over max_msg_size
  BOOST_TEST(q.put(make(11, std::string(1024, 'x'))).has_value());
}

CORO_TEST_CASE(crash_tail_is_delivered) {
  test::data_dir dir;
  {
    disk_queue q(dir.fd(), "c.diskqueue", small(), quiet);
    (void)co_await q.open();
    (void)q.put(make(1, "one"));
    (void)co_await q.close();
  }
  // Two more records written, the meta file never synced again: as after a kill -9.
  {
    disk_queue q(dir.fd(), "c.diskqueue", small(), quiet);
    (void)co_await q.open();
    (void)q.put(make(2, "two"));
    (void)q.put(make(3, "three"));
    (void)co_await q.flush();
    dir.write("c.diskqueue.meta.dat", "1\n0,0\n0,33\n");  // stale meta
  }
  disk_queue q(dir.fd(), "c.diskqueue", small(), quiet);
  (void)co_await q.open();
  BOOST_TEST(q.depth() == 3);
  BOOST_TEST(q.write_position().file == 1);  // writing goes on in a new segment
  (void)q.put(make(4, "four"));
  (void)co_await q.flush();
  std::vector<message> got = co_await q.read(10, 1 << 20);
  BOOST_TEST_REQUIRE(got.size() == 4u);
  BOOST_TEST(got[2].body.view() == "three");
  BOOST_TEST(got[3].body.view() == "four");
}

CORO_TEST_CASE(corrupt_segment_is_renamed_bad_and_skipped) {
  test::data_dir dir;
  co_await write_closed_queue(dir, "bad.diskqueue", 6);
  std::string seg = dir.read("bad.diskqueue.000001.dat");
  seg[50] = '\x7f';  // the second record's length: 0x7f...... is far over the limit
  dir.write("bad.diskqueue.000001.dat", seg);
  disk_queue q(dir.fd(), "bad.diskqueue", small(100), quiet);
  (void)co_await q.open();
  std::vector<message> got = co_await q.read(10, 1 << 20);
  std::vector<message> more = co_await q.read(10, 1 << 20);
  for (auto& m : more) got.push_back(std::move(m));
  // Segment 0 (a, b), segment 1's first record (c), segment 2 (e, f).
  BOOST_TEST_REQUIRE(got.size() == 5u);
  BOOST_TEST(got[2].body.view() == std::string(20, 'c'));
  BOOST_TEST(got[3].body.view() == std::string(20, 'e'));
  BOOST_TEST(dir.exists("bad.diskqueue.000001.dat.bad"));
  BOOST_TEST(q.depth() == 0);  // reset once the reader reached the writer
  (void)q.put(make(7, "after"));
  (void)co_await q.flush();
  got = co_await q.read(10, 1 << 20);
  BOOST_TEST_REQUIRE(got.size() == 1u);
  BOOST_TEST(got[0].body.view() == "after");
}

CORO_TEST_CASE(truncated_write_segment_is_skipped) {
  test::data_dir dir;
  {
    disk_queue q(dir.fd(), "cut.diskqueue", small(), quiet);
    (void)co_await q.open();
    for (int i = 0; i < 3; ++i) (void)q.put(make(std::uint64_t(i), "0123456789"));
    (void)co_await q.close();
  }
  std::filesystem::resize_file(dir.path() + "/cut.diskqueue.000000.dat", 40 + 20);
  disk_queue q(dir.fd(), "cut.diskqueue", small(), quiet);
  (void)co_await q.open();
  std::vector<message> got = co_await q.read(10, 1 << 20);
  BOOST_TEST(got.size() == 1u);
  BOOST_TEST(dir.exists("cut.diskqueue.000000.dat.bad"));
  (void)q.put(make(5, "new"));
  int rc = co_await q.flush();
  BOOST_TEST(rc == 0);
  got = co_await q.read(10, 1 << 20);
  BOOST_TEST_REQUIRE(got.size() == 1u);
  BOOST_TEST(got[0].body.view() == "new");
}

CORO_TEST_CASE(empty_and_remove_delete_files) {
  test::data_dir dir;
  disk_queue q(dir.fd(), "x.diskqueue", small(100), quiet);
  (void)co_await q.open();
  for (int i = 0; i < 5; ++i) (void)q.put(make(std::uint64_t(i), std::string(20, 'q')));
  (void)co_await q.close();
  BOOST_TEST(dir.exists("x.diskqueue.000002.dat"));
  int rc = co_await q.empty();
  BOOST_TEST(rc == 0);
  BOOST_TEST(q.depth() == 0);
  BOOST_TEST(!dir.exists("x.diskqueue.000000.dat"));
  BOOST_TEST(!dir.exists("x.diskqueue.000002.dat"));
  BOOST_TEST(!dir.exists("x.diskqueue.meta.dat"));
  BOOST_TEST(q.write_position().file == 3);
  (void)q.put(make(8, "again"));
  (void)co_await q.flush();
  BOOST_TEST(dir.exists("x.diskqueue.000003.dat"));
  rc = co_await q.remove();
  BOOST_TEST(rc == 0);
  (void)co_await q.close();
  std::size_t left = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) left += e.path().filename().string().starts_with("x.");
  BOOST_TEST(left == 0u);  // remove: no meta file written again
}

CORO_TEST_CASE(read_at_and_skip) {
  test::data_dir dir;
  disk_queue q(dir.fd(), "s.diskqueue", small(), quiet);
  (void)co_await q.open();
  (void)q.put(make(1, "first"));
  auto at = q.put(make(2, "deferred"));
  (void)q.put(make(3, "third"));
  (void)co_await q.flush();
  std::optional<message> m = co_await q.read_at(*at);
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->body.view() == "deferred");
  std::optional<message> none = co_await q.read_at({0, 1});
  BOOST_TEST(!none.has_value());
  q.skip(*at, make(2, "deferred").id);
  BOOST_TEST(q.depth() == 2);
  std::vector<message> got = co_await q.read(10, 1 << 20);
  BOOST_TEST_REQUIRE(got.size() == 2u);
  BOOST_TEST(got[1].body.view() == "third");
  BOOST_TEST(q.skipped().empty());
  q.skip({0, 0}, m->id);  // before the read position: ignored
  BOOST_TEST(q.skipped().empty());
}

// A skip names the record by id too: another record found at that position (records moved
// after a failed write) is delivered, not dropped.
CORO_TEST_CASE(skip_of_another_record_delivers_it) {
  test::data_dir dir;
  disk_queue q(dir.fd(), "k.diskqueue", small(), quiet);
  (void)co_await q.open();
  auto first = q.put(make(1, "one"));
  auto second = q.put(make(2, "two"));
  q.skip(*first, make(7, "other").id);
  q.skip(*second, make(2, "two").id);
  BOOST_TEST(q.depth() == 0);
  (void)co_await q.flush();
  std::vector<message> got = co_await q.read(10, 1 << 20);
  BOOST_TEST_REQUIRE(got.size() == 1u);
  BOOST_TEST(got[0].body.view() == "one");
  BOOST_TEST(q.skipped().empty());
  BOOST_TEST(q.depth() == 0);
}

CORO_TEST_CASE(sync_every_writes_meta) {
  test::data_dir dir;
  disk_queue_limits l = small();
  l.sync_every = 2;
  disk_queue q(dir.fd(), "y.diskqueue", l, quiet);
  (void)co_await q.open();
  (void)q.put(make(1, "a"));
  (void)co_await q.flush();
  BOOST_TEST(!q.claim_sync());
  BOOST_TEST(!dir.exists("y.diskqueue.meta.dat"));
  BOOST_TEST(q.dirty());
  (void)q.put(make(2, "b"));
  (void)co_await q.flush();
  BOOST_TEST(!dir.exists("y.diskqueue.meta.dat"));  // due, not done: the owner runs it
  BOOST_TEST(q.claim_sync());
  BOOST_TEST(!q.claim_sync());  // claimed once
  int rc = co_await q.sync();
  BOOST_TEST(rc == 0);
  BOOST_TEST(dir.read("y.diskqueue.meta.dat") == "2\n0,0\n0,62\n");
  BOOST_TEST(!q.dirty());
  // Reads count too: the second one makes a sync due.
  std::vector<message> got = co_await q.read(1, 1 << 20);
  BOOST_TEST(q.dirty());
  BOOST_TEST(!q.claim_sync());
  got = co_await q.read(1, 1 << 20);
  BOOST_TEST(q.claim_sync());
  rc = co_await q.sync();
  BOOST_TEST(rc == 0);
  BOOST_TEST(!q.dirty());
  BOOST_TEST(dir.read("y.diskqueue.meta.dat") == "0\n0,62\n0,62\n");
}

// A sync runs beside flushes and reads: it writes the positions of the moment it started,
// and the records flushed meanwhile are on disk (and readable) without waiting for it.
CORO_TEST_CASE(sync_runs_beside_flushes) {
  test::data_dir dir;
  disk_queue_limits l = small();
  l.sync_every = 1;
  auto q = std::make_shared<disk_queue>(dir.fd(), "z.diskqueue", l, quiet);
  (void)co_await q->open();
  (void)q->put(make(1, "a"));
  (void)co_await q->flush();
  BOOST_TEST_REQUIRE(q->claim_sync());
  core::task_group group{co_await core::this_context()};
  group.spawn([](std::shared_ptr<disk_queue> q) -> core::task<void> { (void)co_await q->sync(); }(q));
  (void)q->put(make(2, "b"));
  int rc = co_await q->flush();
  BOOST_TEST(rc == 0);
  co_await group.join();
  std::string meta = dir.read("z.diskqueue.meta.dat");
  BOOST_TEST((meta == "1\n0,0\n0,31\n" || meta == "2\n0,0\n0,62\n"));
  BOOST_TEST(q->claim_sync() == (meta == "1\n0,0\n0,31\n"));
  rc = co_await q->sync();
  BOOST_TEST(dir.read("z.diskqueue.meta.dat") == "2\n0,0\n0,62\n");
  std::vector<message> got = co_await q->read(10, 1 << 20);
  BOOST_REQUIRE_EQUAL(got.size(), 2u);
  BOOST_TEST(got[1].body.view() == "b");
  (void)co_await q->close();
}

// A write that fails (a full filesystem, for real) drops what it carried, keeps what is
// stored, and the queue works again once there is room.
CORO_TEST_CASE(full_disk_drops_the_failed_write_only) {
  if (::geteuid() != 0) co_return;  // needs mount(2)
  test::data_dir dir;
  tmpfs_mount full(dir.path(), "size=64k");
  if (!full.mounted) co_return;
  const int fd = full.fd;
  {
    disk_queue q(fd, "full.diskqueue", small(1 << 20), quiet);
    (void)co_await q.open();
    (void)q.put(make(1, "kept"));
    int rc = co_await q.flush();
    BOOST_TEST(rc == 0);
    (void)q.put(make(2, std::string(1000, 'f')));
    int failed = 0;
    for (int i = 0; i < 200 && failed == 0; ++i) {
      for (int j = 0; j < 100; ++j) (void)q.put(make(std::uint64_t(100 + i * 100 + j), std::string(1000, 'f')));
      failed = co_await q.flush();
    }
    BOOST_TEST(failed == -ENOSPC);
    std::int64_t stored = q.depth();
    BOOST_TEST(stored >= 1);
    BOOST_TEST(q.pending() == 0);
    // Room again: the next flush works; everything stored before is still there.
    std::vector<message> first = co_await q.read(1, 1 << 20);
    BOOST_TEST_REQUIRE(first.size() == 1u);
    BOOST_TEST(first[0].body.view() == "kept");
    std::vector<message> rest = co_await q.read(100000, 1 << 30);
    BOOST_TEST(std::int64_t(rest.size()) == stored - 1);
    // A clean stop after the failure: the segment ends where the meta file says (the failed
    // write's bytes trimmed), so a restart finds exactly the stored records, no crash tail.
    (void)q.put(make(3, "last"));
    int rc3 = co_await q.flush();
    BOOST_TEST(rc3 == 0);
    disk_position end = q.write_position();
    int rc4 = co_await q.close();
    BOOST_TEST(rc4 == 0);
    char seg[64];
    std::snprintf(seg, sizeof seg, "/full.diskqueue.%06lld.dat", static_cast<long long>(end.file));
    BOOST_TEST(std::filesystem::file_size(dir.path() + seg) == std::uintmax_t(end.pos));
    {
      disk_queue again(fd, "full.diskqueue", small(1 << 20), quiet);
      int rc5 = co_await again.open();
      BOOST_TEST(rc5 == 0);
      BOOST_TEST(again.depth() == 1);
      BOOST_TEST((again.write_position() == end));
      std::vector<message> last = co_await again.read(10, 1 << 20);
      BOOST_TEST_REQUIRE(last.size() == 1u);
      BOOST_TEST(last[0].body.view() == "last");
      (void)co_await again.close();
    }
    (void)co_await q.empty();
    (void)q.put(make(5, "after"));
    int rc2 = co_await q.flush();
    BOOST_TEST(rc2 == 0);
    std::vector<message> after = co_await q.read(10, 1 << 20);
    BOOST_TEST_REQUIRE(after.size() == 1u);
    BOOST_TEST(after[0].body.view() == "after");
    (void)co_await q.close();
  }
}

// Records put while a flush is writing are not part of it: the next flush writes them, in
// order, and none is lost or written twice.
CORO_TEST_CASE(puts_during_a_flush_wait_for_the_next) {
  test::data_dir dir;
  disk_queue q(dir.fd(), "p.diskqueue", small(4096), quiet);
  (void)co_await q.open();
  (void)q.put(make(0, body_of(0)));
  int first = 1, second = 1;
  core::task_group g{co_await core::this_context()};
  g.spawn(flush_into(&q, &first));
  for (int i = 1; i < 200; ++i) {
    (void)q.put(make(std::uint64_t(i), body_of(i)));
    if (i % 3 == 0) co_await core::yield_now();
    if (i == 100) g.spawn(flush_into(&q, &second));
  }
  co_await g.join();
  int rc = co_await q.flush();
  BOOST_TEST(first == 0);
  BOOST_TEST(second == 0);
  BOOST_TEST(rc == 0);
  BOOST_TEST(q.pending() == 0);
  BOOST_TEST(q.depth() == 200);
  std::vector<message> got = co_await q.read(1000, 1 << 30);
  BOOST_TEST_REQUIRE(got.size() == 200u);
  for (int i = 0; i < 200; ++i) {
    BOOST_TEST((got[std::size_t(i)].id == message_id::from_raw(std::uint64_t(i))));
    BOOST_TEST(got[std::size_t(i)].body.view() == body_of(i));
  }
}

// A read made while a flush runs waits for it, then sees what it wrote.
CORO_TEST_CASE(operations_are_serialised) {
  test::data_dir dir;
  disk_queue q(dir.fd(), "o.diskqueue", small(), quiet);
  (void)co_await q.open();
  for (int i = 0; i < 5; ++i) (void)q.put(make(std::uint64_t(i), body_of(i)));
  int rc = 1;
  std::vector<message> got;
  core::task_group g{co_await core::this_context()};
  g.spawn(flush_into(&q, &rc));
  g.spawn(read_into(&q, &got));
  co_await g.join();
  BOOST_TEST(rc == 0);
  BOOST_TEST(got.size() == 5u);
  BOOST_TEST(q.depth() == 0);
}

// Rolling persists the move (as upstream's sync on roll): a crash afterwards finds the newest
// segment as the write segment, delivers its unsynced tail and never writes over it.
CORO_TEST_CASE(roll_writes_meta_and_survives_a_crash) {
  test::data_dir dir;
  {
    disk_queue q(dir.fd(), "k.diskqueue", small(100), quiet);
    (void)co_await q.open();
    for (int i = 0; i < 3; ++i) (void)q.put(make(std::uint64_t(i), std::string(20, char('a' + i))));  // 50 bytes each
    int rc = co_await q.flush();
    BOOST_TEST(rc == 0);
    BOOST_TEST(dir.read("k.diskqueue.meta.dat") == "2\n0,0\n1,0\n");
    BOOST_TEST(dir.read("k.diskqueue.000001.dat").size() == 50u);
  }  // no close: a crash
  disk_queue q(dir.fd(), "k.diskqueue", small(100), quiet);
  int rc = co_await q.open();
  BOOST_TEST(rc == 0);
  BOOST_TEST(q.depth() == 3);
  BOOST_TEST((q.write_position() == disk_position{2, 0}));
  BOOST_TEST(dir.read("k.diskqueue.meta.dat") == "3\n0,0\n2,0\n");  // persisted at once
  (void)q.put(make(3, std::string(20, 'd')));
  (void)co_await q.flush();
  std::vector<message> got = co_await q.read(10, 1 << 20);
  BOOST_TEST_REQUIRE(got.size() == 4u);
  for (int i = 0; i < 4; ++i) BOOST_TEST(got[std::size_t(i)].body.view() == std::string(20, char('a' + i)));
  BOOST_TEST(!dir.exists("k.diskqueue.000000.dat"));
  BOOST_TEST(!dir.exists("k.diskqueue.000001.dat"));
  BOOST_TEST(q.depth() == 0);
}

// An unreadable meta file: -EINVAL, and the queue starts empty after every segment there is.
CORO_TEST_CASE(bad_meta_starts_after_existing_segments) {
  test::data_dir dir;
  dir.write("m.diskqueue.meta.dat", "what\n");
  dir.write("m.diskqueue.000004.dat", "old data");
  dir.write("m.diskqueue.000007.dat.bad", "older");
  dir.write("m.diskqueue.s1.000042.dat", "another queue's");
  disk_queue q(dir.fd(), "m.diskqueue", small(), quiet);
  int rc = co_await q.open();
  BOOST_TEST(rc == -EINVAL);
  BOOST_TEST(q.depth() == 0);
  BOOST_TEST((q.read_position() == disk_position{8, 0}));
  BOOST_TEST((q.write_position() == disk_position{8, 0}));
  BOOST_TEST(!q.readable());
  (void)q.put(make(1, "new"));
  (void)co_await q.flush();
  BOOST_TEST(dir.exists("m.diskqueue.000008.dat"));
  BOOST_TEST(dir.read("m.diskqueue.000004.dat") == "old data");  // left alone
}

// A meta file whose reader is ahead of its writer: both skip to a fresh segment.
CORO_TEST_CASE(reader_ahead_of_writer_skips_to_a_fresh_segment) {
  test::data_dir dir;
  dir.write("i.diskqueue.meta.dat", "5\n3,10\n2,40\n");
  disk_queue q(dir.fd(), "i.diskqueue", small(), quiet);
  int rc = co_await q.open();
  BOOST_TEST(rc == 0);
  BOOST_TEST(q.depth() == 0);
  BOOST_TEST((q.read_position() == disk_position{4, 0}));
  BOOST_TEST((q.write_position() == disk_position{4, 0}));
  (void)q.put(make(1, "x"));
  (void)co_await q.flush();
  std::vector<message> got = co_await q.read(10, 1 << 20);
  BOOST_TEST(got.size() == 1u);
}

// read() stops at about max_bytes (payload bytes), but always gives at least one record.
CORO_TEST_CASE(read_limits) {
  test::data_dir dir;
  disk_queue q(dir.fd(), "l.diskqueue", small(), quiet);
  (void)co_await q.open();
  for (int i = 0; i < 10; ++i) (void)q.put(make(std::uint64_t(i), std::string(74, 'b')));  // 100-byte payloads
  BOOST_TEST(!q.readable());  // not flushed yet
  std::vector<message> none = co_await q.read(10, 1 << 20);
  BOOST_TEST(none.empty());
  (void)co_await q.flush();
  BOOST_TEST(q.readable());
  std::vector<message> got = co_await q.read(10, 0);
  BOOST_TEST(got.size() == 1u);
  got = co_await q.read(10, 250);
  BOOST_TEST(got.size() == 3u);
  got = co_await q.read(2, 1 << 20);
  BOOST_TEST(got.size() == 2u);
  BOOST_TEST(q.depth() == 4);
  BOOST_TEST((q.read_position() == disk_position{0, 6 * 104}));
  got = co_await q.read(100, 1 << 20);
  BOOST_TEST(got.size() == 4u);
  BOOST_TEST(!q.readable());
}

// Group commit: every flush with records ends with an fsync and the meta file.
CORO_TEST_CASE(sync_each_flush_writes_meta_every_time) {
  test::data_dir dir;
  disk_queue_limits l = small();
  l.sync_each_flush = true;
  disk_queue q(dir.fd(), "g.diskqueue", l, quiet);
  (void)co_await q.open();
  (void)q.put(make(1, "a"));
  (void)co_await q.flush();
  BOOST_TEST(dir.read("g.diskqueue.meta.dat") == "1\n0,0\n0,31\n");
  BOOST_TEST(!q.dirty());
  (void)q.put(make(2, "b"));
  (void)co_await q.flush();
  BOOST_TEST(dir.read("g.diskqueue.meta.dat") == "2\n0,0\n0,62\n");
  std::vector<message> got = co_await q.read(1, 1 << 20);
  BOOST_TEST(q.dirty());  // a read counts too
  int rc = co_await q.sync();
  BOOST_TEST(rc == 0);
  BOOST_TEST(dir.read("g.diskqueue.meta.dat") == "1\n0,31\n0,62\n");
  BOOST_TEST(!q.dirty());
}

// A completed segment that vanished is skipped; reading goes on with the next one.
CORO_TEST_CASE(missing_segment_is_skipped) {
  test::data_dir dir;
  co_await write_closed_queue(dir, "v.diskqueue", 5);
  std::filesystem::remove(dir.path() + "/v.diskqueue.000001.dat");
  disk_queue q(dir.fd(), "v.diskqueue", small(100), quiet);
  (void)co_await q.open();
  std::vector<message> got = co_await q.read(10, 1 << 20);
  BOOST_TEST_REQUIRE(got.size() == 3u);
  BOOST_TEST(got[2].body.view() == std::string(20, 'e'));
  BOOST_TEST(q.depth() == 0);
}

// deferred_journal (--durable-publish's copies of deferred messages): a journal whose
// messages were all released is emptied once the other can take new copies; copies still
// held are handed to the part's queue by the next open (after a crash).
CORO_TEST_CASE(deferred_journal_empties_released_copies_and_hands_over_held_ones) {
  test::data_dir dir;
  const disk_queue_limits l = journal_limits();
  core::task_group group{co_await core::this_context()};
  const deferred_journal::spawner spawn = spawner_of(group);
  disk_queue part(dir.fd(), "j.diskqueue", l, quiet);
  (void)co_await part.open();
  auto journal = std::make_shared<deferred_journal>(dir.fd(), "j.diskqueue", l, quiet, spawn);
  co_await journal->open(part);
  auto a = journal->keep(make(1, "a"));
  auto b = journal->keep(make(2, "b"));
  BOOST_TEST_REQUIRE((a && b));
  BOOST_TEST(a->first.journal == 0u);
  (void)co_await a->second->flush();
  BOOST_TEST(dir.exists("j.diskqueue.dpub0.000000.dat"));
  journal->release(a->first);
  journal->release(b->first);  // none held: new copies go to dpub1, dpub0 is emptied
  auto c = journal->keep(make(3, "c"));
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->first.journal == 1u);
  (void)co_await c->second->flush();
  co_await group.join();
  BOOST_TEST(!dir.exists("j.diskqueue.dpub0.000000.dat"));
  BOOST_TEST(journal->held() == 1);

  // "Crash": a new journal on the same files gives the held copy to the part's queue.
  disk_queue after(dir.fd(), "k.diskqueue", l, quiet);
  (void)co_await after.open();
  auto reopened = std::make_shared<deferred_journal>(dir.fd(), "j.diskqueue", l, quiet, spawn);
  co_await reopened->open(after);
  std::vector<message> got = co_await after.read(10, 1 << 20);
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(got[0].body.view() == "c");
  BOOST_TEST(!dir.exists("j.diskqueue.dpub1.000000.dat"));
  co_await reopened->remove();
  (void)co_await after.close();
  (void)co_await part.close();
}

// The active journal hands over once it has grown past rotate_bytes (the other one being
// empty), although its copies are still held; it is emptied when the last one is released.
CORO_TEST_CASE(deferred_journal_rotates_past_rotate_bytes) {
  test::data_dir dir;
  const disk_queue_limits l = journal_limits();
  core::task_group group{co_await core::this_context()};
  const deferred_journal::spawner spawn = spawner_of(group);
  disk_queue part(dir.fd(), "r.diskqueue", l, quiet);
  (void)co_await part.open();
  auto journal = std::make_shared<deferred_journal>(dir.fd(), "r.diskqueue", l, quiet, spawn, 100);
  co_await journal->open(part);
  std::vector<deferred_journal::ref> first;
  for (int i = 0; i < 4; ++i) {  // 31 bytes each: the fourth passes 100
    auto kept = journal->keep(make(std::uint64_t(i), "x"));
    BOOST_TEST_REQUIRE(kept.has_value());
    BOOST_TEST(kept->first.journal == 0u);
    first.push_back(kept->first);
    (void)co_await kept->second->flush();
  }
  auto next = journal->keep(make(9, "y"));
  BOOST_TEST_REQUIRE(next.has_value());
  BOOST_TEST(next->first.journal == 1u);
  (void)co_await next->second->flush();
  BOOST_TEST(dir.exists("r.diskqueue.dpub0.000000.dat"));  // still held
  for (auto r : first) journal->release(r);
  co_await group.join();
  BOOST_TEST(!dir.exists("r.diskqueue.dpub0.000000.dat"));
  BOOST_TEST(dir.exists("r.diskqueue.dpub1.000000.dat"));
  BOOST_TEST(journal->held() == 1);
  co_await journal->remove();
  (void)co_await part.close();
}

BOOST_AUTO_TEST_CASE(queue_and_journal_file_names_parse_back) {
  BOOST_TEST(disk_queue::prefix_of_file("t:c.diskqueue.meta.dat").value_or("") == "t:c.diskqueue");
  BOOST_TEST(disk_queue::prefix_of_file("t.diskqueue.s2.000012.dat").value_or("") == "t.diskqueue.s2");
  BOOST_TEST(disk_queue::prefix_of_file("t.diskqueue.1000000.dat").value_or("") == "t.diskqueue");
  BOOST_TEST(!disk_queue::prefix_of_file("t.diskqueue.000012.dat.bad"));
  BOOST_TEST(!disk_queue::prefix_of_file("t.diskqueue.12.dat"));
  BOOST_TEST(!disk_queue::prefix_of_file("t.diskqueue.deferred.dat"));
  BOOST_TEST(!disk_queue::prefix_of_file("nsqd.dat"));
  BOOST_TEST(!disk_queue::prefix_of_file(".meta.dat"));
  const std::string journal = deferred_journal::prefix("t.diskqueue.s3", 1);
  BOOST_TEST(journal == "t.diskqueue.s3.dpub1");
  BOOST_TEST(deferred_journal::part_prefix_of(journal).value_or("") == "t.diskqueue.s3");
  BOOST_TEST(!deferred_journal::part_prefix_of("t.diskqueue.s3"));
  BOOST_TEST(!deferred_journal::part_prefix_of("t.diskqueue.dpub2"));
}

// Crash-safe reads: records read with tickets stay where the meta file says reading starts,
// and their segments stay, until released; a reopen (as after a crash) reads them again.
CORO_TEST_CASE(held_records_stay_in_the_meta_until_released) {
  test::data_dir dir;
  {
    disk_queue q(dir.fd(), "held.diskqueue", small(100), quiet);
    (void)co_await q.open();
    for (int i = 0; i < 6; ++i) (void)q.put(make(std::uint64_t(i), std::string(20, char('a' + i))));
    (void)co_await q.flush();  // three segments of two 50-byte records
    std::vector<std::uint64_t> tickets;
    std::vector<message> got = co_await q.read(3, 1 << 20, &tickets);
    BOOST_TEST_REQUIRE(got.size() == 3u);
    BOOST_TEST_REQUIRE(tickets.size() == 3u);
    BOOST_TEST(q.depth() == 3);
    BOOST_TEST(q.held() == 3);
    (void)co_await q.sync();
    BOOST_TEST(dir.read("held.diskqueue.meta.dat") == "6\n0,0\n2,100\n");
    q.release(tickets[1]);  // not the first: reading still starts at record 0
    BOOST_TEST(q.held() == 3);
    (void)co_await q.sync();
    BOOST_TEST(dir.read("held.diskqueue.meta.dat") == "6\n0,0\n2,100\n");
    q.release(tickets[0]);  // 0 and 1 done: segment 0 is no longer needed
    BOOST_TEST(q.held() == 1);
    BOOST_TEST(q.dirty());
    (void)co_await q.sync();
    BOOST_TEST(dir.read("held.diskqueue.meta.dat") == "4\n1,0\n2,100\n");
    BOOST_TEST(!dir.exists("held.diskqueue.000000.dat"));
    BOOST_TEST(dir.exists("held.diskqueue.000001.dat"));
    q.release(tickets[0]);       // twice: ignored
    q.release(tickets[2] + 50);  // unknown: ignored
    BOOST_TEST(q.held() == 1);
    // Records 3.. are read without tickets: consumed, but record 2 still holds segment 1.
    got = co_await q.read(1, 1 << 20);
    BOOST_TEST(got.size() == 1u);
    (void)co_await q.sync();
    BOOST_TEST(dir.read("held.diskqueue.meta.dat") == "4\n1,0\n2,100\n");
    // No close: a crash. The reopened queue reads record 2 on.
  }
  {
    disk_queue q(dir.fd(), "held.diskqueue", small(100), quiet);
    (void)co_await q.open();
    BOOST_TEST(q.depth() == 4);
    std::vector<std::uint64_t> tickets;
    std::vector<message> got = co_await q.read(10, 1 << 20, &tickets);
    BOOST_TEST_REQUIRE(got.size() == 4u);
    BOOST_TEST(got[0].body.view() == std::string(20, 'c'));
    // close() counts held records as released (the owner put them elsewhere first).
    (void)co_await q.close();
    BOOST_TEST(dir.read("held.diskqueue.meta.dat") == "0\n2,100\n2,100\n");
    BOOST_TEST(!dir.exists("held.diskqueue.000001.dat"));
    BOOST_TEST(dir.exists("held.diskqueue.000002.dat"));  // still the write segment
  }
}

// empty() forgets held records: their tickets no longer count.
CORO_TEST_CASE(empty_forgets_held_records) {
  test::data_dir dir;
  disk_queue q(dir.fd(), "he.diskqueue", small(100), quiet);
  (void)co_await q.open();
  for (int i = 0; i < 4; ++i) (void)q.put(make(std::uint64_t(i), std::string(20, 'x')));
  (void)co_await q.flush();
  std::vector<std::uint64_t> tickets;
  (void)co_await q.read(4, 1 << 20, &tickets);
  BOOST_TEST(q.held() == 4);
  (void)co_await q.empty();
  BOOST_TEST(q.held() == 0);
  for (std::uint64_t t : tickets) q.release(t);
  (void)q.put(make(9, std::string(20, 'y')));
  (void)co_await q.flush();
  std::vector<std::uint64_t> more;
  std::vector<message> got = co_await q.read(4, 1 << 20, &more);
  BOOST_TEST(got.size() == 1u);
  BOOST_TEST(q.held() == 1);
  q.release(tickets[0]);  // a stale ticket from before the empty does not release the new record
  BOOST_TEST(q.held() == 1);
  q.release(more[0]);
  BOOST_TEST(q.held() == 0);
}

// reread_held: reading goes back to the first record not released, as a restart would; the
// held records' tickets go stale; records released after the first are read again too.
CORO_TEST_CASE(reread_held_reads_the_held_records_again) {
  test::data_dir dir;
  disk_queue q(dir.fd(), "rr.diskqueue", small(100), quiet);
  (void)co_await q.open();
  for (int i = 0; i < 5; ++i) (void)q.put(make(std::uint64_t(i), std::string(20, char('a' + i))));
  (void)co_await q.flush();  // segments of two records: 0-1, 2-3, 4
  std::vector<std::uint64_t> tickets;
  std::vector<message> got = co_await q.read(1, 1 << 20, &tickets);
  q.release(tickets[0]);  // record 0 is done
  tickets.clear();
  got = co_await q.read(3, 1 << 20, &tickets);  // 1, 2, 3 held, across segments 0 and 1
  BOOST_TEST_REQUIRE(got.size() == 3u);
  q.release(tickets[1]);  // 2 done, 1 still held: 1..3 are read again
  BOOST_TEST(q.depth() == 1);
  q.reread_held();
  BOOST_TEST(q.held() == 0);
  BOOST_TEST(q.depth() == 4);
  BOOST_TEST(q.dirty());
  q.release(tickets[0]);  // stale
  BOOST_TEST(q.held() == 0);
  std::vector<std::uint64_t> again;
  got = co_await q.read(10, 1 << 20, &again);
  BOOST_TEST_REQUIRE(got.size() == 4u);
  BOOST_TEST(got[0].body.view() == std::string(20, 'b'));
  BOOST_TEST(got[3].body.view() == std::string(20, 'e'));
  BOOST_TEST(q.depth() == 0);
  q.reread_held();  // none released: all four again
  BOOST_TEST(q.depth() == 4);
  for (std::uint64_t t : again) q.release(t);  // stale: nothing held
  BOOST_TEST(q.held() == 0);
  got = co_await q.read(10, 1 << 20);
  BOOST_TEST(got.size() == 4u);
  (void)co_await q.close();
  BOOST_TEST(dir.read("rr.diskqueue.meta.dat") == "0\n2,50\n2,50\n");
  q.reread_held();  // nothing held: nothing changes
  BOOST_TEST(q.depth() == 0);
}

// The number of descriptors this process has open.
std::size_t open_descriptors() {
  std::size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator("/proc/self/fd")) n += !e.path().empty();
  return n;
}

// close_files: an idle queue gives back its write and read segments' descriptors, and the
// next flush or read opens them again where it left off; uses() counts flushes and reads.
CORO_TEST_CASE(close_files_gives_back_descriptors_and_work_goes_on) {
  test::data_dir dir;
  const std::size_t before = open_descriptors();
  disk_queue q(dir.fd(), "cf.diskqueue", small(100), quiet);
  (void)co_await q.open();
  BOOST_TEST(!q.holds_files());
  BOOST_TEST(q.uses() == 0u);
  for (int i = 0; i < 3; ++i) (void)q.put(make(std::uint64_t(i), std::string(20, char('a' + i))));
  (void)co_await q.flush();  // segment 0 full (0, 1), segment 1 open for writing (2)
  std::vector<message> got = co_await q.read(1, 1 << 20);
  BOOST_TEST(got.size() == 1u);
  BOOST_TEST(q.holds_files());
  BOOST_TEST(q.uses() == 2u);
  BOOST_TEST(open_descriptors() == before + 2);  // the write segment and the read one
  co_await q.close_files();
  BOOST_TEST(!q.holds_files());
  BOOST_TEST(open_descriptors() == before);
  BOOST_TEST(q.uses() == 2u);  // closing is not a use
  (void)q.put(make(3, std::string(20, 'd')));
  int rc = co_await q.flush();
  BOOST_TEST(rc == 0);
  got = co_await q.read(10, 1 << 20);
  BOOST_TEST_REQUIRE(got.size() == 3u);
  BOOST_TEST(got[0].body.view() == std::string(20, 'b'));
  BOOST_TEST(got[2].body.view() == std::string(20, 'd'));
  co_await q.close_files();
  co_await q.close_files();  // nothing open: nothing to do
  rc = co_await q.close();
  BOOST_TEST(rc == 0);
  BOOST_TEST(open_descriptors() == before);
  BOOST_TEST(dir.read("cf.diskqueue.meta.dat") == "0\n1,100\n1,100\n");
}
