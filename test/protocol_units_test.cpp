#define BOOST_TEST_MODULE protocol_units
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "broker/pqueue.hpp"
#include "model/message.hpp"
#include "model/message_id.hpp"
#include "model/names.hpp"
#include "protocol/command.hpp"
#include "protocol/frame.hpp"

using namespace std::string_view_literals;
using namespace nsqd;  // model types, broker::, protocol::

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// The message seen on the wire in SPEC B.2.
constexpr std::int64_t spec_ts = 1795415197492138014;
constexpr std::uint64_t spec_raw_id = 0x18a53f2fa7669000ULL;

message sample_message(std::string_view body) {
  nsqd::message m;
  m.id = message_id::from_raw(spec_raw_id);
  m.timestamp = spec_ts;
  m.attempts = 1;
  m.body = message_body::copy_of(body);
  return m;
}

}  // namespace

// --- frames ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(frame)

BOOST_AUTO_TEST_CASE(big_endian_helpers) {
  char b[8];
  net::put_u16(b, 0x1234);
  BOOST_TEST(std::string(b, 2) == bytes({0x12, 0x34}));
  BOOST_TEST(net::get_u16(b) == 0x1234);
  net::put_u32(b, 0xdeadbeef);
  BOOST_TEST(std::string(b, 4) == bytes({0xde, 0xad, 0xbe, 0xef}));
  BOOST_TEST(net::get_u32(b) == 0xdeadbeefu);
  BOOST_TEST(net::get_i32(b) == static_cast<std::int32_t>(0xdeadbeef));
  net::put_u64(b, 0x0102030405060708ULL);
  BOOST_TEST(std::string(b, 8) == bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  BOOST_TEST(net::get_u64(b) == 0x0102030405060708ULL);
  net::put_u64(b, std::numeric_limits<std::uint64_t>::max());
  BOOST_TEST(net::get_u64(b) == std::numeric_limits<std::uint64_t>::max());
  std::string out = "x";
  net::append_u32(out, 5);
  BOOST_TEST(out.size() == 5u);
  BOOST_TEST(out.substr(1) == bytes({0, 0, 0, 5}));
}

BOOST_AUTO_TEST_CASE(response_and_error_frames) {
  std::string out;
  protocol::append_response_frame(out, "OK");
  BOOST_TEST(out == bytes({0, 0, 0, 6, 0, 0, 0, 0}) + "OK");

  out.clear();
  protocol::append_response_frame(out, "");
  BOOST_TEST(out == bytes({0, 0, 0, 4, 0, 0, 0, 0}));

  out.clear();
  protocol::append_error_frame(out, "E_INVALID", "invalid command sub");
  const std::string text = "E_INVALID invalid command sub";
  BOOST_TEST(out == bytes({0, 0, 0, static_cast<int>(4 + text.size()), 0, 0, 0, 1}) + text);

  std::string joined;
  protocol::append_error_frame(joined, text);
  BOOST_TEST(joined == out);

  // Frames append; they never replace what is buffered.
  protocol::append_frame(out, protocol::frame_type::response, "_heartbeat_");
  BOOST_TEST(out.size() == 8 + text.size() + 8 + 11);
  BOOST_TEST(out.substr(8 + text.size()) == bytes({0, 0, 0, 15, 0, 0, 0, 0}) + "_heartbeat_");
}

BOOST_AUTO_TEST_CASE(message_frame) {
  const nsqd::message m = sample_message("hi");
  std::string out = "prefix";
  protocol::append_message_frame(out, m);
  const std::string expect = bytes({0, 0, 0, 4 + 26 + 2, 0, 0, 0, 2}) +
                             bytes({0x18, 0xea, 0x98, 0x9c, 0x0e, 0xdb, 0x50, 0x1e}) +  // ts
                             bytes({0, 1}) + "18a53f2fa7669000" + "hi";
  BOOST_TEST(net::get_u64(expect.data() + 8) == static_cast<std::uint64_t>(spec_ts));
  BOOST_TEST(out.substr(0, 6) == "prefix");
  BOOST_TEST(out.substr(6) == expect);

  char header[protocol::message_frame_header_size];
  protocol::write_message_frame_header(header, m);
  BOOST_TEST(std::string(header, sizeof header) == expect.substr(0, 34));
  BOOST_TEST(protocol::message_frame_header_size == 34u);

  // The frame's data is exactly the payload (and the payload is a disk record's tail).
  std::string payload;
  append_payload(payload, m);
  BOOST_TEST(expect.substr(8) == payload);
}

BOOST_AUTO_TEST_SUITE_END()

// --- command lines --------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(command)

BOOST_AUTO_TEST_CASE(line_limit_boundary) {
  using st = protocol::line_scan::status;
  BOOST_TEST(protocol::max_line_length == 16384u);

  auto r = protocol::scan_line("PUB t\nrest");
  BOOST_TEST((r.state == st::complete));
  BOOST_TEST(r.length == 6u);

  r = protocol::scan_line("");
  BOOST_TEST((r.state == st::need_more));
  r = protocol::scan_line("NOP");
  BOOST_TEST((r.state == st::need_more));
  BOOST_TEST(r.length == 0u);
  r = protocol::scan_line("\n");
  BOOST_TEST((r.state == st::complete));
  BOOST_TEST(r.length == 1u);

  // A 15000-byte line is fine.
  std::string line(15000, 'a');
  line += '\n';
  r = protocol::scan_line(line);
  BOOST_TEST((r.state == st::complete));
  BOOST_TEST(r.length == 15001u);

  // Largest accepted: 16383 bytes + '\n' = 16384, even with more data behind it.
  line.assign(16383, 'a');
  line += "\nNOP\n";
  r = protocol::scan_line(line);
  BOOST_TEST((r.state == st::complete));
  BOOST_TEST(r.length == 16384u);

  // 16383 bytes buffered, no '\n' yet: still waiting.
  line.assign(16383, 'a');
  BOOST_TEST((protocol::scan_line(line).state == st::need_more));
  // 16384 bytes without '\n': too long, whatever follows.
  line.assign(16384, 'a');
  BOOST_TEST((protocol::scan_line(line).state == st::too_long));
  line += '\n';
  BOOST_TEST((protocol::scan_line(line).state == st::too_long));
}

BOOST_AUTO_TEST_CASE(split_basic) {
  const std::string line = "SUB topic channel";
  const auto c = protocol::command_line::parse(line);
  BOOST_TEST(c.name() == "SUB");
  BOOST_TEST((c.kind() == protocol::command_kind::sub));
  BOOST_TEST(c.arg_count() == 2u);
  BOOST_TEST(c.arg(0) == "topic");
  BOOST_TEST(c.arg(1) == "channel");
  BOOST_TEST(c.arg(2) == "");
  BOOST_TEST(c.args().size() == 2u);
  // Views into the caller's line, no copies.
  BOOST_TEST(static_cast<const void*>(c.name().data()) == static_cast<const void*>(line.data()));
  BOOST_TEST(static_cast<const void*>(c.arg(1).data()) == static_cast<const void*>(line.data() + 10));
}

BOOST_AUTO_TEST_CASE(split_carriage_return) {
  auto c = protocol::command_line::parse("RDY 10\r");
  BOOST_TEST(c.name() == "RDY");
  BOOST_TEST(c.arg_count() == 1u);
  BOOST_TEST(c.arg(0) == "10");

  c = protocol::command_line::parse("NOP\r");
  BOOST_TEST(c.name() == "NOP");
  BOOST_TEST(c.arg_count() == 0u);

  // Only one trailing '\r' goes; others are data.
  c = protocol::command_line::parse("NOP\r\r");
  BOOST_TEST(c.name() == "NOP\r");
  c = protocol::command_line::parse("A\rB");
  BOOST_TEST(c.name() == "A\rB");
  c = protocol::command_line::parse("\r");
  BOOST_TEST(c.name() == "");
  BOOST_TEST(c.arg_count() == 0u);
}

BOOST_AUTO_TEST_CASE(split_spaces) {
  auto c = protocol::command_line::parse("SUB  t");
  BOOST_TEST(c.arg_count() == 2u);
  BOOST_TEST(c.arg(0) == "");
  BOOST_TEST(c.arg(1) == "t");

  c = protocol::command_line::parse("RDY ");
  BOOST_TEST(c.name() == "RDY");
  BOOST_TEST(c.arg_count() == 1u);
  BOOST_TEST(c.arg(0) == "");

  c = protocol::command_line::parse(" NOP");
  BOOST_TEST(c.name() == "");
  BOOST_TEST(c.arg_count() == 1u);
  BOOST_TEST(c.arg(0) == "NOP");

  c = protocol::command_line::parse("  ");
  BOOST_TEST(c.name() == "");
  BOOST_TEST(c.arg_count() == 2u);

  // Tabs are not separators.
  c = protocol::command_line::parse("SUB\tt");
  BOOST_TEST(c.name() == "SUB\tt");
  BOOST_TEST(c.arg_count() == 0u);
}

BOOST_AUTO_TEST_CASE(split_empty_line) {
  const auto c = protocol::command_line::parse("");
  BOOST_TEST(c.name() == "");
  BOOST_TEST(c.arg_count() == 0u);
  BOOST_TEST((c.kind() == protocol::command_kind::unknown));
}

BOOST_AUTO_TEST_CASE(split_extra_params) {
  auto c = protocol::command_line::parse("FIN 0123456789abcdef extra");
  BOOST_TEST(c.arg_count() == 2u);
  BOOST_TEST(c.arg(0) == "0123456789abcdef");

  c = protocol::command_line::parse("AUTH a b c d e f g h i j");
  BOOST_TEST(c.arg_count() == 10u);
  BOOST_TEST(c.args().size() == protocol::command_line::stored_args);
  BOOST_TEST(c.arg(7) == "h");
  BOOST_TEST(c.arg(8) == "");  // counted, not stored
  BOOST_TEST(c.arg(9) == "");

  // Thousands of empty params: counted exactly, nothing stored past the first 8.
  const std::string many = "AUTH" + std::string(10000, ' ');
  c = protocol::command_line::parse(many);
  BOOST_TEST(c.name() == "AUTH");
  BOOST_TEST(c.arg_count() == 10000u);
}

BOOST_AUTO_TEST_CASE(command_names) {
  const std::pair<std::string_view, protocol::command_kind> known[] = {
      {"IDENTIFY", protocol::command_kind::identify}, {"SUB", protocol::command_kind::sub},
      {"PUB", protocol::command_kind::pub},           {"MPUB", protocol::command_kind::mpub},
      {"DPUB", protocol::command_kind::dpub},         {"RDY", protocol::command_kind::rdy},
      {"FIN", protocol::command_kind::fin},           {"REQ", protocol::command_kind::req},
      {"TOUCH", protocol::command_kind::touch},       {"CLS", protocol::command_kind::cls},
      {"NOP", protocol::command_kind::nop},           {"AUTH", protocol::command_kind::auth},
  };
  for (const auto& [name, kind] : known) {
    BOOST_TEST((protocol::lookup_command(name) == kind), name);
    BOOST_TEST(protocol::command_name(kind) == name);
  }
  for (std::string_view bad : {"sub"sv, "Sub"sv, ""sv, "PUB "sv, "PUBX"sv, "PU"sv, "NOP\r"sv})
    BOOST_TEST((protocol::lookup_command(bad) == protocol::command_kind::unknown), bad);
  BOOST_TEST(protocol::command_name(protocol::command_kind::unknown) == "");
}

BOOST_AUTO_TEST_CASE(base10) {
  BOOST_TEST(protocol::parse_base10("0").value() == 0u);
  BOOST_TEST(protocol::parse_base10("2500").value() == 2500u);
  BOOST_TEST(protocol::parse_base10("007").value() == 7u);
  BOOST_TEST(protocol::parse_base10("3600001").value() == 3600001u);
  BOOST_TEST(protocol::parse_base10("18446744073709551615").value() ==
             std::numeric_limits<std::uint64_t>::max());
  // Overflow is rejected, not wrapped.
  BOOST_TEST(!protocol::parse_base10("18446744073709551616"));
  BOOST_TEST(!protocol::parse_base10("18446744073709551620"));
  BOOST_TEST(!protocol::parse_base10("99999999999999999999"));
  BOOST_TEST(!protocol::parse_base10("100000000000000000000"));
  for (std::string_view bad : {""sv, "-5"sv, "+5"sv, " 5"sv, "5 "sv, "1a"sv, "0x10"sv, "1.5"sv,
                               "1e3"sv, "\r"sv, "５"sv})
    BOOST_TEST(!protocol::parse_base10(bad), bad);
}

BOOST_AUTO_TEST_SUITE_END()

// --- names ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(names)

BOOST_AUTO_TEST_CASE(valid_names) {
  for (std::string_view n : {"a"sv, "test"sv, "Az09._-"sv, "."sv, "-"sv, "_"sv, ".."sv,
                             "t#ephemeral"sv, "a.b-c_d#ephemeral"sv}) {
    BOOST_TEST(is_valid_topic_name(n), n);
    BOOST_TEST(is_valid_channel_name(n), n);
  }
}

BOOST_AUTO_TEST_CASE(length_limits) {
  BOOST_TEST(is_valid_name(std::string(64, 'a')));
  BOOST_TEST(!is_valid_name(std::string(65, 'a')));
  BOOST_TEST(!is_valid_name(""));
  // The suffix counts toward the 64 bytes.
  BOOST_TEST(is_valid_name(std::string(54, 'a') + "#ephemeral"));
  BOOST_TEST(!is_valid_name(std::string(55, 'a') + "#ephemeral"));
}

BOOST_AUTO_TEST_CASE(invalid_names) {
  for (std::string_view n :
       {"#ephemeral"sv, "a#ephemeral#ephemeral"sv, "a#Ephemeral"sv, "a#ephemera"sv, "a#"sv,
        "#"sv, "a#ephemeralx"sv, "a b"sv, "a/b"sv, "a:b"sv, "a;b"sv, "a*"sv, "é"sv, "a\n"sv,
        "a\r"sv, "a\0b"sv, "#ephemeral#ephemeral"sv, " "sv, "a,b"sv})
    BOOST_TEST(!is_valid_name(n), n);
}

BOOST_AUTO_TEST_CASE(ephemeral) {
  BOOST_TEST(is_ephemeral("t#ephemeral"));
  BOOST_TEST(is_ephemeral("#ephemeral"));
  BOOST_TEST(!is_ephemeral("t"));
  BOOST_TEST(!is_ephemeral("t#ephemeralx"));
  BOOST_TEST(!is_ephemeral("ephemeral"));
  BOOST_TEST(!is_ephemeral(""));
}

BOOST_AUTO_TEST_SUITE_END()

// --- message ids ----------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(message_id)

BOOST_AUTO_TEST_CASE(hex_round_trip) {
  using nsqd::message_id;
  BOOST_TEST(message_id::from_raw(0).view() == "0000000000000000");
  BOOST_TEST(message_id::from_raw(~0ULL).view() == "ffffffffffffffff");
  BOOST_TEST(message_id::from_raw(spec_raw_id).view() == "18a53f2fa7669000");
  BOOST_TEST(message_id::from_raw(0x0123456789abcdefULL).view() == "0123456789abcdef");

  std::mt19937_64 rng(42);
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t v = rng();
    BOOST_TEST_REQUIRE(message_id::from_raw(v).raw().value() == v);
  }
}

