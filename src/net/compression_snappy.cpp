#include <snappy.h>

#include <algorithm>
#include <cstring>

#include "net/compression.hpp"

namespace nsqd::net {

namespace {

// Limits of the framing format, as golang/snappy enforces them.
constexpr std::size_t max_block = 65536;                 // uncompressed bytes per chunk
constexpr std::size_t max_compressed_chunk = 76490 + 4;  // snappy's bound for 65536 bytes + CRC
constexpr std::string_view stream_identifier("\xff\x06\x00\x00sNaPpY", 10);

enum chunk_type : unsigned char { compressed_data = 0x00, uncompressed_data = 0x01, identifier = 0xff };

std::uint32_t load_le32(const char* p) noexcept {
  auto* u = reinterpret_cast<const unsigned char*>(p);
  return std::uint32_t(u[0]) | std::uint32_t(u[1]) << 8 | std::uint32_t(u[2]) << 16 | std::uint32_t(u[3]) << 24;
}

void store_le32(char* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = char(v >> (8 * i));
}

class snappy_decoder final : public stream_decoder {
 public:
  std::ptrdiff_t read(char* dst, std::size_t cap) override {
    for (;;) {
      if (_bad) return corrupt;
      if (_pos < _block.size()) {  // the rest of a chunk that did not fit last time
        const std::size_t n = std::min(cap, _block.size() - _pos);
        std::memcpy(dst, _block.data() + _pos, n);
        _pos += n;
        return std::ptrdiff_t(n);
      }
      if (_skip > 0) {
        const std::size_t n = std::min(_skip, input_size());
        consume_input(n);
        _skip -= n;
        if (_skip > 0) return need_input;
      }
      if (input_size() < 4) return need_input;
      const char* head = input();
      const auto type = static_cast<unsigned char>(head[0]);
      const std::size_t len = load_le32(head) >> 8;
      if (!_seen_identifier && type != identifier) return fail();
      if (type >= 0x80 && type != identifier) {  // skippable (padding included)
        consume_input(4);
        _skip = len;
        continue;
      }
      if (type >= 0x02 && type <= 0x7f) return fail();  // reserved unskippable
      // Refuse an oversized chunk before waiting for all of it.
      if (type == identifier && len != stream_identifier.size() - 4) return fail();
      if (type == compressed_data && (len < 4 || len > max_compressed_chunk)) return fail();
      if (type == uncompressed_data && (len < 4 || len > max_block + 4)) return fail();
      if (input_size() < 4 + len) return need_input;

      if (type == identifier) {
        if (std::string_view(head, 4 + len) != stream_identifier) return fail();
        _seen_identifier = true;
        consume_input(4 + len);
        continue;
      }
      const std::uint32_t crc = load_le32(head + 4);
      const char* payload = head + 8;
      const std::size_t payload_len = len - 4;
      std::size_t n = payload_len;
      if (type == compressed_data) {
        if (!snappy::GetUncompressedLength(payload, payload_len, &n) || n > max_block) return fail();
        char* to = dst;
        if (n > cap) {  // does not fit: decode into the block buffer and hand it out in parts
          _block.resize(n);
          _pos = 0;
          to = _block.data();
        }
        if (!snappy::RawUncompress(payload, payload_len, to)) return fail();
        if (snappy_masked_crc({to, n}) != crc) return fail();
      } else {
        if (snappy_masked_crc({payload, n}) != crc) return fail();
        if (n <= cap) {
          std::memcpy(dst, payload, n);
        } else {
          _block.assign(payload, payload + n);
          _pos = 0;
        }
      }
      consume_input(4 + len);
      if (n == 0) continue;
      if (n <= cap) return std::ptrdiff_t(n);
    }
  }

 private:
  std::ptrdiff_t fail() noexcept {
    _bad = true;
    _block.clear();
    _pos = 0;
    return corrupt;
  }

  std::vector<char> _block;  // decoded chunk not yet handed out: [_pos, size())
  std::size_t _pos = 0;
  std::size_t _skip = 0;     // bytes of a skippable chunk still to drop
  bool _seen_identifier = false;
  bool _bad = false;
};

class snappy_encoder final : public stream_encoder {
 public:
  void encode(std::string_view data, std::string& out) override {
    if (data.empty()) return;
    if (!_started) {
      out += stream_identifier;
      _started = true;
    }
    while (!data.empty()) {
      const std::string_view piece = data.substr(0, max_block);
      data.remove_prefix(piece.size());
      const std::size_t at = out.size();
      out.resize(at + 8 + snappy::MaxCompressedLength(piece.size()));
      std::size_t packed = 0;
      snappy::RawCompress(piece.data(), piece.size(), out.data() + at + 8, &packed);
      unsigned char type = compressed_data;
      if (packed >= piece.size() - piece.size() / 8) {  // not worth it: store
        type = uncompressed_data;
        std::memcpy(out.data() + at + 8, piece.data(), piece.size());
        packed = piece.size();
      }
      store_le32(out.data() + at, std::uint32_t(packed + 4) << 8 | type);
      store_le32(out.data() + at + 4, snappy_masked_crc(piece));
      out.resize(at + 8 + packed);
    }
  }

 private:
  bool _started = false;
};

}  // namespace

std::unique_ptr<stream_decoder> make_snappy_decoder() { return std::make_unique<snappy_decoder>(); }
std::unique_ptr<stream_encoder> make_snappy_encoder() { return std::make_unique<snappy_encoder>(); }

}  // namespace nsqd::net
