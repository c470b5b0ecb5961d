#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/file.hpp"
#include "core/task.hpp"
#include "test/support/coro_test.hpp"

// Whole-file helpers (core/file.hpp): atomic writes, in-place writes, reads.

using namespace nsqd::core;

namespace {

// A fresh directory under /tmp, removed with what it holds.
struct scratch_dir {
  std::string path;
  int fd = -1;
  scratch_dir() {
    char tmpl[] = "/tmp/nsqd-core-file-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
    fd = ::open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    BOOST_REQUIRE(fd >= 0);
  }
  ~scratch_dir() {
    for (const std::string& n : names()) (void)::unlinkat(fd, n.c_str(), 0);
    ::close(fd);
    ::rmdir(path.c_str());
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path.c_str())) {
      while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') out.emplace_back(e->d_name);
      ::closedir(d);
    }
    return out;
  }
  mode_t mode_of(const std::string& name) const {
    struct stat st {};
    BOOST_REQUIRE(::fstatat(fd, name.c_str(), &st, 0) == 0);
    return st.st_mode & 0777;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(files)

// read_file grows its buffer in steps (4 KB first): files of every size around the steps come
// back whole, an empty one empty, a missing one as -ENOENT.
CORO_TEST_CASE(read_file_returns_whole_files_of_any_size) {
  char tmpl[] = "/tmp/nsqd-core-file-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
  const int dir = ::open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  BOOST_REQUIRE(dir >= 0);
  for (std::size_t size : {std::size_t(0), std::size_t(12), std::size_t(4096), std::size_t(4097),
                           std::size_t(12 * 1024), std::size_t(300 * 1000)}) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = char('a' + i % 23);
    const std::string name = "f" + std::to_string(size);
    BOOST_TEST(co_await write_file_atomically(dir, name, bytes, 0600) == 0);
    std::string got = "left over";
    BOOST_TEST(co_await read_file(dir, name, got) == 0);
    BOOST_TEST(got.size() == size);
    BOOST_TEST((got == bytes), "size " << size);
    (void)::unlinkat(dir, name.c_str(), 0);
  }
  std::string none;
  BOOST_TEST(co_await read_file(dir, "missing", none) == -ENOENT);
  ::close(dir);
  ::rmdir(tmpl);
}

// write_file replaces a file in place: a shorter text leaves nothing of the longer one, the
// mode is the one given, and no temporary file is left (nor by write_file_atomically).
CORO_TEST_CASE(write_file_replaces_in_place_and_leaves_nothing_else) {
  scratch_dir dir;
  BOOST_TEST(co_await write_file(dir.fd, "m.dat", "0\n12,3400\n12,5600\n", 0600) == 0);
  BOOST_TEST(co_await write_file(dir.fd, "m.dat", "0\n0,0\n0,0\n", 0600) == 0);
  std::string got;
  BOOST_TEST(co_await read_file(dir.fd, "m.dat", got) == 0);
  BOOST_TEST(got == "0\n0,0\n0,0\n");
  BOOST_TEST(dir.mode_of("m.dat") == mode_t(0600));
  BOOST_TEST(co_await write_file_atomically(dir.fd, "n.dat", "x", 0640) == 0);
  BOOST_TEST(dir.mode_of("n.dat") == mode_t(0640));
  std::vector<std::string> names = dir.names();
  BOOST_TEST(names.size() == 2u);  // m.dat and n.dat: no .tmp left behind
  BOOST_TEST(co_await write_file(dir.fd, "no-such-dir/m.dat", "x", 0600) == -ENOENT);
}

BOOST_AUTO_TEST_SUITE_END()