BOOST_AUTO_TEST_CASE(from_bytes_and_validation) {
  using nsqd::message_id;
  BOOST_TEST(!message_id::from_bytes("0123456789abcde"));
  BOOST_TEST(!message_id::from_bytes("0123456789abcdef0"));
  BOOST_TEST(!message_id::from_bytes(""));
  // Any 16 bytes are an id (upstream does not check the hex) but have no raw value.
  const auto odd = message_id::from_bytes("xyz!456789ABCDEF");
  BOOST_TEST_REQUIRE(odd.has_value());
  BOOST_TEST(odd->view() == "xyz!456789ABCDEF");
  BOOST_TEST(!odd->raw());
  BOOST_TEST(!message_id::from_bytes("0123456789ABCDEF")->raw());  // uppercase is not ours
  BOOST_TEST(message_id::from_bytes("0123456789abcdef")->raw().value() == 0x0123456789abcdefULL);
  BOOST_TEST((*message_id::from_bytes("18a53f2fa7669000") == message_id::from_raw(spec_raw_id)));
}

BOOST_AUTO_TEST_CASE(ordering_and_hash) {
  using nsqd::message_id;
  BOOST_TEST((message_id::from_raw(1) < message_id::from_raw(2)));
  BOOST_TEST((message_id::from_raw(0xf) < message_id::from_raw(0x10)));
  BOOST_TEST((message_id::from_raw(0x9fffffffffffffffULL) < message_id::from_raw(0xa000000000000000ULL)));
  BOOST_TEST((message_id::from_raw(7) == message_id::from_raw(7)));
  BOOST_TEST((message_id::from_raw(7) != message_id::from_raw(8)));

  std::unordered_set<message_id> set;
  for (std::uint64_t i = 0; i < 5000; ++i) set.insert(message_id::from_raw(i << 12));
  BOOST_TEST(set.size() == 5000u);
  BOOST_TEST(set.count(message_id::from_raw(42 << 12)) == 1u);
  BOOST_TEST(set.count(message_id::from_raw(42)) == 0u);
  BOOST_TEST(std::hash<message_id>{}(message_id::from_raw(1)) !=
             std::hash<message_id>{}(message_id::from_raw(2)));
}

