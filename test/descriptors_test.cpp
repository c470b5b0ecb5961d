#define BOOST_TEST_MODULE descriptors
// File descriptors (issue 28): started under systemd's default soft limit (1024) with a
// higher hard one, nsqd raises the soft limit to the hard one as Go's runtime does for
// upstream, logs it, and takes topics holding data on disk past 1024 descriptors, across a
// restart.

#include <boost/test/unit_test.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "test/support/nsqd_process.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;

namespace {

// Each topic's message is on disk (--mem-queue-size=0): one open queue file at least per topic.
constexpr int topics = 1500;

rlim_t hard_limit() {
  rlimit l{};
  ::getrlimit(RLIMIT_NOFILE, &l);
  return l.rlim_max;
}

// Topics and the sum of their depths, from /stats.
std::pair<std::size_t, std::int64_t> topics_and_depth(std::uint16_t http_port) {
  const auto stats = boost::json::parse(http_get(http_port, "/stats?format=json", 30s).body);
  const auto& list = stats.at("topics").as_array();
  std::int64_t depth = 0;
  for (const auto& t : list) depth += t.at("depth").to_number<std::int64_t>();
  return {list.size(), depth};
}

BOOST_AUTO_TEST_CASE(a_soft_limit_of_1024_is_raised_and_topics_on_disk_pass_it) {
  if (hard_limit() != RLIM_INFINITY && hard_limit() < rlim_t(3 * topics)) {
    BOOST_TEST_MESSAGE("hard descriptor limit " << hard_limit() << " too low for this test: not run");
    return;
  }
  nsqd_process nsqd;
  // As systemd starts services by default: soft 1024, the hard limit left as it is.
  nsqd.set_child_setup([] {
    rlimit l{};
    ::getrlimit(RLIMIT_NOFILE, &l);
    l.rlim_cur = 1024;
    if (::setrlimit(RLIMIT_NOFILE, &l) != 0) ::_exit(125);
  });
  const std::vector<std::string> args = {"--cores=2", "--mem-queue-size=0"};
  nsqd.start(args);
  const std::string hard = hard_limit() == RLIM_INFINITY ? "" : std::to_string(hard_limit());
  BOOST_TEST(nsqd.output().find("file descriptor limit: " + hard) != std::string::npos, nsqd.output().substr(0, 300));
  BOOST_TEST(nsqd.output().find("(soft limit raised to the hard one)") != std::string::npos);

  http_client h(nsqd.http_port(), 30s);
  int accepted = 0;
  for (int i = 0; i < topics; ++i) accepted += h.post("/pub?topic=t" + std::to_string(i), "m").status == 200;
  BOOST_TEST(accepted == topics);
  BOOST_TEST((topics_and_depth(nsqd.http_port()) == std::pair<std::size_t, std::int64_t>{topics, topics}));
  BOOST_TEST(nsqd.output().find("too many open files") == std::string::npos);
  BOOST_TEST(nsqd.stop(SIGTERM, 30s) == 0);

  nsqd.start(args);
  BOOST_TEST((topics_and_depth(nsqd.http_port()) == std::pair<std::size_t, std::int64_t>{topics, topics}));
  BOOST_TEST(nsqd.stop(SIGTERM, 30s) == 0);
}

}  // namespace
