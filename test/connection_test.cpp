#define BOOST_TEST_MODULE connection
// net::connection's input buffer (issue 17): small when taken, grown to its working size by
// traffic, given back when idle. Over a socketpair, on one reactor.

#include <boost/test/unit_test.hpp>

#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <string>

#include "core/io.hpp"
#include "core/log.hpp"
#include "core/reactor.hpp"
#include "core/task.hpp"
#include "core/task_group.hpp"
#include "net/connection.hpp"
#include "net/socket.hpp"

using namespace nsqd;
using namespace std::chrono_literals;

namespace {

struct socket_pair {
  net::unique_fd ours, theirs;
  socket_pair() {
    int fds[2];
    BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    ours = net::unique_fd(fds[0]);
    theirs = net::unique_fd(fds[1]);
  }
};

void send_all(int fd, const std::string& bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    BOOST_REQUIRE(n > 0);
    sent += size_t(n);
  }
}

std::string be32(std::uint32_t n) {
  const char b[4] = {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
  return std::string(b, 4);
}

template <class T>
T run(core::task<T> t) {
  core::logger log("[test] ", core::log_level::warn);
  core::reactor r(core::reactor_options{}, log);
  return r.run(std::move(t));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(input_buffer)

BOOST_AUTO_TEST_CASE(records_read_in_pieces_grow_it_to_the_working_size) {
  // As MPUB reads its messages: a 4-byte size from the buffer, then the body through
  // read_exact, which empties the buffer and receives the rest straight into the body. The
  // buffer must still grow from its first 512 bytes, or every recv takes 2 messages.
  socket_pair p;
  std::string records;
  for (int i = 0; i < 400; ++i) records += be32(200) + std::string(200, char('a' + i % 26));
  send_all(p.theirs.get(), records);
  struct local {
    static core::task<size_t> read(net::connection& conn) {
      size_t largest = 0;
      for (int i = 0; i < 400; ++i) {
        bool ok = co_await conn.fill(4);
        BOOST_REQUIRE(ok);
        conn.consume(4);
        largest = std::max(largest, conn.input_capacity());
        std::string body(200, '\0');
        ok = co_await conn.read_exact(body.data(), body.size());
        BOOST_REQUIRE(ok);
        BOOST_REQUIRE(body == std::string(200, char('a' + i % 26)));
      }
      co_return largest;
    }
  };
  net::connection conn(std::move(p.ours));
  BOOST_TEST(conn.input_capacity() == 0u);  // nothing taken before the first read
  BOOST_TEST(run(local::read(conn)) == 16u * 1024);
}

BOOST_AUTO_TEST_CASE(an_idle_connection_gives_it_back_and_takes_one_when_bytes_come) {
  socket_pair p;
  net::connection conn(std::move(p.ours));
  const int peer = p.theirs.get();
  struct local {
    static core::task<bool> reader(net::connection& conn) {
      bool ok = co_await conn.fill(5);
      co_return ok && conn.buffered() == "hello";
    }
    static core::task<std::string> main(net::connection& conn, int peer) {
      send_all(peer, "hi\n");
      auto line = co_await conn.read_line(100);
      BOOST_REQUIRE(line);
      BOOST_TEST(*line == "hi");
      conn.consume(3);
      bool got = false;
      core::task_group g{co_await core::this_context()};
      g.spawn([](net::connection& c, bool* out) -> core::task<void> { *out = co_await reader(c); }(conn, &got));
      co_await core::sleep_for(300ms);
      const size_t while_fresh = conn.input_capacity();
      co_await core::sleep_for(net::connection::idle_after + 300ms);
      const size_t while_idle = conn.input_capacity();
      send_all(peer, "hello");
      co_await g.join();
      co_return std::to_string(while_fresh > 0) + std::to_string(while_idle) + std::to_string(got) +
                std::to_string(conn.input_capacity() > 0);
    }
  };
  BOOST_TEST(run(local::main(conn, peer)) == "1011");  // held, given back (0), read, taken again
}

BOOST_AUTO_TEST_SUITE_END()
