#include "nsq_bench/consumer.hpp"

#include <chrono>
#include <optional>

#include <unistd.h>

#include <boost/json.hpp>

#include "nsq_bench/payload.hpp"
#include "nsq_bench/wire.hpp"

namespace nsqd::nsq_bench {

namespace {

using std::chrono::microseconds;
constexpr microseconds poll_interval{100000};      // how often an idle consumer checks why to stop
constexpr microseconds handshake_timeout{5000000};  // IDENTIFY/SUB answers, CLOSE_WAIT

// Upstream answers a feature-negotiating IDENTIFY with JSON carrying max_rdy_count.
std::optional<std::uint64_t> max_rdy_count(std::string_view answer) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(answer, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const boost::json::value* m = v.as_object().if_contains("max_rdy_count");
  if (!m || !m->is_int64() || m->as_int64() <= 0) return std::nullopt;
  return std::uint64_t(m->as_int64());
}

class consumer {
 public:
  consumer(const bench_options& o, run_state& state, consumer_result& r, connection& c)
      : _o(o), _state(state), _r(r), _c(c) {}

  // Handles every frame up to the next read that would block; false on a fatal failure.
  bool pump(microseconds timeout) {
    frame f;
    auto status = _c.next_frame(f, timeout);
    if (status == connection::read_status::timeout) return true;
    if (status == connection::read_status::closed) {
      _r.error = _c.error();
      return false;
    }
    std::uint64_t now = now_ns();
    std::uint64_t messages = _r.messages, fresh = _fresh;
    for (;;) {
      if (!handle(f, now)) return false;
      if (!_c.has_frame()) break;
      _c.next_frame(f, microseconds(0));
    }
    if (!_out.empty()) {
      if (!_c.send_all(_out)) {
        _r.error = _c.error();
        return false;
      }
      _out.clear();
    }
    if (_r.messages != messages) {
      _state.received.fetch_add(_r.messages - messages, std::memory_order_relaxed);
      _state.fresh.fetch_add(_fresh - fresh, std::memory_order_relaxed);
      _state.last_receive_ns.store(now, std::memory_order_relaxed);
    }
    return true;
  }

  bool closed_wait_seen() const { return _close_wait; }

 private:
  bool handle(const frame& f, std::uint64_t now) {
    switch (f.type) {
      case frame_type::message:
        return message(f.data, now);
      case frame_type::error:
        if (f.data.starts_with("E_FIN_FAILED")) {
          ++_r.fin_failed;
          return true;
        }
        _r.error = "nsqd: " + std::string(f.data);
        return false;
      case frame_type::response:
        if (f.data == heartbeat_data)
          append_nop(_out);
        else if (f.data == "CLOSE_WAIT")
          _close_wait = true;
        return true;
    }
    return true;
  }

  bool message(std::string_view data, std::uint64_t now) {
    message_view m;
    if (!parse_message(data, m)) {
      _r.error = "message frame shorter than its header";
      return false;
    }
    ++_r.messages;
    _r.body_bytes += m.body.size();
    if (_r.first_receive_ns == 0) _r.first_receive_ns = now;
    _r.last_receive_ns = now;
    if (m.attempts > 1) ++_r.redelivered;
    append_fin(_out, m.id);

    auto h = read_payload_header(m.body);
    if (!h || (_o.mode == run_mode::both && h->run_id != _state.run_id)) {
      ++_r.foreign;
      return true;
    }
    if (h->timestamp_ns > now) {
      ++_r.clock_skew;
      _r.latency.record(0);
    } else {
      _r.latency.record(now - h->timestamp_ns);
    }
    if (_r.seen.mark(h->run_id, h->publisher, h->sequence))
      ++_fresh;
    else
      ++_r.duplicates;
    return true;
  }

  const bench_options& _o;
  run_state& _state;
  consumer_result& _r;
  connection& _c;
  std::string _out;  // FINs and NOPs, sent once per received batch
  std::uint64_t _fresh = 0;
  bool _close_wait = false;
};

bool time_to_stop(const bench_options& o, const run_state& s) {
  if (s.stop.load(std::memory_order_relaxed)) return true;
  std::uint64_t now = now_ns();
  std::uint64_t fresh = s.fresh.load(std::memory_order_relaxed);
  std::uint64_t last = s.last_receive_ns.load(std::memory_order_relaxed);
  auto drain = std::uint64_t(o.drain_timeout.count());
  if (o.mode == run_mode::sub) {
    if (o.count && fresh >= *o.count) return true;
    if (o.duration && now >= s.start_ns + std::uint64_t(o.duration->count())) return true;
    return o.count && last != 0 && now >= last + drain;
  }
  if (!s.publishing_done.load(std::memory_order_acquire)) return false;
  if (fresh >= s.published.load(std::memory_order_relaxed)) return true;
  return now >= std::max(last, s.publishing_done_ns.load(std::memory_order_relaxed)) + drain;
}

}  // namespace

std::string identify_json(const bench_options& o, unsigned index) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  boost::json::object id{
      {"client_id", "nsq_bench-" + std::to_string(index)},
      {"hostname", host},
      {"user_agent", "nsq_bench/1.0"},
      {"feature_negotiation", true},
  };
  if (o.output_buffer_timeout) id["output_buffer_timeout"] = o.output_buffer_timeout->count();
  if (o.tls) id["tls_v1"] = true;
  return boost::json::serialize(id);
}

void run_consumer(const bench_options& o, unsigned index, run_state& state,
                  consumer_result& r) {
  bool counted_down = false;
  auto subscribed = [&] {
    if (!counted_down) state.subscribed.count_down();
    counted_down = true;
  };
  std::optional<connection> conn;
  try {
    conn.emplace(connection::open(o.host, o.port));
  } catch (const std::exception& e) {
    r.error = e.what();
    subscribed();
    return;
  }
  connection& c = *conn;
  frame f;
  std::string out;
  append_identify(out, identify_json(o, index));
  if (!c.send_all(out) || !await_response(c, f, r.error, handshake_timeout)) {
    if (r.error.empty()) r.error = c.error();
    subscribed();
    return;
  }
  r.rdy = o.rdy;
  if (auto max = max_rdy_count(f.data); max && *max < r.rdy) r.rdy = unsigned(*max);
  if (!finish_identify(c, f.data, state.tls, r.error, handshake_timeout)) {
    subscribed();
    return;
  }

  out.clear();
  append_sub(out, o.topic, o.channel);
  bool ok = c.send_all(out) && await_response(c, f, r.error, handshake_timeout);
  if (ok && f.data != "OK") r.error = "SUB answered '" + std::string(f.data) + "'";
  subscribed();
  if (!ok || !r.error.empty()) {
    if (r.error.empty()) r.error = c.error();
    return;
  }
  out.clear();
  append_rdy(out, r.rdy);
  if (!c.send_all(out)) {
    r.error = c.error();
    return;
  }

  consumer cons(o, state, r, c);
  while (!time_to_stop(o, state))
    if (!cons.pump(poll_interval)) return;

  // Orderly end: CLS stops deliveries; FIN whatever was already on its way.
  out.clear();
  append_cls(out);
  if (!c.send_all(out)) {
    r.error = c.error();
    return;
  }
  std::uint64_t give_up = now_ns() + std::uint64_t(handshake_timeout.count()) * 1000;
  while (!cons.closed_wait_seen() && now_ns() < give_up && !state.abort.load())
    if (!cons.pump(poll_interval)) return;
}

}  // namespace nsqd::nsq_bench