BOOST_AUTO_TEST_CASE(generator_matches_upstream_layout) {
  // SPEC B.2's observed id: node 617, sequence 0, at the message's own timestamp.
  message_id_generator g(617, 0, 1);
  BOOST_TEST(g.shard_bits() == 0u);
  BOOST_TEST(g.ids_per_tick() == 4096u);
  BOOST_TEST(g.next_raw(spec_ts) == spec_raw_id);
  BOOST_TEST(g.next_raw(spec_ts) == spec_raw_id + 1);
  BOOST_TEST(g.next(spec_ts).view() == "18a53f2fa7669002");
  // A new tick restarts the sequence.
  BOOST_TEST(g.next_raw(spec_ts + (1 << 20)) == spec_raw_id + (1ULL << 22));
  BOOST_TEST(message_id_generator::ticks_of(spec_ts) == 423406386845);
  BOOST_TEST(message_id_generator::ticks_of(0) == 0);
  BOOST_TEST(message_id_generator::ticks_of(-1) == 0);
}

BOOST_AUTO_TEST_CASE(generator_fields) {
  message_id_generator g(1023, 5, 8);  // 3 shard bits, 9 sequence bits
  BOOST_TEST(g.shard_bits() == 3u);
  BOOST_TEST(g.ids_per_tick() == 512u);
  const std::uint64_t id = g.next_raw(spec_ts);
  BOOST_TEST(((id >> 12) & 1023) == 1023u);
  BOOST_TEST(((id >> 9) & 7) == 5u);
  BOOST_TEST((id & 511) == 0u);
  BOOST_TEST((id >> 22) == 423406386845u);

  BOOST_TEST(message_id_generator(0, 0, 2).shard_bits() == 1u);
  BOOST_TEST(message_id_generator(0, 2, 3).shard_bits() == 2u);
  BOOST_TEST(message_id_generator(0, 0, 4).shard_bits() == 2u);
  BOOST_TEST(message_id_generator(0, 0, 5).shard_bits() == 3u);
  BOOST_TEST(message_id_generator(0, 4095, 4096).ids_per_tick() == 1u);
}

