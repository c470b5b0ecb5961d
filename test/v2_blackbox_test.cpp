#define BOOST_TEST_MODULE v2_blackbox
// Black-box tests of TCP protocol V2 (SPEC B): every command and every error path against the
// built nsqd, each case on 1 and on 4 shards. Servers are shared per (flag profile, shards)
// for the whole run (topic names are unique per case), and every case that sends bad input
// checks that the server is still up and serving afterwards.
//
// /stats is not used: everything here is observable on the wire.

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <snappy.h>
#include <sys/socket.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test/support/nsqd_process.hpp"
#include "test/support/wire_client.hpp"

using namespace nsqd::test;
namespace bdata = boost::unit_test::data;
using clock_type = std::chrono::steady_clock;

namespace {

// ---- shared servers -------------------------------------------------------------------------

const std::map<std::string, std::vector<std::string>> profiles = {
    {"default", {}},
    {"limits",
     {"--max-msg-size=100", "--max-body-size=1000", "--max-rdy-count=50", "--msg-timeout=7s",
      "--max-msg-timeout=20s", "--max-req-timeout=3s", "--max-heartbeat-interval=20s",
      "--max-output-buffer-size=4096", "--max-output-buffer-timeout=5s",
      "--output-buffer-timeout=100ms", "--max-deflate-level=4", "--max-channel-consumers=2"}},
    // An auth address nobody answers: auth is "enabled" (AUTH itself is not built yet).
    {"auth", {"--auth-http-address=127.0.0.1:1"}},
    {"no_compression", {"--snappy=false", "--deflate=false"}},
};

class server_pool {
 public:
  nsqd_process& get(const std::string& profile, int cores) {
    auto& slot = _servers[{profile, cores}];
    if (slot && !slot->running()) slot.reset();  // a case killed it: that case failed; go on
    if (!slot) {
      slot = std::make_unique<nsqd_process>();
      std::vector<std::string> args = profiles.at(profile);
      args.push_back("--cores=" + std::to_string(cores));
      slot->start(args);
    }
    return *slot;
  }

 private:
  std::map<std::pair<std::string, int>, std::unique_ptr<nsqd_process>> _servers;
};

server_pool* pool = nullptr;

struct pool_fixture {
  server_pool servers;
  pool_fixture() { pool = &servers; }
  ~pool_fixture() { pool = nullptr; }
};

nsqd_process& server(int cores, const std::string& profile = "default") {
  return pool->get(profile, cores);
}

const auto shard_counts = bdata::make({1, 4});

// ---- helpers --------------------------------------------------------------------------------

std::string unique_name(std::string_view base, int cores) {
  static int seq = 0;
  return std::string(base) + "-" + std::to_string(cores) + "-" + std::to_string(++seq);
}

const frame ok_frame{frame_response, "OK"};
const frame heartbeat_frame{frame_response, "_heartbeat_"};
frame error_frame(const std::string& text) { return {frame_error, text}; }

wire_client connect(nsqd_process& srv) {
  wire_client c(srv.tcp_port());
  c.send_magic();
  return c;
}

void expect_fatal(wire_client& c, const std::string& text) {
  BOOST_TEST(c.read_frame() == error_frame(text));
  BOOST_TEST(c.expect_closed(3s));
}

// Sends `line` (+ body) on a fresh connection and expects a fatal error frame `text`.
void fatal_on_fresh(nsqd_process& srv, std::string_view line, std::optional<std::string_view> body,
                    const std::string& text) {
  wire_client c = connect(srv);
  c.send_command(line, body);
  expect_fatal(c, text);
}

void expect_silent(wire_client& c, milliseconds d) {
  auto f = c.read_frame_within(d);
  BOOST_TEST(!f.has_value(), "unexpected frame " << *f);
}

void pub(wire_client& c, const std::string& topic, std::string_view body) {
  c.send_command("PUB " + topic, body);
  BOOST_TEST(c.read_frame() == ok_frame);
}

std::string mpub_body(const std::vector<std::string>& bodies) {
  std::string out = be32(std::uint32_t(bodies.size()));
  for (const auto& b : bodies) out += be32(std::uint32_t(b.size())) + b;
  return out;
}

std::string identify_json(wire_client& c, const std::string& json) {
  c.send_command("IDENTIFY", json);
  frame f = c.read_frame();
  BOOST_REQUIRE_MESSAGE(f.type == frame_response, "IDENTIFY answered " << f);
  return f.data;
}

using message = wire_message;

message as_message(const frame& f) {
  BOOST_REQUIRE_MESSAGE(f.type == frame_message, "expected a message, got " << f);
  BOOST_REQUIRE(f.data.size() >= 26);
  return *parse_message(f);
}

message read_message(wire_client& c, milliseconds timeout = 5s) { return as_message(c.read_frame(timeout)); }

// IDENTIFY (if given), SUB, RDY.
wire_client consumer(nsqd_process& srv, const std::string& topic, const std::string& channel,
                     int rdy = 0, const std::string& identify = "") {
  wire_client c = connect(srv);
  if (!identify.empty()) BOOST_REQUIRE(identify_json(c, identify) == "OK");
  c.send_command("SUB " + topic + " " + channel);
  BOOST_REQUIRE(c.read_frame() == ok_frame);
  if (rdy > 0) c.send_command("RDY " + std::to_string(rdy));
  return c;
}

// Round trip on `c`: any error caused by earlier commands shows up before the OK.
void sync(wire_client& c, int cores) { pub(c, unique_name("sync", cores), "sync"); }

// The server survived: it runs and a new client can publish.
void expect_alive(nsqd_process& srv, int cores) {
  BOOST_REQUIRE(srv.running());
  wire_client c = connect(srv);
  sync(c, cores);
}

bool is_lower_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); });
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Reads until the server closes; true if only heartbeats came before the close.
bool closed_after_heartbeats(wire_client& c, milliseconds timeout) {
  deadline d(timeout);
  for (;;) {
    try {
      auto f = c.read_frame_within(d.left());
      if (!f) return false;
      if (*f != heartbeat_frame) return false;
    } catch (const wire_error&) {
      return true;
    }
  }
}


// ---- compressed streams, client side (IDENTIFY upgrades) -------------------------------------
// Written against the libraries and the format description, not against the server's codec.

