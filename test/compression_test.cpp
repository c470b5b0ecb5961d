#define BOOST_TEST_MODULE compression
// The V2 stream codecs (net/compression.hpp): CRC-32C, snappy framing bytes, deflate, round
// trips in odd-sized pieces, and corrupt input rejected for good.

#include <boost/test/unit_test.hpp>

#include <snappy.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

#include "net/compression.hpp"

using namespace nsqd::net;

namespace {

std::string le32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = char(v >> (8 * i));
  return s;
}

std::string chunk(unsigned char type, std::string_view payload) {
  std::string s(1, char(type));
  s += le32(std::uint32_t(payload.size())).substr(0, 3);
  s += payload;
  return s;
}

const std::string identifier("\xff\x06\x00\x00sNaPpY", 10);

std::string stored_chunk(std::string_view data) {
  return chunk(0x01, le32(snappy_masked_crc(data)) + std::string(data));
}

std::string compressed_chunk(std::string_view data) {
  std::string packed;
  snappy::Compress(data.data(), data.size(), &packed);
  return chunk(0x00, le32(snappy_masked_crc(data)) + packed);
}

// Everything the decoder gives for `input` fed in pieces of `step`, read `cap` bytes at a
// time. The last read result (need_input, corrupt, end_of_stream) goes to `last`.
std::string decode_all(stream_decoder& d, std::string_view input, std::size_t step, std::size_t cap,
                       std::ptrdiff_t& last) {
  std::string out;
  std::vector<char> buf(cap);
  std::size_t at = 0;
  for (;;) {
    std::ptrdiff_t r = d.read(buf.data(), cap);
    if (r > 0) {
      out.append(buf.data(), std::size_t(r));
      continue;
    }
    last = r;
    if (r != stream_decoder::need_input || at == input.size()) return out;
    std::string_view piece = input.substr(at, step);
    d.feed(piece);
    at += piece.size();
  }
}

std::string decode_all(stream_decoder& d, std::string_view input, std::size_t step = 1 << 20,
                       std::size_t cap = 1 << 20) {
  std::ptrdiff_t last = 0;
  std::string out = decode_all(d, input, step, cap, last);
  BOOST_TEST(last == stream_decoder::need_input);
  return out;
}

std::ptrdiff_t decode_result(std::unique_ptr<stream_decoder> d, std::string_view input) {
  std::ptrdiff_t last = 0;
  decode_all(*d, input, 1 << 20, 1 << 20, last);
  return last;
}

// Test data: compressible text, random bytes, and a mix, of `n` bytes.
std::string sample(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n);
  while (s.size() < n) {
    if (rng() % 3 == 0) {
      for (int i = 0; i < 50 && s.size() < n; ++i) s += char(rng());
    } else {
      s += std::string_view("the quick brown fox jumps over the lazy dog ").substr(0, n - s.size());
    }
  }
  return s;
}

std::string raw_inflate(std::string_view packed) {
  z_stream z{};
  BOOST_REQUIRE(inflateInit2(&z, -15) == Z_OK);
  std::string out;
  char buf[4096];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = uInt(packed.size());
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  } while (rc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
  inflateEnd(&z);
  BOOST_TEST((rc == Z_OK || rc == Z_BUF_ERROR));
  return out;
}

