#include "nsq_bench/payload.hpp"

#include <ctime>

#include "nsq_bench/wire.hpp"

namespace nsqd::nsq_bench {

void write_payload_header(char* out, const payload_header& h) {
  put_u64(out, h.timestamp_ns);
  put_u32(out + 8, h.run_id);
  put_u32(out + 12, h.publisher);
  put_u64(out + 16, h.sequence);
}

void stamp_payload(char* out, std::uint64_t timestamp_ns, std::uint64_t sequence) {
  put_u64(out, timestamp_ns);
  put_u64(out + 16, sequence);
}

std::optional<payload_header> read_payload_header(std::string_view body) {
  if (body.size() < payload_header_size) return std::nullopt;
  const char* p = body.data();
  return payload_header{get_u64(p), get_u32(p + 8), get_u32(p + 12), get_u64(p + 16)};
}

std::uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
}

}  // namespace nsqd::nsq_bench