std::uint32_t crc32c_bitwise(std::string_view s) {
  std::uint32_t c = ~0u;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

std::uint32_t snappy_crc(std::string_view s) {
  const std::uint32_t c = crc32c_bitwise(s);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string le32(std::uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = char(v >> (8 * i));
  return out;
}

std::uint32_t load_le(std::string_view s, std::size_t at, std::size_t n) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint32_t(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

const std::string snappy_identifier("\xff\x06\x00\x00sNaPpY", 10);

// A V2 connection after a compression upgrade: takes over `c`'s socket, and the bytes `c`
// already received past the negotiation frame are the start of the compressed stream.
class compressed_client {
 public:
  enum kind { snappy, deflate };

  compressed_client(wire_client& c, kind k, int level = 6) : _c(c), _kind(k) {
    if (k == deflate) {
      BOOST_REQUIRE(inflateInit2(&_in, -15) == Z_OK);
      BOOST_REQUIRE(deflateInit2(&_out, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    }
    decode(c.pending());
  }
  ~compressed_client() {
    if (_kind == deflate) {
      inflateEnd(&_in);
      deflateEnd(&_out);
    }
  }
  compressed_client(const compressed_client&) = delete;
  compressed_client& operator=(const compressed_client&) = delete;

  // Every compressed byte received so far.
  const std::string& raw() const { return _raw; }

  void send(std::string_view plain) { _c.send(encode(plain)); }
  void send_command(std::string_view line, std::optional<std::string_view> body = {}) {
    send(command_bytes(line, body));
  }
  static std::string command_bytes(std::string_view line, std::optional<std::string_view> body = {}) {
    std::string s(line);
    s += '\n';
    if (body) s += be32(std::uint32_t(body->size())) + std::string(*body);
    return s;
  }

  std::string encode(std::string_view plain) {
    std::string out;
    if (_kind == snappy) {
      if (!_sent_identifier) out += snappy_identifier;
      _sent_identifier = true;
      for (std::size_t at = 0; at < plain.size(); at += 65536) {
        std::string_view piece = plain.substr(at, 65536);
        std::string packed;
        snappy::Compress(piece.data(), piece.size(), &packed);
        std::string payload = le32(snappy_crc(piece)) + packed;
        out += le32(std::uint32_t(payload.size()) << 8).substr(0, 4);
        out[out.size() - 4] = '\x00';  // type: compressed
        out += payload;
      }
      return out;
    }
    std::string buf(deflateBound(&_out, uLong(plain.size())) + 64, '\0');
    _out.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
    _out.avail_in = uInt(plain.size());
    _out.next_out = reinterpret_cast<Bytef*>(buf.data());
    _out.avail_out = uInt(buf.size());
    BOOST_REQUIRE(::deflate(&_out, Z_SYNC_FLUSH) == Z_OK);
    BOOST_REQUIRE(_out.avail_in == 0u);
    buf.resize(buf.size() - _out.avail_out);
    return buf;
  }

  frame read_frame(milliseconds timeout = 5s) {
    const auto deadline = clock_type::now() + timeout;
    while (!complete_frame()) {
      if (!receive(deadline)) throw wire_error("no complete compressed frame in time (or closed)");
    }
    const std::size_t size = load_be(_plain, 0, 4);
    frame f{std::int32_t(load_be(_plain, 4, 4)), _plain.substr(8, size - 4)};
    _plain.erase(0, 4 + size);
    return f;
  }

  // True if the server closes within `timeout` without sending anything that decodes.
  bool expect_closed(milliseconds timeout = 3s) {
    const auto deadline = clock_type::now() + timeout;
    for (;;) {
      pollfd p{_c.fd(), POLLIN, 0};
      int left = int(std::chrono::duration_cast<milliseconds>(deadline - clock_type::now()).count());
      if (left <= 0 || ::poll(&p, 1, left) <= 0) return false;
      char buf[4096];
      ssize_t n = ::recv(_c.fd(), buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return _plain.empty();
      if (n < 0) return false;
      return false;
    }
  }

 private:
  bool complete_frame() const {
    return _plain.size() >= 4 && _plain.size() >= 4 + load_be(_plain, 0, 4);
  }

  bool receive(clock_type::time_point deadline) {
    pollfd p{_c.fd(), POLLIN, 0};
    int left = int(std::chrono::duration_cast<milliseconds>(deadline - clock_type::now()).count());
    if (left <= 0 || ::poll(&p, 1, left) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(_c.fd(), buf, sizeof buf, 0);
    if (n <= 0) return false;
    decode({buf, std::size_t(n)});
    return true;
  }

  void decode(std::string_view data) {
    _raw += data;
    if (_kind == deflate) {
      char buf[65536];
      _in.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      _in.avail_in = uInt(data.size());
      do {
        _in.next_out = reinterpret_cast<Bytef*>(buf);
        _in.avail_out = sizeof buf;
        int rc = ::inflate(&_in, Z_SYNC_FLUSH);
        BOOST_REQUIRE_MESSAGE(rc == Z_OK || rc == Z_BUF_ERROR, "server's deflate stream is corrupt: " << rc);
        _plain.append(buf, sizeof buf - _in.avail_out);
      } while (_in.avail_in > 0 || _in.avail_out == 0);
      return;
    }
    _pending += data;
    while (_pending.size() >= 4) {
      const unsigned type = static_cast<unsigned char>(_pending[0]);
      const std::size_t len = load_le(_pending, 1, 3);
      if (_pending.size() < 4 + len) break;
      std::string body = _pending.substr(4, len);
      _pending.erase(0, 4 + len);
      if (type == 0xff) {
        BOOST_REQUIRE(body == "sNaPpY");
        _seen_identifier = true;
        continue;
      }
      BOOST_REQUIRE_MESSAGE(_seen_identifier, "snappy stream without the identifier first");
      BOOST_REQUIRE_MESSAGE(type <= 1, "unexpected snappy chunk type " << type);
      BOOST_REQUIRE(len >= 4);
      std::string data_out = body.substr(4);
      if (type == 0) {
        std::string unpacked;
        BOOST_REQUIRE(snappy::Uncompress(data_out.data(), data_out.size(), &unpacked));
        data_out = unpacked;
      }
      BOOST_REQUIRE(data_out.size() <= 65536u);
      BOOST_REQUIRE_MESSAGE(snappy_crc(data_out) == load_le(body, 0, 4), "snappy chunk checksum mismatch");
      _plain += data_out;
    }
  }

  wire_client& _c;
  kind _kind;
  z_stream _in{};
  z_stream _out{};
  std::string _raw;
  std::string _pending;  // snappy: received, not yet a whole chunk
  std::string _plain;    // decoded, not yet read as frames
  bool _seen_identifier = false;
  bool _sent_identifier = false;
};

// IDENTIFY asking for `kind`; returns the negotiation answer and leaves `c` upgraded (the
// caller wraps it in a compressed_client, which reads the compressed OK).
std::string identify_compressed(wire_client& c, const std::string& json) {
  c.send_command("IDENTIFY", json);
  frame f = c.read_frame();
  BOOST_REQUIRE_MESSAGE(f.type == frame_response && f.data.starts_with("{"), "IDENTIFY answered " << f);
  return f.data;
}

std::string stats_json(nsqd_process& srv, const std::string& topic) {
  return http_get(srv.http_port(), "/stats?format=json&topic=" + topic).body;
}

// PUB (large, crossing snappy's 64 KiB blocks, and small), MPUB, SUB, RDY, FIN through `z`.
void pub_sub_through(compressed_client& z, const std::string& topic, int cores) {
  std::string big;
  for (int i = 0; big.size() < 150000; ++i) big += "compressible line " + std::to_string(i) + "\n";
  z.send_command("PUB " + topic, big);
  BOOST_TEST(z.read_frame() == ok_frame);
  z.send_command("MPUB " + topic, mpub_body({"m1", "m2"}));
  BOOST_TEST(z.read_frame() == ok_frame);
  z.send_command("SUB " + topic + " ch");
  BOOST_TEST(z.read_frame() == ok_frame);
  z.send_command("RDY 10");
  std::multiset<std::string> bodies;
  for (int i = 0; i < 3; ++i) {
    message m = as_message(z.read_frame());
    bodies.insert(m.body);
    z.send_command("FIN " + m.id);
  }
  BOOST_TEST((bodies == std::multiset<std::string>{big, "m1", "m2"}));
  // A plain publisher's messages reach the compressed consumer too.
  wire_client p = connect(server(cores));
  pub(p, topic, "plain");
  BOOST_TEST(as_message(z.read_frame()).body == "plain");
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(pool_fixture);

// ---- framing and command lines --------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(framing)

BOOST_DATA_TEST_CASE(bad_magic_gets_e_bad_protocol_and_close, shard_counts, cores) {
  auto& srv = server(cores);
  wire_client c(srv.tcp_port());
  c.send_magic("  V3");
  BOOST_TEST(c.read_frame() == (frame{frame_error, "E_BAD_PROTOCOL"}));
  BOOST_TEST(c.expect_closed(3s));
}

BOOST_DATA_TEST_CASE(invalid_commands_are_fatal, shard_counts, cores) {
  auto& srv = server(cores);
  fatal_on_fresh(srv, "FOO", {}, "E_INVALID invalid command FOO");
  fatal_on_fresh(srv, "nop", {}, "E_INVALID invalid command nop");
  fatal_on_fresh(srv, "", {}, "E_INVALID invalid command ");
  fatal_on_fresh(srv, "PUB\tt", {}, "E_INVALID invalid command PUB\tt");
  expect_alive(srv, cores);
}

BOOST_DATA_TEST_CASE(error_and_response_frame_bytes, shard_counts, cores) {
  auto& srv = server(cores);
  wire_client c = connect(srv);
  c.send_command("NOP");
  c.send_command("PUB " + unique_name("bytes", cores), std::string_view("x"));
  BOOST_TEST(c.read_exact(10) == std::string("\0\0\0\x06\0\0\0\0OK", 10));
  c.send_command("FOO");
  std::string text = "E_INVALID invalid command FOO";
  BOOST_TEST(c.read_exact(8 + text.size()) == be32(std::uint32_t(4 + text.size())) + be32(1) + text);
  BOOST_TEST(c.expect_closed(3s));
}

BOOST_DATA_TEST_CASE(crlf_extra_params_and_pipelining, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("lines", cores);
  wire_client c = connect(srv);
  c.send("PUB " + topic + "\r\n" + be32(2) + "hi");
  BOOST_TEST(c.read_frame() == ok_frame);
  c.send_command("NOP extra stuff");
  c.send_command("PUB " + topic + " extra", std::string_view("x"));
  BOOST_TEST(c.read_frame() == ok_frame);
  std::string batch;
  for (int i = 0; i < 5; ++i) batch += "PUB " + topic + "\n" + be32(1) + std::to_string(i);
  c.send(batch);
  for (int i = 0; i < 5; ++i) BOOST_TEST(c.read_frame() == ok_frame);
  // Everything landed: a consumer gets all 7.
  wire_client k = consumer(srv, topic, "ch", 10);
  std::multiset<std::string> bodies;
  for (int i = 0; i < 7; ++i) bodies.insert(read_message(k).body);
  BOOST_TEST((bodies == std::multiset<std::string>{"hi", "x", "0", "1", "2", "3", "4"}));
}

BOOST_DATA_TEST_CASE(double_space_means_empty_param, shard_counts, cores) {
  auto& srv = server(cores);
  fatal_on_fresh(srv, "PUB  sometopic", std::string_view("x"), "E_BAD_TOPIC PUB topic name \"\" is not valid");
}

BOOST_DATA_TEST_CASE(long_line_closes_without_frame, shard_counts, cores) {
  auto& srv = server(cores);
  {
    wire_client c = connect(srv);
    c.send(std::string(16384, 'X'));  // 16 KiB without '\n'
    BOOST_TEST(c.expect_closed(3s));
    BOOST_TEST(c.pending().empty());
  }
  {
    wire_client c = connect(srv);
    c.send("NOP " + std::string(15000, 'y') + "\n");
    sync(c, cores);
    c.send(std::string(16382, 'N') + "\n");  // 16383 bytes with the '\n': still a line
    BOOST_TEST(c.read_frame().data.starts_with("E_INVALID invalid command NNNN"));
    BOOST_TEST(c.expect_closed(3s));
  }
  expect_alive(srv, cores);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- IDENTIFY -------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(identify)

BOOST_DATA_TEST_CASE(plain_ok_and_repeatable, shard_counts, cores) {
  auto& srv = server(cores);
  wire_client c = connect(srv);
  BOOST_TEST(identify_json(c, R"({"client_id":"a","hostname":"h","user_agent":"test/1"})") == "OK");
  BOOST_TEST(identify_json(c, R"({"no_such_field":[1,{"x":null}],"client_id":"b"})") == "OK");
  BOOST_TEST(identify_json(c, "null") == "OK");
  BOOST_TEST(identify_json(c, R"({"deflate":true,"snappy":true})") == "OK");  // ignored without negotiation
  sync(c, cores);
}

BOOST_DATA_TEST_CASE(negotiation_defaults_exact, shard_counts, cores) {
  auto& srv = server(cores);
  wire_client c = connect(srv);
  BOOST_TEST(identify_json(c, R"({"feature_negotiation":true,"tls_v1":true})") ==
             R"({"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,)"
             R"("tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,)"
             R"("sample_rate":0,"auth_required":false,"output_buffer_size":16384,)"
             R"("output_buffer_timeout":250,"topology_region":"","topology_zone":""})");
  sync(c, cores);
}

BOOST_DATA_TEST_CASE(negotiation_reflects_client_and_server, shard_counts, cores) {
  {
    wire_client c = connect(server(cores));
    std::string j = identify_json(
        c, R"({"feature_negotiation":true,"msg_timeout":5000,"heartbeat_interval":5000,)"
           R"("output_buffer_size":2048,"output_buffer_timeout":500,"sample_rate":25})");
    BOOST_TEST(j.find(R"("msg_timeout":5000,)") != std::string::npos, j);
    BOOST_TEST(j.find(R"("sample_rate":25,)") != std::string::npos, j);
    BOOST_TEST(j.find(R"("output_buffer_size":2048,"output_buffer_timeout":500,)") != std::string::npos, j);
  }
  {
    wire_client c = connect(server(cores, "limits"));
    std::string j = identify_json(c, R"({"feature_negotiation":true})");
    BOOST_TEST(j.starts_with(R"({"max_rdy_count":50,"version":"1.3.0","max_msg_timeout":20000,"msg_timeout":7000,)"), j);
    BOOST_TEST(j.find(R"("deflate_level":4,"max_deflate_level":4,)") != std::string::npos, j);
    BOOST_TEST(j.find(R"("output_buffer_size":16384,"output_buffer_timeout":100,)") != std::string::npos, j);
  }
  {
    wire_client c = connect(server(cores));
    // Keys match case-insensitively, as Go's decoder does; the last duplicate wins.
    std::string j = identify_json(c, R"({"Feature_Negotiation":true,"SAMPLE_RATE":10,"sample_rate":50})");
    BOOST_TEST(j.find(R"("sample_rate":50,)") != std::string::npos, j);
  }
}

BOOST_DATA_TEST_CASE(output_buffer_minus_one, shard_counts, cores) {
  auto& srv = server(cores);
  wire_client a = connect(srv);
  std::string j = identify_json(a, R"({"feature_negotiation":true,"output_buffer_size":-1})");
  BOOST_TEST(j.find(R"("output_buffer_size":1,"output_buffer_timeout":0,)") != std::string::npos, j);
  wire_client b = connect(srv);
  j = identify_json(b, R"({"feature_negotiation":true,"output_buffer_timeout":-1})");
  BOOST_TEST(j.find(R"("output_buffer_size":16384,"output_buffer_timeout":0,)") != std::string::npos, j);
}

BOOST_DATA_TEST_CASE(out_of_range_values_are_fatal, shard_counts, cores) {
  auto& srv = server(cores);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"heartbeat_interval":999})", "heartbeat interval (999) is invalid"},
      {R"({"heartbeat_interval":60001})", "heartbeat interval (60001) is invalid"},
      {R"({"heartbeat_interval":-2})", "heartbeat interval (-2) is invalid"},
      {R"({"output_buffer_size":63})", "output buffer size (63) is invalid"},
      {R"({"output_buffer_size":65537})", "output buffer size (65537) is invalid"},
      {R"({"output_buffer_timeout":24})", "output buffer timeout (24) is invalid"},
      {R"({"output_buffer_timeout":30001})", "output buffer timeout (30001) is invalid"},
      // the timeout is checked before the size, as upstream does
      {R"({"output_buffer_size":63,"output_buffer_timeout":24})", "output buffer timeout (24) is invalid"},
      {R"({"sample_rate":100})", "sample rate (100) is invalid"},
      {R"({"sample_rate":-1})", "sample rate (-1) is invalid"},
      {R"({"msg_timeout":999})", "msg timeout (999) is invalid"},
      {R"({"msg_timeout":900001})", "msg timeout (900001) is invalid"},
  };
  for (const auto& [json, text] : cases) fatal_on_fresh(srv, "IDENTIFY", json, "E_BAD_BODY IDENTIFY " + text);
  auto& lim = server(cores, "limits");
  fatal_on_fresh(lim, "IDENTIFY", R"({"heartbeat_interval":20001})", "E_BAD_BODY IDENTIFY heartbeat interval (20001) is invalid");
  fatal_on_fresh(lim, "IDENTIFY", R"({"output_buffer_size":4097})", "E_BAD_BODY IDENTIFY output buffer size (4097) is invalid");
  fatal_on_fresh(lim, "IDENTIFY", R"({"msg_timeout":20001})", "E_BAD_BODY IDENTIFY msg timeout (20001) is invalid");
  expect_alive(srv, cores);
}

BOOST_DATA_TEST_CASE(bad_json_and_types_are_fatal, shard_counts, cores) {
  auto& srv = server(cores);
  const std::string text = "E_BAD_BODY IDENTIFY failed to decode JSON body";
  for (std::string body : std::vector<std::string>{"{not json", "[]", "\"str\"", "12", R"({"a":1} x)", R"({"client_id":5})",
                           R"({"heartbeat_interval":"1000"})", R"({"heartbeat_interval":1000.5})",
                           R"({"heartbeat_interval":1e3})", R"({"feature_negotiation":1})",
                           R"({"sample_rate":4294967296})", R"({"msg_timeout":18446744073709551615})"})
    fatal_on_fresh(srv, "IDENTIFY", body, text);
  expect_alive(srv, cores);
}

BOOST_DATA_TEST_CASE(body_size_errors, shard_counts, cores) {
  auto& srv = server(cores);
  {
    wire_client c = connect(srv);
    c.send("IDENTIFY\n" + be32(0));
    expect_fatal(c, "E_BAD_BODY IDENTIFY invalid body size 0");
  }
  {
    wire_client c = connect(srv);
    c.send("IDENTIFY\n" + be32(0xffffffff));
    expect_fatal(c, "E_BAD_BODY IDENTIFY invalid body size -1");
  }
  {
    wire_client c = connect(srv);
    c.send("IDENTIFY\n" + be32(5242881));
    expect_fatal(c, "E_BAD_BODY IDENTIFY body too big 5242881 > 5242880");
  }
  {
    wire_client c = connect(srv);
    c.send("IDENTIFY\n" + be32(100) + "{\"client_id\":");  // then hang up mid-body
    c.shutdown_send();
    expect_fatal(c, "E_BAD_BODY IDENTIFY failed to read body");
  }
  {
    wire_client c = connect(srv);
    c.send(std::string("IDENTIFY\n\0\0", 11));
    c.shutdown_send();
    expect_fatal(c, "E_BAD_BODY IDENTIFY failed to read body size");
  }
  expect_alive(srv, cores);
}

BOOST_DATA_TEST_CASE(deflate_and_snappy_together_fatal, shard_counts, cores) {
  fatal_on_fresh(server(cores), "IDENTIFY", R"({"feature_negotiation":true,"deflate":true,"snappy":true})",
                 "E_IDENTIFY_FAILED cannot enable both deflate and snappy compression");
}

BOOST_DATA_TEST_CASE(compression_not_offered_when_disabled, shard_counts, cores) {
  wire_client c = connect(server(cores, "no_compression"));
  // --snappy=false --deflate=false: neither is chosen, so asking for both is no conflict.
  std::string j = identify_json(c, R"({"feature_negotiation":true,"deflate":true,"deflate_level":3,"snappy":true})");
  BOOST_TEST(j.find(R"("deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,)") != std::string::npos, j);
  sync(c, cores);  // no upgrade happened: plain frames still
}

BOOST_DATA_TEST_CASE(snappy_upgrade_bytes_and_traffic, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("snappy", cores);
  wire_client c = connect(srv);
  std::string j = identify_compressed(c, R"({"feature_negotiation":true,"snappy":true})");
  BOOST_TEST(j.find(R"("deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":true,)") != std::string::npos, j);
  compressed_client z(c, compressed_client::snappy);
  BOOST_TEST(z.read_frame() == ok_frame);  // the first thing in the compressed stream
  // The stream starts with the identifier, then one stored chunk holding the OK frame.
  const std::string ok_bytes = be32(6) + be32(0) + "OK";
  BOOST_TEST(z.raw() == snappy_identifier + "\x01" + le32(4 + 10).substr(0, 3) + le32(snappy_crc(ok_bytes)) + ok_bytes);
  pub_sub_through(z, topic, cores);
  std::string s = stats_json(srv, topic);
  BOOST_TEST(s.find(R"("deflate":false,"snappy":true,)") != std::string::npos, s);
}

BOOST_DATA_TEST_CASE(deflate_upgrade_and_traffic, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("deflate", cores);
  wire_client c = connect(srv);
  std::string j = identify_compressed(c, R"({"feature_negotiation":true,"deflate":true,"deflate_level":3})");
  BOOST_TEST(j.find(R"("deflate":true,"deflate_level":3,"max_deflate_level":6,"snappy":false,)") != std::string::npos, j);
  compressed_client z(c, compressed_client::deflate, 3);
  BOOST_TEST(z.read_frame() == ok_frame);
  // Raw DEFLATE, sync-flushed: the OK arrives whole, ending with an empty stored block.
  BOOST_TEST(z.raw().ends_with(std::string("\x00\x00\xff\xff", 4)));
  pub_sub_through(z, topic, cores);
  std::string s = stats_json(srv, topic);
  BOOST_TEST(s.find(R"("deflate":true,"snappy":false,)") != std::string::npos, s);
}

BOOST_DATA_TEST_CASE(deflate_level_defaults_and_clamps, shard_counts, cores) {
  {  // no level asked: 6
    wire_client c = connect(server(cores));
    std::string j = identify_compressed(c, R"({"feature_negotiation":true,"deflate":true})");
    BOOST_TEST(j.find(R"("deflate":true,"deflate_level":6,)") != std::string::npos, j);
    compressed_client z(c, compressed_client::deflate);
    BOOST_TEST(z.read_frame() == ok_frame);
  }
  {  // above --max-deflate-level=4: 4
    auto& lim = server(cores, "limits");
    wire_client c = connect(lim);
    std::string j = identify_compressed(c, R"({"feature_negotiation":true,"deflate":true,"deflate_level":9})");
    BOOST_TEST(j.find(R"("deflate":true,"deflate_level":4,"max_deflate_level":4,)") != std::string::npos, j);
    compressed_client z(c, compressed_client::deflate, 4);
    BOOST_TEST(z.read_frame() == ok_frame);
    z.send_command("PUB " + unique_name("clamped", cores), std::string_view("x"));
    BOOST_TEST(z.read_frame() == ok_frame);
  }
}

BOOST_DATA_TEST_CASE(commands_pipelined_after_the_upgrade_are_compressed, shard_counts, cores) {
  // Bytes sent right behind IDENTIFY, before its answer, already belong to the new stream.
  for (auto k : {compressed_client::snappy, compressed_client::deflate}) {
    wire_client c = connect(server(cores));
    std::string json = k == compressed_client::snappy ? R"({"feature_negotiation":true,"snappy":true})"
                                                      : R"({"feature_negotiation":true,"deflate":true})";
    // A throwaway encoder builds the compressed bytes; compressed_client keeps encoding on
    // from a fresh state, so it is only used for reading here.
    std::string topic = unique_name("pipelined", cores);
    std::string plain = compressed_client::command_bytes("PUB " + topic, std::string_view("early")) +
                        compressed_client::command_bytes("NOP");
    std::string packed;
    if (k == compressed_client::snappy) {
      std::string piece;
      snappy::Compress(plain.data(), plain.size(), &piece);
      std::string payload = le32(snappy_crc(plain)) + piece;
      packed = snappy_identifier + '\x00' + le32(std::uint32_t(payload.size())).substr(0, 3) + payload;
    } else {
      z_stream zs{};
      BOOST_REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
      packed.resize(deflateBound(&zs, uLong(plain.size())) + 64);
      zs.next_in = reinterpret_cast<Bytef*>(plain.data());
      zs.avail_in = uInt(plain.size());
      zs.next_out = reinterpret_cast<Bytef*>(packed.data());
      zs.avail_out = uInt(packed.size());
      ::deflate(&zs, Z_SYNC_FLUSH);
      packed.resize(packed.size() - zs.avail_out);
      deflateEnd(&zs);
    }
    c.send("IDENTIFY\n" + be32(std::uint32_t(json.size())) + json + packed);
    frame f = c.read_frame();
    BOOST_REQUIRE(f.type == frame_response);
    compressed_client z(c, k);
    BOOST_TEST(z.read_frame() == ok_frame);  // the upgrade's OK
    BOOST_TEST(z.read_frame() == ok_frame);  // the pipelined PUB's
    wire_client k2 = consumer(server(cores), topic, "ch", 1);
    BOOST_TEST(read_message(k2).body == "early");
  }
}

BOOST_DATA_TEST_CASE(corrupt_compressed_input_closes_the_connection, shard_counts, cores) {
  auto& srv = server(cores);
  {
    wire_client c = connect(srv);
    identify_compressed(c, R"({"feature_negotiation":true,"snappy":true})");
    compressed_client z(c, compressed_client::snappy);
    BOOST_TEST(z.read_frame() == ok_frame);
    c.send("NOP\n");  // plain text where the stream identifier must be
    BOOST_TEST(z.expect_closed());
  }
  {
    wire_client c = connect(srv);
    identify_compressed(c, R"({"feature_negotiation":true,"snappy":true})");
    compressed_client z(c, compressed_client::snappy);
    BOOST_TEST(z.read_frame() == ok_frame);
    std::string chunk = z.encode("NOP\n");  // identifier + chunk, checksum broken
    chunk[14] ^= 0x01;
    c.send(chunk);
    BOOST_TEST(z.expect_closed());
  }
  {
    wire_client c = connect(srv);
    identify_compressed(c, R"({"feature_negotiation":true,"deflate":true})");
    compressed_client z(c, compressed_client::deflate);
    BOOST_TEST(z.read_frame() == ok_frame);
    c.send(std::string("\xff\xff\xff\xff", 4));  // block type 3: invalid DEFLATE
    BOOST_TEST(z.expect_closed());
  }
  expect_alive(srv, cores);
}

BOOST_DATA_TEST_CASE(after_sub_is_fatal, shard_counts, cores) {
  wire_client c = consumer(server(cores), unique_name("idsub", cores), "ch");
  c.send_command("IDENTIFY", std::string_view("{}"));
  expect_fatal(c, "E_INVALID cannot IDENTIFY in current state");
}

BOOST_DATA_TEST_CASE(heartbeats_disabled_blocks_sub, shard_counts, cores) {
  wire_client c = connect(server(cores));
  BOOST_TEST(identify_json(c, R"({"heartbeat_interval":-1})") == "OK");
  c.send_command("SUB " + unique_name("nohb", cores) + " ch");
  expect_fatal(c, "E_INVALID cannot SUB with heartbeats disabled");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- PUB / MPUB / DPUB ----------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(publish)

BOOST_DATA_TEST_CASE(pub_errors, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("puberr", cores);
  fatal_on_fresh(srv, "PUB", {}, "E_INVALID PUB insufficient number of parameters");
  fatal_on_fresh(srv, "PUB bad!topic", std::string_view("x"), "E_BAD_TOPIC PUB topic name \"bad!topic\" is not valid");
  fatal_on_fresh(srv, "PUB a\"b", std::string_view("x"), "E_BAD_TOPIC PUB topic name \"a\\\"b\" is not valid");
  for (std::string bad : {std::string("#ephemeral"), topic + "#eph", topic + "#ephemeral#ephemeral", std::string(65, 'a')})
    fatal_on_fresh(srv, "PUB " + bad, std::string_view("x"), "E_BAD_TOPIC PUB topic name \"" + bad + "\" is not valid");
  for (auto [size, text] : {std::pair<std::uint32_t, std::string>{0, "PUB invalid message body size 0"},
                            {0xffffffff, "PUB invalid message body size -1"},
                            {1048577, "PUB message too big 1048577 > 1048576"}}) {
    wire_client c = connect(srv);
    c.send("PUB " + topic + "\n" + be32(size));
    expect_fatal(c, "E_BAD_MESSAGE " + text);
  }
  {
    wire_client c = connect(srv);
    c.send("PUB " + topic + "\n" + be32(10) + "abc");
    c.shutdown_send();
    expect_fatal(c, "E_BAD_MESSAGE PUB failed to read message body");
  }
  expect_alive(srv, cores);
}

BOOST_DATA_TEST_CASE(pub_names_and_sizes, shard_counts, cores) {
  auto& srv = server(cores);
  wire_client c = connect(srv);
  std::string name64 = (unique_name("n", cores) + std::string(64, 'a')).substr(0, 64);
  pub(c, name64, "x");
  pub(c, "A.b_c-" + unique_name("forms", cores), "x");
  pub(c, unique_name("eph", cores) + "#ephemeral", "x");
  pub(c, unique_name("big", cores), std::string(1048576, 'm'));  // exactly --max-msg-size
  auto& lim = server(cores, "limits");
  wire_client l = connect(lim);
  std::string topic = unique_name("lim", cores);
  pub(l, topic, std::string(100, 'm'));
  l.send("PUB " + topic + "\n" + be32(101));
  expect_fatal(l, "E_BAD_MESSAGE PUB message too big 101 > 100");
}

BOOST_DATA_TEST_CASE(pub_reaches_consumer_unchanged, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("layout", cores);
  wire_client k = consumer(srv, topic, "ch");
  std::string body("layout \0\xff body", 14);
  auto before = std::chrono::system_clock::now();
  wire_client p = connect(srv);
  pub(p, topic, body);
  k.send_command("RDY 1");
  BOOST_TEST(k.read_exact(8) == be32(std::uint32_t(4 + 26 + body.size())) + be32(2));
  std::string rest = k.read_exact(26 + body.size());
  message m = as_message(frame{frame_message, rest});
  auto ts = std::chrono::system_clock::time_point(std::chrono::nanoseconds(m.ts));
  BOOST_TEST(std::chrono::abs(ts - before) < std::chrono::seconds(60));
  BOOST_TEST(m.attempts == 1);
  BOOST_TEST(is_lower_hex(m.id), m.id);
  BOOST_TEST(m.body == body);
}

BOOST_DATA_TEST_CASE(subscriber_may_publish, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("selfpub", cores);
  wire_client c = consumer(srv, topic, "ch", 5);
  c.send_command("PUB " + topic, std::string_view("self-1"));
  c.send_command("PUB " + topic, std::string_view("self-2"));
  int oks = 0;
  std::multiset<std::string> bodies;
  while (oks < 2 || bodies.size() < 2) {
    frame f = c.read_frame();
    if (f == ok_frame)
      ++oks;
    else
      bodies.insert(as_message(f).body);
  }
  BOOST_TEST((bodies == std::multiset<std::string>{"self-1", "self-2"}));
}

BOOST_DATA_TEST_CASE(mpub_delivers_all_with_unique_ids, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("mpub", cores);
  wire_client one = consumer(srv, topic, "one", 200);
  wire_client two = consumer(srv, topic, "two", 200);
  std::vector<std::string> bodies;
  for (int i = 0; i < 100; ++i) bodies.push_back("u" + std::to_string(i));
  bodies.push_back(std::string("\0\n\xff", 3));
  wire_client p = connect(srv);
  p.send_command("MPUB " + topic, mpub_body(bodies));
  BOOST_TEST(p.read_frame() == ok_frame);
  std::map<std::string, std::string> got_one, got_two;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    message a = read_message(one);
    got_one[a.id] = a.body;
    BOOST_TEST(a.attempts == 1);
    message b = read_message(two);
    got_two[b.id] = b.body;
  }
  BOOST_TEST(got_one.size() == bodies.size());  // ids are unique
  BOOST_TEST((got_one == got_two));             // both channels: same ids, same bodies
  std::multiset<std::string> want(bodies.begin(), bodies.end()), have;
  for (auto& [id, b] : got_one) have.insert(b);
  BOOST_TEST((have == want));
}

BOOST_DATA_TEST_CASE(mpub_errors, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("mpuberr", cores);
  fatal_on_fresh(srv, "MPUB", {}, "E_INVALID MPUB insufficient number of parameters");
  fatal_on_fresh(srv, "MPUB bad!topic", mpub_body({"x"}), "E_BAD_TOPIC E_BAD_TOPIC MPUB topic name \"bad!topic\" is not valid");
  auto raw = [&](const std::string& bytes, const std::string& text) {
    wire_client c = connect(srv);
    c.send("MPUB " + topic + "\n" + bytes);
    expect_fatal(c, text);
  };
  raw(be32(0), "E_BAD_BODY MPUB invalid body size 0");
  raw(be32(0xffffffff), "E_BAD_BODY MPUB invalid body size -1");
  raw(be32(5242881), "E_BAD_BODY MPUB body too big 5242881 > 5242880");
  raw(be32(100) + be32(0), "E_BAD_BODY MPUB invalid message count 0");
  raw(be32(100) + be32(std::uint32_t(-3)), "E_BAD_BODY MPUB invalid message count -3");
  raw(be32(100) + be32(1048576), "E_BAD_BODY MPUB invalid message count 1048576");
  raw(be32(100) + be32(3) + be32(1) + "a" + be32(0), "E_BAD_MESSAGE MPUB invalid message(1) body size 0");
  raw(be32(100) + be32(2) + be32(1048577), "E_BAD_MESSAGE MPUB message too big 1048577 > 1048576");
  // The count rules: the third size is read from the next command line ("NOP\n").
  raw(be32(13) + be32(3) + be32(1) + "a" + be32(1) + "b" + "NOP\n",
      "E_BAD_MESSAGE MPUB message too big 1313820682 > 1048576");
  {
    wire_client c = connect(srv);
    c.send("MPUB " + topic + "\n" + be32(100) + be32(2) + be32(5) + "ab");
    c.shutdown_send();
    expect_fatal(c, "E_BAD_MESSAGE MPUB failed to read message body");
  }
  // None of these queued anything (quirk 4 fixed: nothing is even created): a consumer of
  // the topic sees only what comes next.
  wire_client k = consumer(srv, topic, "ch", 10);
  wire_client p = connect(srv);
  pub(p, topic, "after");
  BOOST_TEST(read_message(k).body == "after");
  expect_silent(k, 300ms);
}

BOOST_DATA_TEST_CASE(mpub_declared_size_is_not_compared, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("mpubsize", cores);
  wire_client p = connect(srv);
  p.send("MPUB " + topic + "\n" + be32(1000) + mpub_body({"aa", "bb"}));
  BOOST_TEST(p.read_frame() == ok_frame);
  sync(p, cores);
  wire_client k = consumer(srv, topic, "ch", 10);
  std::multiset<std::string> got{read_message(k).body, read_message(k).body};
  BOOST_TEST((got == std::multiset<std::string>{"aa", "bb"}));
}

BOOST_DATA_TEST_CASE(dpub_delays_delivery, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("dpub", cores);
  wire_client k = consumer(srv, topic, "ch", 5);
  wire_client p = connect(srv);
  auto t0 = clock_type::now();
  p.send_command("DPUB " + topic + " 1500", std::string_view("later"));
  BOOST_TEST(p.read_frame() == ok_frame);
  p.send_command("DPUB " + topic + " 0", std::string_view("now"));
  BOOST_TEST(p.read_frame() == ok_frame);
  message now = read_message(k, 3s);
  BOOST_TEST(now.body == "now");
  BOOST_TEST(seconds_since(t0) < 1.4);
  message later = read_message(k, 10s);
  BOOST_TEST(later.body == "later");
  BOOST_TEST(seconds_since(t0) >= 1.4);
  BOOST_TEST(later.attempts == 1);
}

BOOST_DATA_TEST_CASE(dpub_errors, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("dpuberr", cores);
  wire_client ok = connect(srv);
  ok.send_command("DPUB " + topic + " 3600000", std::string_view("max is allowed"));
  BOOST_TEST(ok.read_frame() == ok_frame);
  fatal_on_fresh(srv, "DPUB " + topic + " 3600001", std::string_view("x"), "E_INVALID DPUB timeout 3600001 out of range 0-3600000");
  fatal_on_fresh(srv, "DPUB " + topic, {}, "E_INVALID DPUB insufficient number of parameters");
  fatal_on_fresh(srv, "DPUB " + topic + " -5", std::string_view("x"), "E_INVALID DPUB could not parse timeout -5");
  fatal_on_fresh(srv, "DPUB " + topic + " 1s", std::string_view("x"), "E_INVALID DPUB could not parse timeout 1s");
  fatal_on_fresh(srv, "DPUB bad!topic 10", std::string_view("x"), "E_BAD_TOPIC DPUB topic name \"bad!topic\" is not valid");
  fatal_on_fresh(srv, "DPUB " + topic + " 10", std::string_view(""), "E_BAD_MESSAGE DPUB invalid message body size 0");
  {
    wire_client c = connect(srv);
    c.send("DPUB " + topic + " 10\n" + be32(1048577));
    expect_fatal(c, "E_BAD_MESSAGE DPUB message too big 1048577 > 1048576");
  }
  auto& lim = server(cores, "limits");
  fatal_on_fresh(lim, "DPUB " + topic + " 3001", std::string_view("x"), "E_INVALID DPUB timeout 3001 out of range 0-3000");
  wire_client l = connect(lim);
  l.send_command("DPUB " + topic + " 3000", std::string_view("x"));
  BOOST_TEST(l.read_frame() == ok_frame);
  expect_alive(srv, cores);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- SUB / RDY / FIN / REQ / TOUCH / CLS ----------------------------------------------------

BOOST_AUTO_TEST_SUITE(consume)

BOOST_DATA_TEST_CASE(sub_errors, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("suberr", cores);
  fatal_on_fresh(srv, "SUB " + topic, {}, "E_INVALID SUB insufficient number of parameters");
  fatal_on_fresh(srv, "SUB bad/topic ch", {}, "E_BAD_TOPIC SUB topic name \"bad/topic\" is not valid");
  fatal_on_fresh(srv, "SUB " + topic + " bad:ch", {}, "E_BAD_CHANNEL SUB channel name \"bad:ch\" is not valid");
  fatal_on_fresh(srv, "SUB " + topic + " " + std::string(65, 'c'), {},
                 "E_BAD_CHANNEL SUB channel name \"" + std::string(65, 'c') + "\" is not valid");
  wire_client c = consumer(srv, topic, "ch");
  c.send_command("SUB " + topic + " ch2");
  expect_fatal(c, "E_INVALID cannot SUB in current state");
  wire_client e = consumer(srv, topic + "#ephemeral", "ch#ephemeral", 1);
  sync(e, cores);
}

BOOST_AUTO_TEST_CASE(max_channel_consumers) {
  // One shard only: with several shards the limit is counted per shard for now (broker TODO).
  auto& srv = server(1, "limits");
  std::string topic = unique_name("maxcons", 1);
  wire_client a = consumer(srv, topic, "ch");
  wire_client b = consumer(srv, topic, "ch");
  fatal_on_fresh(srv, "SUB " + topic + " ch", {},
                 "E_SUB_FAILED SUB failed consumers for " + topic + ":ch exceeds limit of 2");
  wire_client other = consumer(srv, topic, "other");
  sync(other, 1);
}

BOOST_DATA_TEST_CASE(rdy_errors, shard_counts, cores) {
  auto& srv = server(cores);
  fatal_on_fresh(srv, "RDY 1", {}, "E_INVALID cannot RDY in current state");
  for (std::string arg : {"abc", "-1", "+5", "1x", "99999999999999999999"}) {
    wire_client c = consumer(srv, unique_name("rdyparse", cores), "ch");
    c.send_command("RDY " + arg);
    expect_fatal(c, "E_INVALID RDY could not parse count " + arg);
  }
  {
    wire_client c = consumer(srv, unique_name("rdymax", cores), "ch", 2500);
    sync(c, cores);
    c.send_command("RDY 2501");
    expect_fatal(c, "E_INVALID RDY count 2501 out of range 0-2500");
  }
  {
    wire_client c = consumer(srv, unique_name("rdyneg", cores), "ch");
    c.send_command("RDY 18446744073709551615");  // upstream's int64 conversion: -1
    expect_fatal(c, "E_INVALID RDY count -1 out of range 0-2500");
  }
  wire_client l = consumer(server(cores, "limits"), unique_name("rdylim", cores), "ch", 50);
  l.send_command("RDY 51");
  expect_fatal(l, "E_INVALID RDY count 51 out of range 0-50");
  expect_alive(srv, cores);
}

BOOST_DATA_TEST_CASE(rdy_is_a_window, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("window", cores);
  wire_client k = consumer(srv, topic, "ch");
  wire_client p = connect(srv);
  p.send_command("MPUB " + topic, mpub_body({"w0", "w1", "w2", "w3", "w4"}));
  BOOST_TEST(p.read_frame() == ok_frame);
  k.send_command("RDY 2");
  message a = read_message(k);
  message b = read_message(k);
  expect_silent(k, 500ms);
  k.send_command("FIN " + a.id);
  message c = read_message(k);
  expect_silent(k, 400ms);
  k.send_command("FIN " + b.id);
  k.send_command("FIN " + c.id);
  message d = read_message(k);
  message e = read_message(k);
  k.send_command("FIN " + d.id);
  k.send_command("FIN " + e.id);
  std::set<std::string> bodies{a.body, b.body, c.body, d.body, e.body};
  BOOST_TEST((bodies == std::set<std::string>{"w0", "w1", "w2", "w3", "w4"}));
  expect_silent(k, 300ms);
  sync(k, cores);  // and no FIN failed
}

BOOST_DATA_TEST_CASE(rdy_zero_bare_and_empty, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("rdy0", cores);
  wire_client k = consumer(srv, topic, "ch");
  wire_client p = connect(srv);
  p.send_command("MPUB " + topic, mpub_body({"a", "b", "c"}));
  BOOST_TEST(p.read_frame() == ok_frame);
  k.send_command("RDY 0");
  expect_silent(k, 500ms);
  k.send_command("RDY");  // bare: RDY 1
  message m1 = read_message(k);
  expect_silent(k, 400ms);
  k.send_command("RDY 2");
  message m2 = read_message(k);
  k.send_command("RDY ");  // empty count: 0, as upstream parses it
  k.send_command("FIN " + m1.id);
  k.send_command("FIN " + m2.id);
  expect_silent(k, 500ms);
  k.send_command("RDY 1");
  message m3 = read_message(k);
  k.send_command("FIN " + m3.id);
  std::set<std::string> bodies{m1.body, m2.body, m3.body};
  BOOST_TEST((bodies == std::set<std::string>{"a", "b", "c"}));
  sync(k, cores);
}

BOOST_DATA_TEST_CASE(fin_errors_and_nonfatal_failure, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("fin", cores);
  fatal_on_fresh(srv, "FIN 0000000000000000", {}, "E_INVALID cannot FIN in current state");
  for (auto [line, text] : {std::pair<std::string, std::string>{"FIN", "E_INVALID FIN insufficient number of params"},
                            {"FIN abc", "E_INVALID invalid message ID"},
                            {"FIN 00000000000000000", "E_INVALID invalid message ID"}}) {
    wire_client c = consumer(srv, topic, "errs");
    c.send_command(line);
    expect_fatal(c, text);
  }
  wire_client k = consumer(srv, topic, "ch", 1);
  k.send_command("FIN 0000000000000000");
  BOOST_TEST(k.read_frame() == error_frame("E_FIN_FAILED FIN 0000000000000000 failed ID not in flight"));
  wire_client p = connect(srv);
  pub(p, topic, "still alive");
  message m = read_message(k);
  BOOST_TEST(m.body == "still alive");
  k.send_command("FIN " + m.id);
  k.send_command("FIN " + m.id);
  BOOST_TEST(k.read_frame() == error_frame("E_FIN_FAILED FIN " + m.id + " failed ID not in flight"));
  sync(k, cores);
}

BOOST_DATA_TEST_CASE(fin_by_other_client_fails, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("notowner", cores);
  wire_client a = consumer(srv, topic, "ch", 1);
  wire_client b = consumer(srv, topic, "ch");
  wire_client p = connect(srv);
  pub(p, topic, "owned by a");
  message m = read_message(a);
  b.send_command("FIN " + m.id);
  frame f = b.read_frame();
  if (cores == 1) {
    BOOST_TEST(f == error_frame("E_FIN_FAILED FIN " + m.id + " failed client does not own message"));
  } else {  // a's in-flight table may live on another shard, where b cannot see it
    BOOST_TEST((f == error_frame("E_FIN_FAILED FIN " + m.id + " failed client does not own message") ||
                f == error_frame("E_FIN_FAILED FIN " + m.id + " failed ID not in flight")), f);
  }
  a.send_command("FIN " + m.id);
  sync(a, cores);
  sync(b, cores);
}

BOOST_DATA_TEST_CASE(req_redelivers, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("req", cores);
  wire_client k = consumer(srv, topic, "ch", 1);
  wire_client p = connect(srv);
  pub(p, topic, "bounce");
  message m1 = read_message(k);
  k.send_command("REQ " + m1.id + " 0");
  message m2 = read_message(k);
  BOOST_TEST(m2.id == m1.id);
  BOOST_TEST(m2.attempts == 2);
  BOOST_TEST(m2.ts == m1.ts);
  auto t0 = clock_type::now();
  k.send_command("REQ " + m2.id + " 1200");
  expect_silent(k, 700ms);
  message m3 = read_message(k, 10s);
  BOOST_TEST(seconds_since(t0) >= 1.1);
  BOOST_TEST(m3.id == m1.id);
  BOOST_TEST(m3.attempts == 3);
  BOOST_TEST(m3.body == "bounce");
  k.send_command("FIN " + m3.id);
  sync(k, cores);
}

BOOST_DATA_TEST_CASE(req_errors_and_clamp, shard_counts, cores) {
  auto& srv = server(cores);
  fatal_on_fresh(srv, "REQ 0000000000000000 10", {}, "E_INVALID cannot REQ in current state");
  for (auto [line, text] : {std::pair<std::string, std::string>{"REQ 0000000000000000", "E_INVALID REQ insufficient number of params"},
                            {"REQ 0000000000000000 -5", "E_INVALID REQ could not parse timeout -5"},
                            {"REQ 123 10", "E_INVALID invalid message ID"}}) {
    wire_client c = consumer(srv, unique_name("reqerr", cores), "ch");
    c.send_command(line);
    expect_fatal(c, text);
  }
  {
    wire_client c = consumer(srv, unique_name("reqerr", cores), "ch");
    c.send_command("REQ 0000000000000000 10");
    BOOST_TEST(c.read_frame() == error_frame("E_REQ_FAILED REQ 0000000000000000 failed ID not in flight"));
    sync(c, cores);
  }
  // Above --max-req-timeout (3s here) is clamped, not refused.
  auto& lim = server(cores, "limits");
  std::string topic = unique_name("clamp", cores);
  wire_client k = consumer(lim, topic, "ch", 1);
  wire_client p = connect(lim);
  pub(p, topic, "clamp");
  message m1 = read_message(k);
  auto t0 = clock_type::now();
  k.send_command("REQ " + m1.id + " 600000");
  message m2 = read_message(k, 10s);
  BOOST_TEST(seconds_since(t0) >= 2.0);
  BOOST_TEST(m2.id == m1.id);
  BOOST_TEST(m2.attempts == 2);
  k.send_command("FIN " + m2.id);
  sync(k, cores);
}

BOOST_DATA_TEST_CASE(touch_extends_and_errors, shard_counts, cores) {
  auto& srv = server(cores);
  fatal_on_fresh(srv, "TOUCH 0000000000000000", {}, "E_INVALID cannot TOUCH in current state");
  {
    wire_client c = consumer(srv, unique_name("toucherr", cores), "ch");
    c.send_command("TOUCH");
    expect_fatal(c, "E_INVALID TOUCH insufficient number of params");
  }
  {
    wire_client c = consumer(srv, unique_name("toucherr", cores), "ch");
    c.send_command("TOUCH 0000000000000000");
    BOOST_TEST(c.read_frame() == error_frame("E_TOUCH_FAILED TOUCH 0000000000000000 failed ID not in flight"));
    sync(c, cores);
  }
  std::string topic = unique_name("touch", cores);
  wire_client a = consumer(srv, topic, "ch", 1, R"({"msg_timeout":1000})");
  wire_client p = connect(srv);
  pub(p, topic, "keep alive");
  message m = read_message(a);
  wire_client b = consumer(srv, topic, "ch", 1);
  auto end = clock_type::now() + 3s;  // three timeouts' worth
  while (clock_type::now() < end) {
    a.send_command("TOUCH " + m.id);
    expect_silent(b, 300ms);
  }
  a.send_command("FIN " + m.id);
  sync(a, cores);  // the FIN did not fail: the message was still a's
}

BOOST_DATA_TEST_CASE(timeout_redelivers_elsewhere, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("timeout", cores);
  wire_client a = consumer(srv, topic, "ch", 1, R"({"msg_timeout":1000})");
  wire_client p = connect(srv);
  pub(p, topic, "slow");
  message m1 = read_message(a);
  a.send_command("RDY 0");
  wire_client b = consumer(srv, topic, "ch", 1);
  message m2 = read_message(b, 10s);
  BOOST_TEST(m2.id == m1.id);
  BOOST_TEST(m2.attempts == 2);
  a.send_command("FIN " + m1.id);
  frame f = a.read_frame();
  BOOST_TEST((f.type == frame_error && f.data.starts_with("E_FIN_FAILED FIN " + m1.id + " failed ")), f);
  sync(a, cores);  // not fatal
  b.send_command("FIN " + m2.id);
  sync(b, cores);
}

BOOST_DATA_TEST_CASE(disconnect_keeps_in_flight_until_timeout, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("orphan", cores);
  std::string id;
  auto t0 = clock_type::now();
  {
    wire_client a = consumer(srv, topic, "ch", 1, R"({"msg_timeout":1500})");
    wire_client p = connect(srv);
    pub(p, topic, "orphan");
    id = read_message(a).id;
    t0 = clock_type::now();
  }  // a hangs up with the message in flight
  wire_client b = consumer(srv, topic, "ch", 1);
  message m = read_message(b, 10s);
  BOOST_TEST(seconds_since(t0) >= 1.2);  // not requeued at the disconnect
  BOOST_TEST(m.id == id);
  BOOST_TEST(m.attempts == 2);
  b.send_command("FIN " + m.id);
  sync(b, cores);
}

BOOST_DATA_TEST_CASE(cls_close_wait, shard_counts, cores) {
  auto& srv = server(cores);
  fatal_on_fresh(srv, "CLS", {}, "E_INVALID cannot CLS in current state");
  std::string topic = unique_name("cls", cores);
  wire_client k = consumer(srv, topic, "ch", 1);
  wire_client p = connect(srv);
  pub(p, topic, "before cls");
  message m = read_message(k);
  k.send_command("CLS");
  BOOST_TEST(k.read_frame() == (frame{frame_response, "CLOSE_WAIT"}));
  k.send_command("FIN " + m.id);  // still accepted
  k.send_command("RDY 5");        // ignored
  pub(p, topic, "after cls");
  expect_silent(k, 800ms);
  sync(k, cores);  // FIN and RDY did not fail; the server keeps the connection open
  k.send_command("CLS");
  expect_fatal(k, "E_INVALID cannot CLS in current state");
}

BOOST_DATA_TEST_CASE(fanout_and_cross_shard_feeding, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("feed", cores);
  // Several consumers on one channel (on any shard) share 60 messages published by several
  // publishers (on any shard): each message goes to exactly one of them.
  std::vector<wire_client> ks;
  for (int i = 0; i < 4; ++i) ks.push_back(consumer(srv, topic, "ch", 100));
  std::set<std::string> want;
  for (int i = 0; i < 6; ++i) {
    wire_client p = connect(srv);
    std::vector<std::string> bodies;
    for (int j = 0; j < 10; ++j) bodies.push_back("m" + std::to_string(i) + "-" + std::to_string(j));
    want.insert(bodies.begin(), bodies.end());
    p.send_command("MPUB " + topic, mpub_body(bodies));
    BOOST_TEST(p.read_frame() == ok_frame);
  }
  std::multiset<std::string> got;
  deadline d(10s);
  while (got.size() < want.size() && !d.passed()) {
    for (auto& k : ks) {
      auto f = k.read_frame_within(50ms);
      if (!f) continue;
      message m = as_message(*f);
      got.insert(m.body);
      k.send_command("FIN " + m.id);
    }
  }
  BOOST_TEST(got.size() == want.size());
  BOOST_TEST((std::set<std::string>(got.begin(), got.end()) == want));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- heartbeats and output buffering --------------------------------------------------------

BOOST_AUTO_TEST_SUITE(timing)

BOOST_DATA_TEST_CASE(heartbeats_arrive_and_nop_keeps_alive, shard_counts, cores) {
  auto& srv = server(cores);
  wire_client c = consumer(srv, unique_name("hb", cores), "ch", 0, R"({"heartbeat_interval":1000})");
  auto t0 = clock_type::now();
  BOOST_TEST(c.read_frame(3s) == heartbeat_frame);
  c.send_command("NOP");
  BOOST_TEST(c.read_frame(3s) == heartbeat_frame);
  c.send_command("NOP");
  BOOST_TEST(seconds_since(t0) >= 1.2);
  BOOST_TEST(c.read_frame(3s) == heartbeat_frame);  // past 2 intervals: still connected
  c.send_command("NOP");
  sync(c, cores);
}

BOOST_DATA_TEST_CASE(silent_client_is_disconnected, shard_counts, cores) {
  auto& srv = server(cores);
  wire_client c = connect(srv);
  auto t0 = clock_type::now();
  BOOST_TEST(identify_json(c, R"({"heartbeat_interval":1000})") == "OK");
  BOOST_TEST(closed_after_heartbeats(c, 8s));  // no error frame, only heartbeats
  double t = seconds_since(t0);
  BOOST_TEST(t >= 1.5);
  BOOST_TEST(t < 6.0);
}

BOOST_DATA_TEST_CASE(publisher_gets_heartbeats, shard_counts, cores) {
  auto& srv = server(cores);
  wire_client c = connect(srv);
  BOOST_TEST(identify_json(c, R"({"heartbeat_interval":1000})") == "OK");
  pub(c, unique_name("hbpub", cores), "p");
  BOOST_TEST(c.read_frame(3s) == heartbeat_frame);
  c.send_command("NOP");
  sync(c, cores);
}

BOOST_DATA_TEST_CASE(last_identify_before_sub_wins, shard_counts, cores) {
  auto& srv = server(cores);
  wire_client c = connect(srv);
  BOOST_TEST(identify_json(c, R"({"heartbeat_interval":20000})") == "OK");
  BOOST_TEST(identify_json(c, R"({"heartbeat_interval":1000})") == "OK");
  c.send_command("SUB " + unique_name("lastid", cores) + " ch");
  BOOST_TEST(c.read_frame() == ok_frame);
  BOOST_TEST(c.read_frame(2500ms) == heartbeat_frame);
}

BOOST_DATA_TEST_CASE(heartbeats_continue_after_cls, shard_counts, cores) {
  auto& srv = server(cores);
  wire_client c = consumer(srv, unique_name("hbcls", cores), "ch", 1, R"({"heartbeat_interval":1000})");
  c.send_command("CLS");
  BOOST_TEST(c.read_frame() == (frame{frame_response, "CLOSE_WAIT"}));
  BOOST_TEST(c.read_frame(2500ms) == heartbeat_frame);
}

BOOST_DATA_TEST_CASE(flush_at_once_when_window_full, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("flushfull", cores);
  wire_client k = consumer(srv, topic, "ch", 1, R"({"output_buffer_timeout":5000})");
  auto t0 = clock_type::now();
  wire_client p = connect(srv);
  pub(p, topic, "flush now");
  BOOST_TEST(read_message(k, 4s).body == "flush now");
  BOOST_TEST(seconds_since(t0) < 2.0);
}

BOOST_DATA_TEST_CASE(output_buffer_timeout_bounds_latency, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("flushtimer", cores);
  wire_client k = consumer(srv, topic, "ch", 10, R"({"output_buffer_timeout":2000})");
  sync(k, cores);
  auto t0 = clock_type::now();
  wire_client p = connect(srv);
  pub(p, topic, "buffered");
  BOOST_TEST(read_message(k, 6s).body == "buffered");
  double t = seconds_since(t0);
  BOOST_TEST(t >= 1.0);  // it waited in the buffer...
  BOOST_TEST(t <= 4.5);  // ...for about the timeout
}

BOOST_DATA_TEST_CASE(output_buffer_size_flushes, shard_counts, cores) {
  auto& srv = server(cores);
  {  // -1: unbuffered
    std::string topic = unique_name("unbuffered", cores);
    wire_client k = consumer(srv, topic, "ch", 10, R"({"output_buffer_size":-1,"output_buffer_timeout":5000})");
    auto t0 = clock_type::now();
    wire_client p = connect(srv);
    pub(p, topic, "unbuffered");
    BOOST_TEST(read_message(k, 4s).body == "unbuffered");
    BOOST_TEST(seconds_since(t0) < 1.5);
  }
  {  // a message frame bigger than the buffer goes at once
    std::string topic = unique_name("smallbuf", cores);
    wire_client k = consumer(srv, topic, "ch", 10, R"({"output_buffer_size":64,"output_buffer_timeout":5000})");
    auto t0 = clock_type::now();
    wire_client p = connect(srv);
    pub(p, topic, std::string(100, 'b'));
    BOOST_TEST(read_message(k, 4s).body == std::string(100, 'b'));
    BOOST_TEST(seconds_since(t0) < 1.5);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- AUTH -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(auth)

BOOST_DATA_TEST_CASE(auth_disabled_and_param_errors, shard_counts, cores) {
  auto& srv = server(cores);
  fatal_on_fresh(srv, "AUTH", std::string_view("secret"), "E_AUTH_DISABLED AUTH disabled");
  fatal_on_fresh(srv, "AUTH extra", std::string_view("secret"), "E_INVALID AUTH invalid number of parameters");
  fatal_on_fresh(srv, "AUTH", std::string_view(""), "E_BAD_BODY AUTH invalid body size 0");
  {
    wire_client c = connect(srv);
    c.send("AUTH\n" + be32(5242881));
    expect_fatal(c, "E_BAD_BODY AUTH body too big 5242881 > 5242880");
  }
  wire_client c = consumer(srv, unique_name("authsub", cores), "ch");
  c.send_command("AUTH", std::string_view("secret"));
  expect_fatal(c, "E_INVALID cannot AUTH in current state");
}

BOOST_DATA_TEST_CASE(auth_required_first, shard_counts, cores) {
  auto& srv = server(cores, "auth");
  {
    wire_client c = connect(srv);
    std::string j = identify_json(c, R"({"feature_negotiation":true})");
    BOOST_TEST(j.find(R"("auth_required":true,)") != std::string::npos, j);
  }
  std::string topic = unique_name("authfirst", cores);
  fatal_on_fresh(srv, "PUB " + topic, std::string_view("x"), "E_AUTH_FIRST AUTH required before PUB");
  fatal_on_fresh(srv, "SUB " + topic + " ch", {}, "E_AUTH_FIRST AUTH required before SUB");
  fatal_on_fresh(srv, "DPUB " + topic + " 10", std::string_view("x"), "E_AUTH_FIRST AUTH required before DPUB");
  fatal_on_fresh(srv, "MPUB " + topic, mpub_body({"x"}), "E_AUTH_FIRST AUTH required before MPUB");
  // Not checked: NOP (and FIN/REQ/TOUCH/RDY, which need SUB first anyway).
  wire_client c = connect(srv);
  c.send_command("NOP");
  expect_silent(c, 200ms);
  // TODO(auth): the auth server client is not built; AUTH fails as with an unreachable server.
  fatal_on_fresh(srv, "AUTH", std::string_view("secret"), "E_AUTH_FAILED AUTH failed");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- what the broker and HTTP see of a client ------------------------------------------------

BOOST_AUTO_TEST_SUITE(client_view)

BOOST_DATA_TEST_CASE(stats_show_the_connection, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("view", cores);
  wire_client k = consumer(srv, topic, "ch", 3,
                           R"({"client_id":"cid","hostname":"hn","user_agent":"ua/1","sample_rate":7})");
  sync(k, cores);
  auto stats = [&] { return http_get(srv.http_port(), "/stats?format=json&topic=" + topic).body; };
  std::string s = stats();
  BOOST_TEST(s.find(R"("clients":[{"client_id":"cid","hostname":"hn","version":"V2","remote_address":"127.0.0.1:)") !=
                 std::string::npos, s);
  BOOST_TEST(s.find(R"("state":3,"ready_count":3,)") != std::string::npos, s);
  BOOST_TEST(s.find(R"("sample_rate":7,"deflate":false,"snappy":false,"user_agent":"ua/1",)") != std::string::npos, s);
  k.send_command("CLS");
  BOOST_TEST(k.read_frame() == (frame{frame_response, "CLOSE_WAIT"}));
  s = stats();
  BOOST_TEST(s.find(R"("state":4,"ready_count":0,)") != std::string::npos, s);
}

BOOST_DATA_TEST_CASE(deleting_the_channel_closes_its_consumers, shard_counts, cores) {
  auto& srv = server(cores);
  std::string topic = unique_name("chdel", cores);
  wire_client a = consumer(srv, topic, "ch", 1);
  wire_client b = consumer(srv, topic, "ch", 1);
  wire_client other = consumer(srv, topic, "other", 1);
  http_client h(srv.http_port());
  BOOST_TEST(h.post("/channel/delete?topic=" + topic + "&channel=ch").status == 200);
  BOOST_TEST(a.expect_closed(3s));  // closed without an error frame, as upstream
  BOOST_TEST(b.expect_closed(3s));
  sync(other, cores);  // the other channel's consumer is untouched
  expect_alive(srv, cores);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- robustness -----------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(robustness)

BOOST_DATA_TEST_CASE(garbage_never_takes_the_server_down, shard_counts, cores) {
  auto& srv = server(cores);
  std::mt19937 rng(1234 + cores);
  const std::vector<std::string> heads = {"PUB t", "MPUB t", "DPUB t 5", "IDENTIFY", "AUTH", "SUB t c",
                                          "RDY", "FIN", "REQ", "TOUCH", "CLS", "NOP", ""};
  for (int round = 0; round < 60; ++round) {
    wire_client c(srv.tcp_port());
    std::string bytes;
    if (round % 3 != 0) bytes = "  V2";
    bytes += heads[rng() % heads.size()];
    if (rng() % 2) bytes += "\n";
    std::size_t n = rng() % 64;
    for (std::size_t i = 0; i < n; ++i) bytes.push_back(char(rng()));
    if (rng() % 4 == 0) bytes += be32(rng());
    try {
      c.send(bytes);
      c.shutdown_send();  // the server sees the end of input: it must answer and close
      c.read_to_eof(3s);
    } catch (const wire_error& e) {
      BOOST_TEST(!std::string(e.what()).starts_with("timed out"), e.what());  // resets are fine
    }
  }
  // Hang-ups in the middle of everything.
  for (const std::string& partial : {std::string("  V2PUB t\n") + be32(100) + "abc", std::string("  V2MPUB t\n") + be32(100),
                                     std::string("  V2IDENTIFY\n") + be32(50) + "{", std::string("  V2SUB t c\nRDY 5\n"),
                                     std::string("  V2DPUB t 10\n\0", 15)}) {
    wire_client c(srv.tcp_port());
    c.send(partial);
    c.close();
  }
  expect_alive(srv, cores);
}

BOOST_DATA_TEST_CASE(pipelined_flood_without_reading, shard_counts, cores) {
  // A client that writes 20000 PUBs before reading anything gets every OK: the server stops
  // reading while its output is backed up instead of failing or growing without bound.
  auto& srv = server(cores);
  std::string topic = unique_name("flood", cores);
  wire_client c = connect(srv);
  std::string one = "PUB " + topic + "\n" + be32(8) + "12345678";
  std::string all;
  for (int i = 0; i < 20000; ++i) all += one;
  std::atomic<bool> send_failed{false};
  std::thread writer([fd = c.fd(), &all, &send_failed] {
    std::size_t off = 0;
    while (off < all.size()) {
      ssize_t n = ::send(fd, all.data() + off, all.size() - off, MSG_NOSIGNAL);
      if (n <= 0) {
        send_failed = true;
        return;
      }
      off += std::size_t(n);
    }
  });
  std::this_thread::sleep_for(500ms);  // let both socket buffers fill up
  int oks = 0;
  try {
    for (; oks < 20000; ++oks)
      if (c.read_frame(10s) != ok_frame) break;
  } catch (const wire_error&) {
  }
  writer.join();
  BOOST_TEST(!send_failed);
  BOOST_TEST(oks == 20000);
}

BOOST_AUTO_TEST_SUITE_END()
