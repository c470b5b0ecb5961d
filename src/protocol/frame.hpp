#pragma once
// V2 server-to-client frames (SPEC B.1, B.2) and the big-endian helpers they are made of.
//
// A frame on the wire is `[int32 BE size][int32 BE frame_type][data]` with size = 4 + len(data).
// Frames are appended to a caller-owned output buffer (a std::string); nothing here allocates
// beyond that buffer's own growth, and nothing does I/O.
//
// A message frame's data is the 26-byte message header followed by the body:
//   [int64 BE timestamp ns][uint16 BE attempts][16 bytes id, lowercase hex][body]
// so the whole frame is a fixed 34-byte prefix plus the body. `write_message_frame_header`
// produces that prefix alone, letting a writer send the body straight from its shared buffer
// (append it, or hand both to writev) without an intermediate copy. The message header itself
// is the model's (model/message.hpp): the same bytes start a disk record.

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "model/message.hpp"
#include "net/big_endian.hpp"

namespace nsqd::protocol {

enum class frame_type : std::int32_t {
  response = 0,
  error = 1,
  message = 2,
};

// --- frames -------------------------------------------------------------------------------

// `[size][type]`: the 8 bytes before a frame's data.
inline constexpr std::size_t frame_header_size = 8;
// Everything of a message frame before the body: frame header + 26-byte message header.
inline constexpr std::size_t message_frame_header_size =
    frame_header_size + message_header_size;
// Largest data a frame can carry: the size field is an int32 that includes the 4 type bytes.
inline constexpr std::size_t max_frame_data = std::numeric_limits<std::int32_t>::max() - 4;

// Writes `[size=4+data_len][type]` to out[0..8).
inline void write_frame_header(char* out, frame_type type, std::size_t data_len) {
  assert(data_len <= max_frame_data);
  net::put_u32(out, static_cast<std::uint32_t>(data_len + 4));
  net::put_u32(out + 4, static_cast<std::uint32_t>(type));
}

// Appends one whole frame.
inline void append_frame(std::string& out, frame_type type, std::string_view data) {
  char h[frame_header_size];
  write_frame_header(h, type, data.size());
  out.append(h, sizeof h);
  out.append(data);
}

// Response frame, e.g. "OK", "CLOSE_WAIT", "_heartbeat_" or a JSON document.
inline void append_response_frame(std::string& out, std::string_view data) {
  append_frame(out, frame_type::response, data);
}

// Error frame whose data is already "<CODE> <description>".
inline void append_error_frame(std::string& out, std::string_view text) {
  append_frame(out, frame_type::error, text);
}

// Error frame "<code> <description>", e.g. ("E_INVALID", "invalid command sub"), written
// without building the joined text first.
inline void append_error_frame(std::string& out, std::string_view code,
                               std::string_view description) {
  char h[frame_header_size];
  write_frame_header(h, frame_type::error, code.size() + 1 + description.size());
  out.append(h, sizeof h);
  out.append(code);
  out.push_back(' ');
  out.append(description);
}

// Writes the 34 bytes of `m`'s message frame that precede its body.
inline void write_message_frame_header(char* out, const message& m) {
  write_frame_header(out, frame_type::message, message_header_size + m.body.size());
  write_message_header(out + frame_header_size, m);
}

// Appends `m`'s whole message frame; the body is copied once, from its shared buffer straight
// into `out`.
inline void append_message_frame(std::string& out, const message& m) {
  char h[message_frame_header_size];
  write_message_frame_header(h, m);
  out.append(h, sizeof h);
  out.append(m.body.view());
}

}  // namespace nsqd::protocol
