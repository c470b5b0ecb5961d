#include "http/http_api_metrics.hpp"

#include <functional>

#include "go/go_syntax.hpp"

namespace nsqd::http {

namespace {

class writer {
 public:
  explicit writer(std::string& out) : _out(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    _name = name;
    _out += "# HELP ";
    _out += name;
    _out += ' ';
    _out += help;
    _out += "\n# TYPE ";
    _out += name;
    _out += ' ';
    _out += type;
    _out += '\n';
  }

  // One sample of the current family; `labels` is the inside of {...} (may be empty).
  template <class T>
  void sample(std::string_view labels, T value) {
    _out += _name;
    if (!labels.empty()) {
      _out += '{';
      _out += labels;
      _out += '}';
    }
    _out += ' ';
    _out += std::to_string(value);
    _out += '\n';
  }
  void sample(std::string_view labels, double value) {
    _out += _name;
    _out += '{';
    _out += labels;
    _out += "} ";
    _out += go::format_float(value);
    _out += '\n';
  }

 private:
  std::string& _out;
  std::string _name;
};

std::string topic_label(const broker::topic_stats& t) {
  return "topic=\"" + escape_label_value(t.name) + "\"";
}

std::string channel_labels(const broker::topic_stats& t, const broker::channel_stats& c) {
  return topic_label(t) + ",channel=\"" + escape_label_value(c.name) + "\"";
}

// e2e latency of one topic or channel (nothing where there is no window): seconds at each
// quantile, or FINs in the window.
void e2e_quantiles(writer& w, const std::string& labels, const broker::latency_summary& e2e) {
  for (const auto& p : broker::evaluate(e2e).percentiles)
    w.sample(labels + ",quantile=\"" + go::format_float(p.quantile) + "\"", p.value / 1e9);
}
void e2e_count(writer& w, const std::string& labels, const broker::latency_summary& e2e) {
  if (!e2e.percentiles.empty()) w.sample(labels, broker::evaluate(e2e).count);
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string render_metrics(const metrics_snapshot& m) {
  std::string out;
  writer w(out);

  w.family("nsqd_info", "gauge", "Always 1; the version is a label.");
  w.sample("version=\"" + escape_label_value(m.version) + "\"", 1);
  w.family("nsqd_start_time_seconds", "gauge", "When nsqd started, in Unix seconds.");
  w.sample("", std::chrono::duration_cast<std::chrono::seconds>(m.start_time.time_since_epoch()).count());
  w.family("nsqd_topics", "gauge", "Number of topics.");
  w.sample("", m.topics.size());
  std::size_t channels = 0;
  for (const auto& t : m.topics) channels += t.channels.size();
  w.family("nsqd_channels", "gauge", "Number of channels, over every topic.");
  w.sample("", channels);

  using topic_value = std::function<std::int64_t(const broker::topic_stats&)>;
  const auto topic_family = [&](std::string_view name, std::string_view type,
                                std::string_view help, const topic_value& value) {
    w.family(name, type, help);
    for (const auto& t : m.topics) w.sample(topic_label(t), value(t));
  };
  topic_family("nsqd_topic_depth", "gauge",
               "Messages waiting in the topic for its channels (memory and disk).",
               [](const auto& t) { return t.depth; });
  topic_family("nsqd_topic_backend_depth", "gauge", "The part of nsqd_topic_depth on disk.",
               [](const auto& t) { return t.backend_depth; });
  topic_family("nsqd_topic_messages_total", "counter", "Messages published to the topic.",
               [](const auto& t) { return std::int64_t(t.message_count); });
  topic_family("nsqd_topic_message_bytes_total", "counter",
               "Bytes of message bodies published to the topic.",
               [](const auto& t) { return std::int64_t(t.message_bytes); });
  topic_family("nsqd_topic_paused", "gauge", "1 while the topic is paused.",
               [](const auto& t) { return std::int64_t(t.paused); });

  using channel_value = std::function<std::int64_t(const broker::channel_stats&)>;
  const auto channel_family = [&](std::string_view name, std::string_view type,
                                  std::string_view help, const channel_value& value) {
    w.family(name, type, help);
    for (const auto& t : m.topics)
      for (const auto& c : t.channels) w.sample(channel_labels(t, c), value(c));
  };
  channel_family("nsqd_channel_depth", "gauge",
                 "Messages queued in the channel (memory and disk), not in flight or deferred.",
                 [](const auto& c) { return c.depth; });
  channel_family("nsqd_channel_backend_depth", "gauge", "The part of nsqd_channel_depth on disk.",
                 [](const auto& c) { return c.backend_depth; });
  channel_family("nsqd_channel_in_flight", "gauge",
                 "Messages sent to a consumer and not yet finished, requeued or timed out.",
                 [](const auto& c) { return c.in_flight; });
  channel_family("nsqd_channel_deferred", "gauge", "Messages waiting for their deferral to end.",
                 [](const auto& c) { return c.deferred; });
  channel_family("nsqd_channel_messages_total", "counter",
                 "Messages put into the channel (requeues not counted).",
                 [](const auto& c) { return std::int64_t(c.message_count); });
  channel_family("nsqd_channel_requeues_total", "counter", "Messages requeued by consumers (REQ).",
                 [](const auto& c) { return std::int64_t(c.requeue_count); });
  channel_family("nsqd_channel_timeouts_total", "counter",
                 "In-flight messages that timed out and were requeued.",
                 [](const auto& c) { return std::int64_t(c.timeout_count); });
  channel_family("nsqd_channel_clients", "gauge", "Consumers subscribed to the channel.",
                 [](const auto& c) { return c.client_count; });
  channel_family("nsqd_channel_paused", "gauge", "1 while the channel is paused.",
                 [](const auto& c) { return std::int64_t(c.paused); });

  // Only with --e2e-processing-latency-percentile (then every topic with a channel has a window).
  bool e2e = false;
  for (const auto& t : m.topics) e2e = e2e || !t.e2e.percentiles.empty();
  if (e2e) {
    w.family("nsqd_topic_e2e_processing_latency_seconds", "gauge",
             "Publish-to-FIN latency at each configured quantile, the topic's channels merged.");
    for (const auto& t : m.topics) e2e_quantiles(w, topic_label(t), t.e2e);
    w.family("nsqd_topic_e2e_processing_latency_samples", "gauge",
             "Messages finished in the latency window, over the topic's channels.");
    for (const auto& t : m.topics) e2e_count(w, topic_label(t), t.e2e);
    w.family("nsqd_channel_e2e_processing_latency_seconds", "gauge",
             "Publish-to-FIN latency of the channel at each configured quantile.");
    for (const auto& t : m.topics)
      for (const auto& c : t.channels) e2e_quantiles(w, channel_labels(t, c), c.e2e);
    w.family("nsqd_channel_e2e_processing_latency_samples", "gauge",
             "Messages finished in the channel's latency window.");
    for (const auto& t : m.topics)
      for (const auto& c : t.channels) e2e_count(w, channel_labels(t, c), c.e2e);
  }

  using shard_value = std::function<std::uint64_t(const core::reactor::counters&)>;
  const auto shard_family = [&](std::string_view name, std::string_view help,
                                const shard_value& value) {
    w.family(name, "counter", help);
    for (std::size_t n = 0; n < m.shards.size(); ++n)
      w.sample("shard=\"" + std::to_string(n) + "\"", value(m.shards[n]));
  };
  shard_family("nsqd_shard_loop_turns_total", "Event loop turns of the shard.",
               [](const auto& s) { return s.loop_turns; });
  shard_family("nsqd_shard_ring_enters_total", "io_uring_enter calls of the shard.",
               [](const auto& s) { return s.enters; });
  shard_family("nsqd_shard_completions_total", "io_uring completions the shard reaped.",
               [](const auto& s) { return s.cqes; });
  shard_family("nsqd_shard_resumes_total", "Coroutines the shard resumed.",
               [](const auto& s) { return s.resumes; });

  w.family("nsqd_heap_in_use_bytes", "gauge", "Bytes the C allocator has handed out.");
  w.sample("", m.memory.heap_in_use_bytes);
  w.family("nsqd_heap_idle_bytes", "gauge", "Free bytes the C allocator keeps.");
  w.sample("", m.memory.heap_idle_bytes);
  return out;
}

}  // namespace nsqd::http