BOOST_AUTO_TEST_CASE(generator_rejects_bad_arguments) {
  using nsqd::message_id_generator;
  BOOST_CHECK_THROW(message_id_generator(1024, 0, 1), std::invalid_argument);
  BOOST_CHECK_THROW(message_id_generator(0, 0, 0), std::invalid_argument);
  BOOST_CHECK_THROW(message_id_generator(0, 4, 4), std::invalid_argument);
  BOOST_CHECK_THROW(message_id_generator(0, 0, 4097), std::invalid_argument);
  BOOST_CHECK_NO_THROW(message_id_generator(1023, 4095, 4096));
}

BOOST_AUTO_TEST_CASE(generator_burst_unique_across_shards) {
  // 1M ids within one clock tick, spread over 4 shards: all unique, strictly increasing per
  // shard, and each shard's ids carry its shard field.
  constexpr std::uint32_t shards = 4;
  constexpr std::size_t total = 1'000'000;
  std::vector<message_id_generator> gens;
  for (std::uint32_t s = 0; s < shards; ++s) gens.emplace_back(77, s, shards);
  std::vector<std::uint64_t> all;
  all.reserve(total);
  std::vector<std::uint64_t> last(shards, 0);
  bool monotonic = true, fields_ok = true;
  for (std::size_t i = 0; i < total; ++i) {
    const auto s = static_cast<std::uint32_t>(i % shards);
    const std::uint64_t id = gens[s].next_raw(spec_ts);
    if (i >= shards && id <= last[s]) monotonic = false;
    if (((id >> 10) & 3) != s || ((id >> 12) & 1023) != 77) fields_ok = false;
    last[s] = id;
    all.push_back(id);
  }
  BOOST_TEST(monotonic);
  BOOST_TEST(fields_ok);
  std::sort(all.begin(), all.end());
  BOOST_TEST((std::adjacent_find(all.begin(), all.end()) == all.end()));
  // 250000 ids per shard at 1024 per tick: the generator ran ~244 ticks ahead of the clock.
  const std::int64_t now_tick = message_id_generator::ticks_of(spec_ts);
  BOOST_TEST(gens[0].last_tick() == now_tick + 250000 / 1024);

  // Once the clock passes the logical tick, ids follow the clock again.
  const std::int64_t later = spec_ts + (std::int64_t{1000} << 20);
  const std::uint64_t id = gens[0].next_raw(later);
  BOOST_TEST((id >> 22) == static_cast<std::uint64_t>(message_id_generator::ticks_of(later)));
  BOOST_TEST((id & 1023) == 0u);
}

