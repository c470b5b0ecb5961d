#pragma once
// A message as the broker keeps it (SPEC B.2, D.3), its shared body, and its two byte forms:
// the payload (26-byte header + body; the data of a message frame and of a disk record) and
// the disk record `[int32 BE length][payload]`.
//
//   payload: [int64 BE timestamp ns][uint16 BE attempts][16-byte id][body]

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "model/message_id.hpp"

namespace nsqd {

inline constexpr std::size_t message_header_size = 26;
// Where the 16-byte id sits in the header (after the int64 timestamp and uint16 attempts).
inline constexpr std::size_t message_id_offset = 10;
// The int32 length that starts a disk record.
inline constexpr std::size_t record_length_size = 4;

// An immutable message body shared by reference: one allocation holding an atomic reference
// count, the size and the bytes. Copying the handle increments the count (any thread may hold
// and copy handles; each handle object itself is used by one thread at a time); the last
// handle to go frees the buffer. A default-constructed handle is the empty body (no
// allocation). Bytes are written only between allocate() and the first copy.
class message_body {
 public:
  message_body() noexcept = default;
  message_body(const message_body& other) noexcept : _rep(other._rep) { retain(); }
  message_body(message_body&& other) noexcept : _rep(std::exchange(other._rep, nullptr)) {}
  message_body& operator=(const message_body& other) noexcept {
    message_body(other).swap(*this);
    return *this;
  }
  message_body& operator=(message_body&& other) noexcept {
    message_body(std::move(other)).swap(*this);
    return *this;
  }
  ~message_body() { release(); }

  // A body of `size` uninitialised bytes to fill through mutable_data() (e.g. read straight
  // from a socket buffer). Size 0 gives the empty body. Throws std::length_error above
  // UINT32_MAX bytes.
  static message_body allocate(std::size_t size);
  // A body holding a copy of `bytes`.
  static message_body copy_of(std::string_view bytes);

  const char* data() const noexcept { return _rep ? bytes_of(_rep) : ""; }
  std::size_t size() const noexcept { return _rep ? _rep->size : 0; }
  bool empty() const noexcept { return size() == 0; }
  std::string_view view() const noexcept { return {data(), size()}; }

  // Writable bytes; only while this is the sole handle (before it is shared).
  char* mutable_data() noexcept;

  // Handles sharing this buffer (0 for the empty body). A snapshot, for tests and asserts.
  std::uint32_t use_count() const noexcept {
    return _rep ? _rep->refs.load(std::memory_order_relaxed) : 0;
  }

  void swap(message_body& other) noexcept { std::swap(_rep, other._rep); }

 private:
  struct rep {
    std::atomic<std::uint32_t> refs;
    std::uint32_t size;
  };
  static char* bytes_of(rep* r) noexcept { return reinterpret_cast<char*>(r + 1); }

  void retain() noexcept {
    if (_rep) _rep->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void release() noexcept;

  rep* _rep = nullptr;
};

// One message. Per-delivery state (owner, deadline, queue positions) is the channel's.
struct message {
  message_id id;
  std::int64_t timestamp = 0;  // ns since the Unix epoch, set at publish
  std::uint16_t attempts = 0;  // deliveries so far; incremented on each send to a client
  // 48 bits the broker keeps with a message in memory (broker/message_tag.hpp says what they
  // mean), in what would otherwise be padding; never sent to clients nor written to disk.
  std::uint16_t tag_high = 0;
  std::uint32_t tag_low = 0;
  message_body body;

  std::uint64_t tag() const noexcept { return (std::uint64_t(tag_high) << 32) | tag_low; }
  void set_tag(std::uint64_t t) noexcept {
    tag_high = std::uint16_t(t >> 32);
    tag_low = std::uint32_t(t);
  }
};
static_assert(sizeof(message) == 40, "the tag lives in padding: a message stays 40 bytes");

// 26 + body size.
inline std::size_t payload_size(const message& m) { return message_header_size + m.body.size(); }

// Writes the 26-byte header of `m` to out[0..26).
void write_message_header(char* out, const message& m);

// Appends the payload (header + body).
void append_payload(std::string& out, const message& m);

// Appends the disk record `[int32 BE 26+len(body)][payload]` (go-diskqueue framing).
void append_disk_record(std::string& out, const message& m);

// The int32 BE length at `p` that starts a disk record (4 bytes, any alignment).
std::int64_t read_record_length(const char* p);

// Whether a record length (the int32 before a payload) is acceptable: 26..max_msg_size+26.
// go-diskqueue refuses to write, and treats as corruption when read, anything outside.
bool record_length_ok(std::int64_t length, std::int64_t max_msg_size);

// Decodes a payload (without the length prefix), copying the body into a new message_body.
// nullopt unless record_length_ok(payload.size(), max_msg_size). The id bytes are taken as
// they are (upstream does not validate them).
std::optional<message> decode_payload(std::string_view payload, std::int64_t max_msg_size);

}  // namespace nsqd