std::string raw_deflate(std::string_view data, int flush = Z_SYNC_FLUSH) {
  z_stream z{};
  BOOST_REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, uLong(data.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = uInt(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  deflate(&z, flush);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crc32c_checksum)

BOOST_AUTO_TEST_CASE(known_values) {
  BOOST_TEST(crc32c("") == 0u);
  BOOST_TEST(crc32c("123456789") == 0xe3069283u);  // the standard check value
  BOOST_TEST(crc32c(std::string(32, '\0')) == 0x8a9136aau);  // RFC 3720 B.4
  BOOST_TEST(crc32c(std::string(32, '\xff')) == 0x62a8ab43u);
  std::string inc;
  for (int i = 0; i < 32; ++i) inc += char(i);
  BOOST_TEST(crc32c(inc) == 0x46dd794eu);
}

BOOST_AUTO_TEST_CASE(table_and_hardware_paths_agree_on_every_length_and_alignment) {
  // The bitwise definition, one byte at a time.
  auto slow = [](std::string_view s) {
    std::uint32_t c = ~0u;
    for (unsigned char b : s) {
      c ^= b;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
  };
  const std::string data = sample(300, 7);
  for (std::size_t off = 0; off < 9; ++off)
    for (std::size_t len = 0; len + off <= 100; ++len)
      BOOST_TEST(crc32c(std::string_view(data).substr(off, len)) == slow(std::string_view(data).substr(off, len)));
}

BOOST_AUTO_TEST_CASE(masking) {
  const std::uint32_t c = crc32c("abc");
  BOOST_TEST(snappy_masked_crc("abc") == std::uint32_t(((c >> 15) | (c << 17)) + 0xa282ead8u));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(snappy_framing)

BOOST_AUTO_TEST_CASE(encoder_bytes) {
  auto e = make_snappy_encoder();
  std::string out;
  e->encode("", out);
  BOOST_TEST(out.empty());  // nothing written, not even the identifier (as golang/snappy)
  e->encode("hi", out);     // too short to gain anything: stored
  BOOST_TEST(out == identifier + stored_chunk("hi"));
  out.clear();
  e->encode("hello", out);  // identifier only once
  BOOST_TEST(out == stored_chunk("hello"));
  out.clear();
  const std::string text(1000, 'a');
  e->encode(text, out);
  BOOST_REQUIRE(out.size() > 8);
  BOOST_TEST(int(static_cast<unsigned char>(out[0])) == 0x00);  // compressed
  BOOST_TEST(out == compressed_chunk(text));  // libsnappy is deterministic
  BOOST_TEST(out.size() < 100u);
}

BOOST_AUTO_TEST_CASE(encoder_splits_at_64k_and_stores_incompressible) {
  std::string random;
  std::mt19937 rng(3);
  for (int i = 0; i < 70000; ++i) random += char(rng());
  auto e = make_snappy_encoder();
  std::string out;
  e->encode(random, out);
  std::string_view v(out);
  BOOST_REQUIRE(v.starts_with(identifier));
  v.remove_prefix(identifier.size());
  BOOST_TEST(v == stored_chunk(std::string_view(random).substr(0, 65536)) +
                      stored_chunk(std::string_view(random).substr(65536)));
}

BOOST_AUTO_TEST_CASE(round_trips_in_any_pieces) {
  for (std::size_t n : {1u, 100u, 65535u, 65536u, 65537u, 300000u}) {
    const std::string data = sample(n, unsigned(n));
    auto e = make_snappy_encoder();
    std::string wire;
    // Encoded as several writes, as a connection flushes.
    for (std::size_t at = 0; at < data.size(); at += 40000) e->encode(std::string_view(data).substr(at, 40000), wire);
    for (std::size_t step : {1u, 7u, 4096u, 1u << 20})
      for (std::size_t cap : {1u, 13u, 65536u, 1u << 20}) {
        if (step == 1 && n > 70000) continue;  // slow and adds nothing
        auto d = make_snappy_decoder();
        std::ptrdiff_t last = 0;
        BOOST_TEST(decode_all(*d, wire, step, cap, last) == data, "n=" << n << " step=" << step << " cap=" << cap);
        BOOST_TEST(last == stream_decoder::need_input);
      }
  }
}

BOOST_AUTO_TEST_CASE(decoder_accepts_what_golang_snappy_accepts) {
  auto d = make_snappy_decoder();
  std::string wire = identifier + compressed_chunk("abc") + chunk(0xfe, "padding") + identifier +
                     chunk(0x80, std::string(100000, 'x')) + stored_chunk("") + stored_chunk("def");
  BOOST_TEST(decode_all(*d, wire, 3, 2) == "abcdef");
  // A large skippable chunk arriving in pieces is skipped without being kept whole.
  auto d2 = make_snappy_decoder();
  BOOST_TEST(decode_all(*d2, identifier + chunk(0xfd, std::string(1 << 20, 'y')) + stored_chunk("z"), 4096) == "z");
}

BOOST_AUTO_TEST_CASE(corrupt_streams_are_rejected_for_good) {
  const std::string ok = stored_chunk("data");
  std::string bad_crc = ok;
  bad_crc[4] ^= 1;
  // 200 x 'q' packs as [varint 200][literal "q"][copy 64 from offset 1]...
  std::string bad_literal = compressed_chunk(std::string(200, 'q'));
  BOOST_REQUIRE(bad_literal.substr(8, 5) == std::string("\xc8\x01\x00q\xfe", 5));
  std::string bad_offset = bad_literal;
  bad_literal[8 + 3] = 'r';          // decodes, to other bytes: the checksum catches it
  bad_offset[8 + 6] = '\x01';        // offset 257 with 1 byte decoded: invalid block
  std::string bad_block = identifier + chunk(0x00, le32(0) + "\xff\xff\xff\xff\x0f");  // length > 64K
  std::vector<std::pair<std::string, std::string>> cases = {
      {"no identifier first", ok},
      {"bad identifier", chunk(0xff, "sNaPpX") + ok},
      {"short identifier", chunk(0xff, "sNaP")},
      {"crc mismatch", identifier + bad_crc},
      {"compressed data changed", identifier + bad_literal},
      {"bad copy offset", identifier + bad_offset},
      {"block longer than 64K", bad_block},
      {"reserved unskippable", identifier + chunk(0x02, "x")},
      {"reserved unskippable 0x7f", identifier + chunk(0x7f, "")},
      {"chunk shorter than its crc", identifier + chunk(0x01, "abc")},
      {"compressed chunk shorter than its crc", identifier + chunk(0x00, "")},
      {"stored chunk over 64K", identifier + chunk(0x01, std::string(65541, 'a'))},
      {"compressed chunk over the bound", identifier + chunk(0x00, std::string(76495, 'a'))},
  };
  for (const auto& [what, wire] : cases) {
    auto d = make_snappy_decoder();
    std::ptrdiff_t last = 0;
    decode_all(*d, wire, 1 << 20, 1 << 20, last);
    BOOST_TEST(last == stream_decoder::corrupt, what);
    d->feed(identifier + ok);  // nothing after the damage is accepted
    char buf[64];
    BOOST_TEST(d->read(buf, sizeof buf) == stream_decoder::corrupt, what);
  }
  // An oversized chunk is refused from its header, before its body arrives.
  auto d = make_snappy_decoder();
  d->feed(identifier + "\x01\xff\xff\xff");
  char buf[8];
  BOOST_TEST(d->read(buf, sizeof buf) == stream_decoder::corrupt);
}

BOOST_AUTO_TEST_CASE(prepare_and_commit_append_input) {
  const std::string wire = identifier + stored_chunk("pieces");
  auto d = make_snappy_decoder();
  for (char ch : wire) {
    char* p = d->prepare(16);
    *p = ch;
    d->commit(1);
  }
  BOOST_TEST(decode_all(*d, "") == "pieces");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(raw_deflate_stream)

BOOST_AUTO_TEST_CASE(encoder_is_raw_and_sync_flushed) {
  auto e = make_deflate_encoder(6);
  BOOST_REQUIRE(e);
  std::string out;
  e->encode("hello hello hello", out);
  // Sync flush: ends with an empty stored block, 00 00 ff ff; no zlib header (0x78 ..).
  BOOST_TEST(out.ends_with(std::string("\x00\x00\xff\xff", 4)));
  BOOST_TEST(static_cast<unsigned char>(out[0]) != 0x78);
  BOOST_TEST(raw_inflate(out) == "hello hello hello");
  // Each encode decodes completely on its own, given what came before.
  std::string more;
  e->encode("second", more);
  BOOST_TEST(raw_inflate(out + more) == "hello hello hellosecond");
  std::string empty;
  e->encode("", empty);
  BOOST_TEST(empty.empty());
}

BOOST_AUTO_TEST_CASE(levels) {
  const std::string data = sample(100000, 5);
  std::size_t fast = 0, best = 0;
  for (int level = 1; level <= 9; ++level) {
    auto e = make_deflate_encoder(level);
    BOOST_REQUIRE(e);
    std::string out;
    e->encode(data, out);
    BOOST_TEST(raw_inflate(out) == data);
    if (level == 1) fast = out.size();
    if (level == 9) best = out.size();
  }
  BOOST_TEST(best <= fast);
  BOOST_TEST(!make_deflate_encoder(42));  // zlib refuses: no encoder
}

BOOST_AUTO_TEST_CASE(round_trips_in_any_pieces) {
  for (std::size_t n : {1u, 1000u, 70000u, 400000u}) {
    const std::string data = sample(n, unsigned(n) + 1);
    auto e = make_deflate_encoder(3);
    std::string wire;
    for (std::size_t at = 0; at < data.size(); at += 30000) e->encode(std::string_view(data).substr(at, 30000), wire);
    for (std::size_t step : {1u, 5u, 8192u, 1u << 20})
      for (std::size_t cap : {1u, 17u, 16384u}) {
        if ((step == 1 || cap == 1) && n > 70000) continue;
        auto d = make_deflate_decoder();
        BOOST_REQUIRE(d);
        BOOST_TEST(decode_all(*d, wire, step, cap) == data, "n=" << n << " step=" << step << " cap=" << cap);
      }
  }
}

BOOST_AUTO_TEST_CASE(decodes_what_zlib_writes) {
  const std::string data = sample(50000, 9);
  auto d = make_deflate_decoder();
  BOOST_TEST(decode_all(*d, raw_deflate(data), 999, 4096) == data);
}

BOOST_AUTO_TEST_CASE(end_of_stream_and_corrupt_input) {
  {
    auto d = make_deflate_decoder();
    std::ptrdiff_t last = 0;
    BOOST_TEST(decode_all(*d, raw_deflate("final", Z_FINISH) + "trailing junk", 4, 3, last) == "final");
    BOOST_TEST(last == stream_decoder::end_of_stream);
  }
  // 0xff: a block of reserved type 3; a zlib header is not raw DEFLATE either.
  BOOST_TEST(decode_result(make_deflate_decoder(), "\xff\xff\xff\xff") == stream_decoder::corrupt);
  std::string zlib_wrapped(64, '\0');
  uLongf len = zlib_wrapped.size();
  compress(reinterpret_cast<Bytef*>(zlib_wrapped.data()), &len, reinterpret_cast<const Bytef*>("abcabc"), 6);
  zlib_wrapped.resize(len);
  BOOST_TEST(decode_result(make_deflate_decoder(), zlib_wrapped) == stream_decoder::corrupt);
  // A stored block whose length check (NLEN) is wrong.
  BOOST_TEST(decode_result(make_deflate_decoder(), std::string("\x00\x05\x00\x00\x00hello", 10)) ==
             stream_decoder::corrupt);
  auto d = make_deflate_decoder();
  d->feed("\xff\xff");
  char buf[8];
  BOOST_TEST(d->read(buf, sizeof buf) == stream_decoder::corrupt);
  d->feed(raw_deflate("ok"));
  BOOST_TEST(d->read(buf, sizeof buf) == stream_decoder::corrupt);  // for good
}

BOOST_AUTO_TEST_SUITE_END()