BOOST_AUTO_TEST_CASE(generator_sequence_exhaustion_advances_tick) {
  message_id_generator g(0, 0, 1);
  std::uint64_t prev = 0;
  for (int i = 0; i < 4096; ++i) prev = g.next_raw(spec_ts);
  BOOST_TEST((prev & 4095) == 4095u);
  const std::uint64_t next = g.next_raw(spec_ts);
  BOOST_TEST((next >> 22) == (prev >> 22) + 1);
  BOOST_TEST((next & 4095) == 0u);
}

BOOST_AUTO_TEST_CASE(generator_clock_going_back) {
  message_id_generator g(3, 1, 2);
  const std::uint64_t a = g.next_raw(spec_ts);
  const std::uint64_t b = g.next_raw(spec_ts - (std::int64_t{5000} << 20));  // 5 s back
  const std::uint64_t c = g.next_raw(0);
  BOOST_TEST(b > a);
  BOOST_TEST(c > b);
  BOOST_TEST((b >> 22) == (a >> 22));  // kept the logical tick, used the sequence
}

BOOST_AUTO_TEST_CASE(generator_restart) {
  // A restarted process (fresh generator) at a later clock makes ids above the old ones.
  message_id_generator before(9, 0, 2);
  std::uint64_t last = 0;
  for (int i = 0; i < 10000; ++i) last = before.next_raw(spec_ts);
  const std::int64_t restart_at = spec_ts + std::int64_t{2'000'000'000};  // 2 s later
  message_id_generator after(9, 0, 2);
  BOOST_TEST(after.next_raw(restart_at) > last);
}

BOOST_AUTO_TEST_SUITE_END()

// --- messages -------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(message)

BOOST_AUTO_TEST_CASE(body_sharing_and_release) {
  message_body empty;
  BOOST_TEST(empty.size() == 0u);
  BOOST_TEST(empty.empty());
  BOOST_TEST(empty.view() == "");
  BOOST_TEST(empty.use_count() == 0u);
  BOOST_TEST(message_body::copy_of("").use_count() == 0u);

  auto a = message_body::copy_of("hello");
  BOOST_TEST(a.use_count() == 1u);
  BOOST_TEST(a.view() == "hello");
  {
    message_body b = a;  // shares, no copy of the bytes
    BOOST_TEST(static_cast<const void*>(b.data()) == static_cast<const void*>(a.data()));
    BOOST_TEST(a.use_count() == 2u);
    message_body c;
    c = b;
    BOOST_TEST(a.use_count() == 3u);
    message_body d = std::move(c);
    BOOST_TEST(c.use_count() == 0u);
    BOOST_TEST(d.use_count() == 3u);
    d = d;  // self-assignment keeps the body
    BOOST_TEST(d.view() == "hello");
    BOOST_TEST(a.use_count() == 3u);
  }
  BOOST_TEST(a.use_count() == 1u);
  a = message_body::copy_of("other");  // the old buffer is freed here (ASan checks)
  BOOST_TEST(a.view() == "other");

  auto w = message_body::allocate(3);
  std::memcpy(w.mutable_data(), "abc", 3);
  BOOST_TEST(w.view() == "abc");
}

BOOST_AUTO_TEST_CASE(body_shared_across_threads) {
  // Copies made and dropped on several threads; the last one out frees the buffer.
  auto body = message_body::copy_of(std::string(1000, 'x'));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([copy = body] {
      for (int i = 0; i < 10000; ++i) {
        message_body c = copy;
        if (c.size() != 1000) std::abort();
      }
    });
  body = message_body{};
  for (auto& t : threads) t.join();
  BOOST_TEST(body.use_count() == 0u);
}

BOOST_AUTO_TEST_CASE(disk_record_bytes) {
  // SPEC D.3: a 1-byte body makes a 31-byte record.
  const nsqd::message m = sample_message("x");
  std::string rec;
  append_disk_record(rec, m);
  BOOST_TEST(rec.size() == 31u);
  BOOST_TEST(rec.substr(0, 4) == bytes({0, 0, 0, 27}));
  std::string payload;
  append_payload(payload, m);
  BOOST_TEST(payload_size(m) == 27u);
  BOOST_TEST(rec.substr(4) == payload);
  BOOST_TEST(payload.substr(10, 16) == "18a53f2fa7669000");
  BOOST_TEST(payload.substr(8, 2) == bytes({0, 1}));
  BOOST_TEST(payload.back() == 'x');
}

BOOST_AUTO_TEST_CASE(payload_round_trip) {
  nsqd::message m = sample_message(std::string("bin\0ary\xff", 8));
  m.attempts = 65535;
  m.timestamp = -5;  // any int64 survives
  std::string payload;
  append_payload(payload, m);
  const auto d = decode_payload(payload, 1024);
  BOOST_TEST_REQUIRE(d.has_value());
  BOOST_TEST((d->id == m.id));
  BOOST_TEST(d->timestamp == -5);
  BOOST_TEST(d->attempts == 65535u);
  BOOST_TEST(d->body.view() == m.body.view());
  BOOST_TEST(static_cast<const void*>(d->body.data()) != static_cast<const void*>(m.body.data()));  // decoded into its own buffer

  // Empty body: the 26-byte minimum.
  const nsqd::message e = sample_message("");
  payload.clear();
  append_payload(payload, e);
  BOOST_TEST(payload.size() == 26u);
  const auto de = decode_payload(payload, 1024);
  BOOST_TEST_REQUIRE(de.has_value());
  BOOST_TEST(de->body.empty());
}

BOOST_AUTO_TEST_CASE(payload_rejects) {
  const std::string max_body(100, 'b');
  std::string payload;
  append_payload(payload, sample_message(max_body));
  BOOST_TEST(decode_payload(payload, 100).has_value());   // exactly max+26
  BOOST_TEST(!decode_payload(payload, 99).has_value());   // one over
  BOOST_TEST(!decode_payload(payload.substr(0, 25), 100).has_value());
  BOOST_TEST(!decode_payload("", 100).has_value());

  BOOST_TEST(record_length_ok(26, 0));
  BOOST_TEST(!record_length_ok(27, 0));
  BOOST_TEST(!record_length_ok(25, 100));
  BOOST_TEST(!record_length_ok(-1, 100));
  BOOST_TEST(!record_length_ok(std::numeric_limits<std::int32_t>::min(), 100));
  BOOST_TEST(record_length_ok(1048576 + 26, 1048576));
  BOOST_TEST(!record_length_ok(1048576 + 27, 1048576));
}

BOOST_AUTO_TEST_SUITE_END()

// --- priority queue -------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(pqueue)

namespace {

struct item {
  broker::pqueue_slot pq_slot;
  int tag = 0;
};

using queue = broker::pqueue<item*>;

// Checks the heap invariant and that every element knows its position.
bool consistent(const queue& q, const std::vector<item>& items) {
  std::size_t queued = 0;
  for (const auto& it : items) {
    if (it.pq_slot.index < 0) continue;
    ++queued;
    if (!q.contains(const_cast<item*>(&it))) return false;
  }
  return queued == q.size();
}

}  // namespace

BOOST_AUTO_TEST_CASE(pops_in_priority_order) {
  std::vector<item> items(1000);
  std::mt19937_64 rng(7);
  queue q(1);
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].tag = static_cast<int>(i);
    q.push(&items[i], static_cast<std::int64_t>(rng() % 500) - 250);
  }
  BOOST_TEST(q.size() == 1000u);
  BOOST_TEST(consistent(q, items));
  std::int64_t prev = std::numeric_limits<std::int64_t>::min();
  bool ordered = true;
  while (!q.empty()) {
    item* top = q.top();
    item* p = q.pop();
    if (p != top || p->pq_slot.priority < prev || p->pq_slot.index != -1) ordered = false;
    prev = p->pq_slot.priority;
  }
  BOOST_TEST(ordered);
}

