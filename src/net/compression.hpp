#pragma once
// compression: the stream codecs a V2 connection switches to after IDENTIFY (SPEC B.5).
//
//   snappy:  the snappy framing format, as golang/snappy NewReader/NewWriter speak it: a stream
//            identifier chunk ("\xff\x06\x00\x00sNaPpY") first, then chunks of at most 65536
//            uncompressed bytes, each [type][24-bit LE length][LE masked CRC-32C of the
//            uncompressed bytes][payload]; type 0x00 = snappy block, 0x01 = stored.
//   deflate: raw DEFLATE (RFC 1951, no zlib header or trailer); the encoder sync-flushes after
//            every encode() so the peer can decode everything sent so far.
//
// Each codec object is one direction of one connection, owned by that connection (a single
// shard, no locking). Decoders reject corrupt input for good: once read() reports corrupt it
// always does.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nsqd::net {

// Decompresses what the peer sends. Received bytes go in through prepare()/commit() (recv
// straight into the decoder, no copy) or feed(); read() hands out the decompressed bytes.
// Input is buffered without bound: give more only when read() asks for it (need_input).
class stream_decoder {
 public:
  // read() results besides a byte count (> 0).
  static constexpr std::ptrdiff_t need_input = 0;   // all input decoded: receive more
  static constexpr std::ptrdiff_t corrupt = -1;     // bad data; the connection must end
  static constexpr std::ptrdiff_t end_of_stream = -2;  // the peer ended the stream (deflate)

  virtual ~stream_decoder() = default;

  // Room for at least `n` more received bytes; commit(k) then appends the first k of them.
  char* prepare(std::size_t n);
  void commit(std::size_t k) noexcept { _end += k; }
  void feed(std::string_view data);

  // Writes up to `cap` (> 0) decompressed bytes to `dst` and returns how many, or one of the
  // constants above.
  virtual std::ptrdiff_t read(char* dst, std::size_t cap) = 0;

 protected:
  // Unread input: [input(), input() + input_size()); consume_input(n) drops n bytes of it.
  const char* input() const noexcept { return _in.data() + _begin; }
  std::size_t input_size() const noexcept { return _end - _begin; }
  void consume_input(std::size_t n) noexcept;

 private:
  std::vector<char> _in;
  std::size_t _begin = 0;
  std::size_t _end = 0;
};

// Compresses what we send.
class stream_encoder {
 public:
  virtual ~stream_encoder() = default;
  // Appends to `out` everything the peer needs to decode all of `data` (and what came before).
  virtual void encode(std::string_view data, std::string& out) = 0;
};

// ---- snappy framing ---------------------------------------------------------------------------

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as the framing format checks it.
std::uint32_t crc32c(std::string_view data) noexcept;
// The checksum stored in a chunk: ((c >> 15) | (c << 17)) + 0xa282ead8 of the CRC-32C.
std::uint32_t snappy_masked_crc(std::string_view data) noexcept;

// golang/snappy NewReader rules: the first chunk must be the stream identifier; chunks may not
// exceed the format's limits (65536 uncompressed bytes); checksums must match; types
// 0x02..0x7f are refused; 0x80..0xfe (padding included) are skipped.
std::unique_ptr<stream_decoder> make_snappy_decoder();
// golang/snappy NewWriter: the stream identifier before the first chunk; a block is stored
// uncompressed when compression saves less than 1/8 of it.
std::unique_ptr<stream_encoder> make_snappy_encoder();

// ---- deflate ----------------------------------------------------------------------------------

// Raw DEFLATE, 32 KiB window. Data after the final block is ignored (end_of_stream).
std::unique_ptr<stream_decoder> make_deflate_decoder();
// `level` in 1..9 (the negotiated level). Both return nullptr if zlib cannot set up the stream.
std::unique_ptr<stream_encoder> make_deflate_encoder(int level);

}  // namespace nsqd::net
