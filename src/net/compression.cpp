#include "net/compression.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace nsqd::net {

// ---- stream_decoder input -----------------------------------------------------------------------

char* stream_decoder::prepare(std::size_t n) {
  if (_in.size() - _end < n) {
    if (_begin > 0) {  // slide the unread tail to the front
      std::memmove(_in.data(), _in.data() + _begin, _end - _begin);
      _end -= _begin;
      _begin = 0;
    }
    if (_in.size() - _end < n) _in.resize(std::max(_end + n, _in.size() * 2));
  }
  return _in.data() + _end;
}

void stream_decoder::feed(std::string_view data) {
  if (data.empty()) return;
  std::memcpy(prepare(data.size()), data.data(), data.size());
  commit(data.size());
}

void stream_decoder::consume_input(std::size_t n) noexcept {
  _begin += n;
  if (_begin == _end) _begin = _end = 0;
}

// ---- CRC-32C ------------------------------------------------------------------------------------

namespace {

// Slicing-by-8 tables for the reflected Castagnoli polynomial.
struct crc_tables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  constexpr crc_tables() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
};
constexpr crc_tables tables;

std::uint32_t crc32c_table(std::uint32_t c, const unsigned char* p, std::size_t n) noexcept {
  const auto& t = tables.t;
  while (n >= 8) {
    std::uint32_t lo, hi;
    std::memcpy(&lo, p, 4);  // little-endian host assumed (x86-64, aarch64)
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
        t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t c, const unsigned char* p,
                                                              std::size_t n) noexcept {
  std::uint64_t c64 = c;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = __builtin_ia32_crc32di(c64, v);
    p += 8;
    n -= 8;
  }
  c = std::uint32_t(c64);
  while (n--) c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}
const bool have_sse42 = [] {
  __builtin_cpu_init();  // may run before libgcc's own constructor does it
  return __builtin_cpu_supports("sse4.2") != 0;
}();
#endif

}  // namespace

std::uint32_t crc32c(std::string_view data) noexcept {
  auto* p = reinterpret_cast<const unsigned char*>(data.data());
#if defined(__x86_64__)
  if (have_sse42) return ~crc32c_sse42(~0u, p, data.size());
#endif
  return ~crc32c_table(~0u, p, data.size());
}

std::uint32_t snappy_masked_crc(std::string_view data) noexcept {
  const std::uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

}  // namespace nsqd::net