BOOST_AUTO_TEST_CASE(remove_any_element) {
  std::vector<item> items(200);
  std::mt19937_64 rng(11);
  queue q(20);
  for (auto& it : items) q.push(&it, static_cast<std::int64_t>(rng() % 1000));
  // Remove every third element, from anywhere in the heap.
  for (std::size_t i = 0; i < items.size(); i += 3) {
    BOOST_TEST(q.remove(&items[i]) == &items[i]);
    BOOST_TEST(!q.contains(&items[i]));
    BOOST_TEST(items[i].pq_slot.index == -1);
  }
  BOOST_TEST(consistent(q, items));
  BOOST_TEST(q.size() == 200u - 67u);
  std::int64_t prev = std::numeric_limits<std::int64_t>::min();
  bool ordered = true;
  while (!q.empty()) {
    item* p = q.pop();
    if (p->pq_slot.priority < prev || (&*p - items.data()) % 3 == 0) ordered = false;
    prev = p->pq_slot.priority;
  }
  BOOST_TEST(ordered);

  // Removing the last element and the top.
  item a, b;
  q.push(&a, 1);
  q.push(&b, 2);
  q.remove(&b);
  BOOST_TEST(q.top() == &a);
  q.remove(&a);
  BOOST_TEST(q.empty());
}

