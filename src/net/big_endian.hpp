#pragma once
// Big-endian integers in byte buffers (Boost.Endian): no alignment required, no bounds
// checks. The V2 frames, MPUB bodies (TCP and /mpub binary) and message headers use them.

#include <cstdint>
#include <string>

#include <boost/endian/conversion.hpp>

namespace nsqd::net {

inline void put_u16(char* out, std::uint16_t v) {
  boost::endian::store_big_u16(reinterpret_cast<unsigned char*>(out), v);
}
inline void put_u32(char* out, std::uint32_t v) {
  boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(out), v);
}
inline void put_u64(char* out, std::uint64_t v) {
  boost::endian::store_big_u64(reinterpret_cast<unsigned char*>(out), v);
}
inline std::uint16_t get_u16(const char* in) {
  return boost::endian::load_big_u16(reinterpret_cast<const unsigned char*>(in));
}
inline std::uint32_t get_u32(const char* in) {
  return boost::endian::load_big_u32(reinterpret_cast<const unsigned char*>(in));
}
inline std::uint64_t get_u64(const char* in) {
  return boost::endian::load_big_u64(reinterpret_cast<const unsigned char*>(in));
}
// The protocol's signed sizes (`[int32 BE size]` before a body) read as two's complement.
inline std::int32_t get_i32(const char* in) { return static_cast<std::int32_t>(get_u32(in)); }

inline void append_u32(std::string& out, std::uint32_t v) {
  char b[4];
  put_u32(b, v);
  out.append(b, 4);
}

}  // namespace nsqd::net
