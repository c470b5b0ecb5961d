#include "model/message.hpp"

#include <cassert>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

#include <boost/endian/conversion.hpp>

namespace nsqd {

namespace {

unsigned char* as_bytes(char* p) { return reinterpret_cast<unsigned char*>(p); }

}  // namespace

message_body message_body::allocate(std::size_t size) {
  message_body b;
  if (size == 0) return b;
  if (size > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("message body too large");
  void* mem = ::operator new(sizeof(rep) + size);
  b._rep = new (mem) rep{{1}, static_cast<std::uint32_t>(size)};
  return b;
}

message_body message_body::copy_of(std::string_view bytes) {
  message_body b = allocate(bytes.size());
  if (!bytes.empty()) std::memcpy(b.mutable_data(), bytes.data(), bytes.size());
  return b;
}

char* message_body::mutable_data() noexcept {
  assert(use_count() <= 1);
  return _rep ? bytes_of(_rep) : nullptr;
}

void message_body::release() noexcept {
  if (_rep && _rep->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    _rep->~rep();
    ::operator delete(static_cast<void*>(_rep));
  }
  _rep = nullptr;
}

void write_message_header(char* out, const message& m) {
  boost::endian::store_big_u64(as_bytes(out), static_cast<std::uint64_t>(m.timestamp));
  boost::endian::store_big_u16(as_bytes(out + 8), m.attempts);
  std::memcpy(out + message_id_offset, m.id.hex.data(), m.id.hex.size());
}

void append_payload(std::string& out, const message& m) {
  char h[message_header_size];
  write_message_header(h, m);
  out.append(h, sizeof h);
  out.append(m.body.view());
}

void append_disk_record(std::string& out, const message& m) {
  char h[record_length_size + message_header_size];
  boost::endian::store_big_u32(as_bytes(h), static_cast<std::uint32_t>(payload_size(m)));
  write_message_header(h + record_length_size, m);
  out.append(h, sizeof h);
  out.append(m.body.view());
}

std::int64_t read_record_length(const char* p) {
  return boost::endian::load_big_s32(reinterpret_cast<const unsigned char*>(p));
}

bool record_length_ok(std::int64_t length, std::int64_t max_msg_size) {
  return length >= static_cast<std::int64_t>(message_header_size) &&
         max_msg_size >= 0 && length - static_cast<std::int64_t>(message_header_size) <= max_msg_size;
}

std::optional<message> decode_payload(std::string_view payload, std::int64_t max_msg_size) {
  if (!record_length_ok(static_cast<std::int64_t>(payload.size()), max_msg_size))
    return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
  message m;
  m.timestamp = static_cast<std::int64_t>(boost::endian::load_big_u64(p));
  m.attempts = boost::endian::load_big_u16(p + 8);
  std::memcpy(m.id.hex.data(), payload.data() + message_id_offset, m.id.hex.size());
  m.body = message_body::copy_of(payload.substr(message_header_size));
  return m;
}

}  // namespace nsqd