BOOST_AUTO_TEST_CASE(update_moves_both_ways) {
  std::vector<item> items(10);
  queue q(4);
  for (std::size_t i = 0; i < items.size(); ++i)
    q.push(&items[i], static_cast<std::int64_t>(i) * 10);
  BOOST_TEST(q.top() == &items[0]);
  q.update(&items[7], -1);  // up to the top
  BOOST_TEST(q.top() == &items[7]);
  q.update(&items[7], 1000);  // down to the bottom
  BOOST_TEST(q.top() == &items[0]);
  q.update(&items[0], 55);  // into the middle
  BOOST_TEST(consistent(q, items));
  std::vector<item*> order;
  while (!q.empty()) order.push_back(q.pop());
  const std::vector<item*> expect = {&items[1], &items[2], &items[3], &items[4], &items[5],
                                     &items[0], &items[6], &items[8], &items[9], &items[7]};
  BOOST_TEST((order == expect));
}

BOOST_AUTO_TEST_CASE(pop_due) {
  item a, b, c;
  queue q;
  BOOST_TEST(q.pop_due(100) == nullptr);  // empty
  q.push(&a, 100);
  q.push(&b, 50);
  q.push(&c, 200);
  BOOST_TEST(q.pop_due(49) == nullptr);
  BOOST_TEST(q.size() == 3u);
  BOOST_TEST(q.pop_due(50) == &b);  // due at exactly its priority
  BOOST_TEST(q.pop_due(150) == &a);
  BOOST_TEST(q.pop_due(150) == nullptr);
  BOOST_TEST(q.contains(&c));
  BOOST_TEST(q.pop_due(std::numeric_limits<std::int64_t>::max()) == &c);
  BOOST_TEST(q.empty());
  // A popped element can be queued again.
  q.push(&c, 1);
  BOOST_TEST(q.top() == &c);
}

