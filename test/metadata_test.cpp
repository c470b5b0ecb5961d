#define BOOST_TEST_MODULE metadata
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "config/options.hpp"
#include "storage/metadata.hpp"
#include "test/support/coro_test.hpp"
#include "test/support/nsqd_process.hpp"

using namespace nsqd;
using namespace nsqd::storage;
using nsqd::nsqd_version;

namespace {

core::logger quiet{"[test] ", core::log_level::fatal};

}  // namespace

BOOST_AUTO_TEST_CASE(renders_upstream_shape) {
  std::vector<topic_meta> topics{{"t2", true, {{"c1", true}}}, {"t1", false, {}}};
  BOOST_TEST(render_metadata(topics, "1.3.0") ==
             R"({"topics":[{"name":"t2","paused":true,"channels":[{"name":"c1","paused":true}]},)"
             R"({"name":"t1","paused":false,"channels":null}],"version":"1.3.0"})");
  BOOST_TEST(render_metadata({}, "1.3.0") == R"({"topics":null,"version":"1.3.0"})");
}

BOOST_AUTO_TEST_CASE(parses_and_skips_invalid_names) {
  auto topics = parse_metadata(
      R"({"topics":[{"name":"ok","paused":true,"channels":[{"name":"c","paused":false},{"name":"bad name"}]},)"
      R"({"name":"no/slash","paused":false,"channels":null},{"name":"plain"}],"version":"1.2.1","extra":1})",
      quiet);
  BOOST_TEST_REQUIRE(topics.size() == 2u);
  BOOST_TEST(topics[0].name == "ok");
  BOOST_TEST(topics[0].paused);
  BOOST_TEST_REQUIRE(topics[0].channels.size() == 1u);
  BOOST_TEST(topics[0].channels[0].name == "c");
  BOOST_TEST(topics[1].name == "plain");
  BOOST_TEST(!topics[1].paused);
  BOOST_TEST(parse_metadata(R"({"topics":null,"version":"1.3.0"})", quiet).empty());
  BOOST_CHECK_THROW(parse_metadata("{not json", quiet), std::runtime_error);
  BOOST_CHECK_THROW(parse_metadata(R"({"topics":{"name":"x"}})", quiet), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(fixture_metadata_parses, *boost::unit_test::precondition(test::needs_shared)) {
  std::optional<std::string> shared = test::shared_dir();
  BOOST_TEST_REQUIRE(shared.has_value(), "../shared not found: set NSQ_SHARED");
  auto topics = parse_metadata(test::read_file(*shared + "/fixtures/upstream-data/data/nsqd.dat"), quiet);
  BOOST_TEST_REQUIRE(topics.size() == 5u);
  BOOST_TEST(topics[3].name == "frozen");
  BOOST_TEST(topics[3].paused);
}

BOOST_AUTO_TEST_CASE(deferred_sidecar_round_trip) {
  message_id a = *message_id::from_bytes("0123456789abcdef");
  message_id b = *message_id::from_bytes(std::string_view("\0\xff\x10zzzzzzzzzzzzz", 16));
  std::vector<deferred_record> in{{{0, 0}, a, 1'700'000'000'000'000'000}, {{12, 4096}, b, -1}};
  std::string text = render_deferred(in);
  BOOST_TEST(text.substr(0, text.find('\n')) == "0,0,1700000000000000000,30313233343536373839616263646566");
  auto out = parse_deferred(text + "garbage\n1,2,3,zz\n1,2,3," + std::string(32, 'z') + "\n-1,2,3," +
                            std::string(32, '0') + "\n");
  BOOST_TEST_REQUIRE(out.size() == 2u);
  BOOST_TEST((out[0].id == a));
  BOOST_TEST(out[0].due_ns == 1'700'000'000'000'000'000);
  BOOST_TEST((out[1].id == b));
  BOOST_TEST(out[1].at.file == 12);
  BOOST_TEST(out[1].at.pos == 4096);
  BOOST_TEST(out[1].due_ns == -1);
  BOOST_TEST(deferred_file_name("t:c.diskqueue") == "t:c.diskqueue.deferred.dat");
}

CORO_TEST_CASE(save_and_load_round_trip) {
  test::data_dir dir;
  auto none = co_await load_metadata(dir.fd(), dir.path() + "/nsqd.dat", quiet);
  BOOST_TEST(!none.has_value());
  std::vector<topic_meta> topics{{"a", false, {{"x", true}}}};
  int rc = co_await save_metadata(dir.fd(), topics);
  BOOST_TEST(rc == 0);
  BOOST_TEST(dir.read("nsqd.dat") == render_metadata(topics, nsqd_version));
  struct stat st {};
  BOOST_TEST(::stat((dir.path() + "/nsqd.dat").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  auto loaded = co_await load_metadata(dir.fd(), dir.path() + "/nsqd.dat", quiet);
  BOOST_TEST_REQUIRE(loaded.has_value());
  BOOST_TEST((*loaded)[0].channels[0].paused);
  // No temp file is left behind.
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  BOOST_TEST(files == 1u);
  std::ofstream(dir.path() + "/nsqd.dat") << "{broken";
  bool threw = false;
  try {
    (void)co_await load_metadata(dir.fd(), dir.path() + "/nsqd.dat", quiet);
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()).find("failed to parse metadata in") == 0;
  }
  BOOST_TEST(threw);
}
