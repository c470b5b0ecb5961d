#include "nsq_bench/publisher.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <stdexcept>

#include "nsq_bench/payload.hpp"
#include "nsq_bench/wire.hpp"

namespace nsqd::nsq_bench {

namespace {

using std::chrono::microseconds;
constexpr microseconds poll_interval{100000};  // how often a waiting publisher checks `stop`

void append_u32(std::string& out, std::uint32_t v) {
  char b[4];
  put_u32(b, v);
  out.append(b, 4);
}

// A prebuilt command and where its bodies are, reused for every full batch.
struct batch_buffer {
  std::string bytes;
  std::vector<std::size_t> bodies;

  void stamp(std::uint64_t now, std::uint64_t& sequence) {
    for (std::size_t at : bodies) stamp_payload(bytes.data() + at, now, sequence++);
  }
};

}  // namespace

std::string build_publish(const bench_options& o, std::uint32_t run, std::uint32_t publisher,
                          unsigned n, std::vector<std::size_t>& body_offsets) {
  std::string body(o.size, 'x');
  write_payload_header(body.data(), payload_header{0, run, publisher, 0});
  std::string out;
  body_offsets.clear();
  if (o.command == pub_command::pub) {
    if (n != 1) throw std::invalid_argument("PUB carries exactly one message");
    out.append("PUB ").append(o.topic).append("\n");
    append_u32(out, std::uint32_t(o.size));
    body_offsets.push_back(out.size());
    out.append(body);
    return out;
  }
  out.reserve(o.topic.size() + 14 + std::size_t(n) * (4 + o.size));
  out.append("MPUB ").append(o.topic).append("\n");
  append_u32(out, std::uint32_t(4 + std::uint64_t(n) * (4 + o.size)));
  append_u32(out, n);
  for (unsigned i = 0; i < n; ++i) {
    append_u32(out, std::uint32_t(o.size));
    body_offsets.push_back(out.size());
    out.append(body);
  }
  return out;
}

publisher_result run_publisher(const bench_options& o, const publisher_plan& plan,
                               run_state& state) {
  publisher_result r;
  r.index = plan.index;
  std::optional<connection> conn;
  try {
    conn.emplace(connection::open(o.host, o.port));
  } catch (const std::exception& e) {
    r.error = e.what();
    return r;
  }
  if (state.tls) {  // IDENTIFY only to ask for TLS
    std::string identify;
    append_identify(identify, R"({"feature_negotiation":true,"tls_v1":true,"user_agent":"nsq_bench/1.0"})");
    frame answer;
    constexpr std::chrono::microseconds timeout{5000000};
    if (!conn->send_all(identify) || !await_response(*conn, answer, r.error, timeout) ||
        !finish_identify(*conn, answer.data, state.tls, r.error, timeout)) {
      if (r.error.empty()) r.error = conn->error();
      return r;
    }
  }

  batch_buffer full;
  full.bytes = build_publish(o, state.run_id, plan.index, o.batch, full.bodies);
  batch_buffer partial;  // the last, shorter MPUB of a --count run
  std::deque<unsigned> awaiting;  // messages per command sent and not yet acknowledged
  std::uint64_t sequence = 0;     // next sequence number = messages sent
  frame f;

  auto remaining = [&]() -> std::uint64_t {
    return plan.quota ? *plan.quota - sequence : UINT64_MAX;
  };
  // Nanoseconds until the next batch may go (0: now); UINT64_MAX: nothing more to send.
  auto wait_ns = [&](std::uint64_t now) -> std::uint64_t {
    if (state.stop.load(std::memory_order_relaxed) || remaining() == 0) return UINT64_MAX;
    if (plan.deadline_ns && now >= *plan.deadline_ns) return UINT64_MAX;
    if (plan.rate <= 0) return 0;
    auto due = plan.first_send_ns + std::uint64_t(double(sequence) / plan.rate * 1e9);
    return due > now ? due - now : 0;
  };

  for (;;) {
    std::uint64_t now = now_ns();
    std::uint64_t wait = wait_ns(now);
    while (awaiting.size() < o.pipeline && wait == 0) {
      unsigned n = unsigned(std::min<std::uint64_t>(o.batch, remaining()));
      batch_buffer& b = n == o.batch ? full : partial;
      if (n != o.batch)
        b.bytes = build_publish(o, state.run_id, plan.index, n, b.bodies);
      b.stamp(now, sequence);
      if (!conn->send_all(b.bytes)) {
        r.error = conn->error();
        return r;
      }
      if (r.first_send_ns == 0) r.first_send_ns = now;
      awaiting.push_back(n);
      now = now_ns();
      wait = wait_ns(now);
    }
    if (awaiting.empty() && wait == UINT64_MAX) break;

    microseconds timeout = poll_interval;
    if (wait != UINT64_MAX)
      timeout = std::min(timeout, microseconds(std::max<std::uint64_t>(wait / 1000, 1)));
    switch (conn->next_frame(f, timeout)) {
      case connection::read_status::timeout:
        if (state.abort.load(std::memory_order_relaxed)) {
          r.error = "aborted with " + std::to_string(awaiting.size()) + " commands unanswered";
          return r;
        }
        continue;
      case connection::read_status::closed:
        r.error = conn->error();
        return r;
      case connection::read_status::frame:
        break;
    }
    if (f.type == frame_type::error) {
      r.error = "nsqd: " + std::string(f.data);
      return r;
    }
    if (f.type == frame_type::response && f.data == heartbeat_data) {
      std::string nop;
      append_nop(nop);
      if (!conn->send_all(nop)) {
        r.error = conn->error();
        return r;
      }
    } else if (f.type == frame_type::response && f.data == "OK" && !awaiting.empty()) {
      r.acked += awaiting.front();
      ++r.commands;
      state.published.fetch_add(awaiting.front(), std::memory_order_relaxed);
      awaiting.pop_front();
      r.last_ack_ns = now_ns();
    } else {
      r.error = "unexpected frame from nsqd: type " + std::to_string(int(f.type)) + " '" +
                std::string(f.data.substr(0, 64)) + "'";
      return r;
    }
  }
  return r;
}

}  // namespace nsqd::nsq_bench