BOOST_AUTO_TEST_CASE(growth_and_shrink) {
  std::vector<item> items(100);
  queue q(0);  // taken as 1
  BOOST_TEST(q.capacity() == 1u);
  std::vector<std::size_t> caps;
  for (std::size_t i = 0; i < items.size(); ++i) {
    q.push(&items[i], static_cast<std::int64_t>(i));
    if (caps.empty() || caps.back() != q.capacity()) caps.push_back(q.capacity());
  }
  BOOST_TEST((caps == std::vector<std::size_t>{1, 2, 4, 8, 16, 32, 64, 128}));

  // Upstream: a pop/remove that starts with n < cap/2 elements while cap > 25 halves cap.
  std::vector<std::pair<std::size_t, std::size_t>> shrinks;  // (size after, capacity)
  std::size_t cap = q.capacity();
  while (!q.empty()) {
    if (q.size() % 2) q.pop(); else q.remove(q.top());
    if (q.capacity() != cap) {
      cap = q.capacity();
      shrinks.emplace_back(q.size(), cap);
    }
  }
  BOOST_TEST((shrinks == std::vector<std::pair<std::size_t, std::size_t>>{{62, 64}, {30, 32}, {14, 16}}));
  BOOST_TEST(q.capacity() == 16u);

  // Initial capacity is honoured; shrinking halves once per pop.
  queue big(1000);
  BOOST_TEST(big.capacity() == 1000u);
  big.push(&items[0], 0);
  big.push(&items[1], 1);
  big.pop();  // n = 2 < 500 and 1000 > 25
  BOOST_TEST(big.capacity() == 500u);
  big.pop();  // n = 1 < 250 and 500 > 25
  BOOST_TEST(big.capacity() == 250u);
  BOOST_TEST(big.empty());
}

struct custom_slot_item {
  broker::pqueue_slot deferred;
};
struct deferred_access {
  static broker::pqueue_slot& slot(custom_slot_item* p) { return p->deferred; }
};

BOOST_AUTO_TEST_CASE(custom_accessor) {
  custom_slot_item x, y;
  broker::pqueue<custom_slot_item*, deferred_access> q;
  q.push(&x, 5);
  q.push(&y, 3);
  BOOST_TEST(q.pop() == &y);
  BOOST_TEST(y.deferred.index == -1);
  BOOST_TEST(x.deferred.index == 0);
}

BOOST_AUTO_TEST_SUITE_END()
