#include "http/http_api_stats.hpp"

#include <malloc.h>

#include <cstdio>
#include <ctime>

#include "go/duration.hpp"
#include "go/go_syntax.hpp"

namespace nsqd::http {

namespace {

using go::json_string;

std::string num(std::int64_t v) { return std::to_string(v); }
std::string num(std::uint64_t v) { return std::to_string(v); }
std::string boolean(bool b) { return b ? "true" : "false"; }

// Go's "%-Nd".
std::string left(std::int64_t v, std::size_t width) { return pad_right(num(v), width); }
std::string left(std::uint64_t v, std::size_t width) { return pad_right(num(v), width); }

// {"count":N,"percentiles":[{"quantile":q,"value":ns},...]} (each entry's keys sorted, as Go
// writes a map), or {"count":0,"percentiles":null} where there is no latency window.
std::string e2e_json(const broker::latency_summary& e2e) {
  const broker::latency_result r = broker::evaluate(e2e);
  if (r.percentiles.empty()) return R"({"count":0,"percentiles":null})";
  std::string out = "{\"count\":" + num(r.count) + ",\"percentiles\":[";
  for (std::size_t i = 0; i < r.percentiles.size(); ++i) {
    if (i) out += ',';
    out += "{\"quantile\":" + go::json_float(r.percentiles[i].quantile) +
           ",\"value\":" + go::json_float(r.percentiles[i].value) + "}";
  }
  out += "]}";
  return out;
}

// The e2e list of the text format: each value human-readable, ", "-joined.
std::string e2e_text(const broker::latency_summary& e2e) {
  std::string out;
  for (const auto& p : broker::evaluate(e2e).percentiles) {
    if (!out.empty()) out += ", ";
    out += nanoseconds_to_human(p.value);
  }
  return out;
}

std::string channel_json(const broker::channel_stats& c, const stats_document& doc) {
  std::string out = "{\"channel_name\":" + json_string(c.name);
  out += ",\"depth\":" + num(c.depth);
  out += ",\"backend_depth\":" + num(c.backend_depth);
  out += ",\"in_flight_count\":" + num(c.in_flight);
  out += ",\"deferred_count\":" + num(c.deferred);
  out += ",\"message_count\":" + num(c.message_count);
  // zone_local_msg_count, region_local_msg_count, global_msg_count: omitted when 0, and the
  // broker counts none of them.
  out += ",\"requeue_count\":" + num(c.requeue_count);
  out += ",\"timeout_count\":" + num(c.timeout_count);
  out += ",\"client_count\":" + num(c.client_count);
  out += ",\"clients\":";
  if (!doc.include_clients) {
    out += "null";
  } else {
    out += '[';
    for (std::size_t i = 0; i < c.clients.size(); ++i) {
      if (i) out += ',';
      out += client_json(c.clients[i]);
    }
    out += ']';
  }
  out += ",\"paused\":" + boolean(c.paused);
  out += ",\"e2e_processing_latency\":" + e2e_json(c.e2e);
  out += '}';
  return out;
}

std::string topic_json(const broker::topic_stats& t, const stats_document& doc) {
  std::string out = "{\"topic_name\":" + json_string(t.name) + ",\"channels\":[";
  for (std::size_t i = 0; i < t.channels.size(); ++i) {
    if (i) out += ',';
    out += channel_json(t.channels[i], doc);
  }
  out += "],\"depth\":" + num(t.depth);
  out += ",\"backend_depth\":" + num(t.backend_depth);
  out += ",\"message_count\":" + num(t.message_count);
  out += ",\"message_bytes\":" + num(t.message_bytes);
  out += ",\"paused\":" + boolean(t.paused);
  out += ",\"e2e_processing_latency\":" + e2e_json(t.e2e);
  out += '}';
  return out;
}

std::string memory_json(const memory_stats& m) {
  std::string out = "{\"heap_objects\":" + num(m.heap_objects);
  out += ",\"heap_idle_bytes\":" + num(m.heap_idle_bytes);
  out += ",\"heap_in_use_bytes\":" + num(m.heap_in_use_bytes);
  out += ",\"heap_released_bytes\":" + num(m.heap_released_bytes);
  out += ",\"gc_pause_usec_100\":" + num(m.gc_pause_usec_100);
  out += ",\"gc_pause_usec_99\":" + num(m.gc_pause_usec_99);
  out += ",\"gc_pause_usec_95\":" + num(m.gc_pause_usec_95);
  out += ",\"next_gc_bytes\":" + num(m.next_gc_bytes);
  out += ",\"gc_total_runs\":" + num(std::uint64_t{m.gc_total_runs});
  out += '}';
  return out;
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// The port of "host:port" (Go's SplitHostPort), "" when there is none.
std::string_view port_of(std::string_view address) {
  const auto colon = address.rfind(':');
  return colon == std::string_view::npos ? std::string_view{} : address.substr(colon + 1);
}

}  // namespace

memory_stats read_memory_stats() {
  const struct mallinfo2 mi = ::mallinfo2();
  memory_stats m;
  m.heap_idle_bytes = mi.fordblks;
  m.heap_in_use_bytes = mi.uordblks + mi.hblkhd;
  return m;
}

std::string client_json(const broker::client_stats& c) {
  std::string out = "{\"client_id\":" + json_string(c.client_id);
  out += ",\"hostname\":" + json_string(c.hostname);
  out += ",\"version\":" + json_string(c.version);
  out += ",\"remote_address\":" + json_string(c.remote_address);
  out += ",\"state\":" + num(std::int64_t{c.state});
  out += ",\"ready_count\":" + num(c.ready_count);
  out += ",\"in_flight_count\":" + num(c.in_flight_count);
  out += ",\"message_count\":" + num(c.message_count);
  // zone/region/global counters: always 0 for clients upstream, so always omitted (quirk 3).
  out += ",\"finish_count\":" + num(c.finish_count);
  out += ",\"requeue_count\":" + num(c.requeue_count);
  out += ",\"connect_ts\":" + num(c.connect_ts);
  out += ",\"sample_rate\":" + num(std::int64_t{c.sample_rate});
  out += ",\"deflate\":" + boolean(c.deflate);
  out += ",\"snappy\":" + boolean(c.snappy);
  out += ",\"user_agent\":" + json_string(c.user_agent);
  if (c.authed) out += ",\"authed\":true";
  if (!c.auth_identity.empty()) out += ",\"auth_identity\":" + json_string(c.auth_identity);
  if (!c.auth_identity_url.empty())
    out += ",\"auth_identity_url\":" + json_string(c.auth_identity_url);
  out += ",\"topology_zone\":" + json_string(c.topology_zone);
  out += ",\"topology_region\":" + json_string(c.topology_region);
  if (!c.pub_counts.empty()) {
    out += ",\"pub_counts\":[";
    for (std::size_t i = 0; i < c.pub_counts.size(); ++i) {
      if (i) out += ',';
      out += "{\"topic\":" + json_string(c.pub_counts[i].topic) +
             ",\"count\":" + num(c.pub_counts[i].count) + "}";
    }
    out += ']';
  }
  out += ",\"tls\":" + boolean(c.tls);
  out += ",\"tls_cipher_suite\":" + json_string(c.tls_cipher_suite);
  out += ",\"tls_version\":" + json_string(c.tls_version);
  out += ",\"tls_negotiated_protocol\":" + json_string(c.tls_negotiated_protocol);
  out += ",\"tls_negotiated_protocol_is_mutual\":" + boolean(c.tls_negotiated_protocol_is_mutual);
  out += '}';
  return out;
}

std::string stats_json(const stats_document& doc) {
  std::string out;
  out.reserve(512 + doc.topics.size() * 640);  // a topic with one channel is about 600 bytes
  out += "{\"version\":" + json_string(doc.version);
  out += ",\"health\":" + json_string(doc.health);
  out += ",\"start_time\":" + num(unix_seconds(doc.start_time));
  out += ",\"topics\":";
  if (doc.topics_null) {
    out += "null";
  } else {
    out += '[';
    for (std::size_t i = 0; i < doc.topics.size(); ++i) {
      if (i) out += ',';
      out += topic_json(doc.topics[i], doc);
    }
    out += ']';
  }
  if (doc.memory) out += ",\"memory\":" + memory_json(*doc.memory);
  out += ",\"producers\":";
  if (!doc.include_clients || doc.producers.empty()) {
    out += "null";
  } else {
    out += '[';
    for (std::size_t i = 0; i < doc.producers.size(); ++i) {
      if (i) out += ',';
      out += client_json(doc.producers[i]);
    }
    out += ']';
  }
  out += '}';
  return out;
}

std::string client_text(const broker::client_stats& c, std::chrono::system_clock::time_point now) {
  const std::int64_t connected_s = std::max<std::int64_t>(0, unix_seconds(now) - c.connect_ts);
  const std::string connected = go::format_duration(std::chrono::seconds(connected_s));
  std::string id = c.hostname;
  id += ':';
  id += port_of(c.remote_address);
  id += ' ';
  id += c.user_agent;
  std::string out = "[" + c.version + " " + pad_right(id, 21) + "] ";
  if (!c.pub_counts.empty()) {
    std::uint64_t total = 0;
    std::string topics;
    for (const auto& pc : c.pub_counts) {
      total += pc.count;
      if (!topics.empty()) topics += ',';
      topics += pc.topic + "=" + num(pc.count);
    }
    return out + "msgs: " + left(total, 8) + " topics: " + topics + " connected: " + connected;
  }
  out += "state: " + num(std::int64_t{c.state});
  out += " inflt: " + left(c.in_flight_count, 4);
  out += " rdy: " + left(c.ready_count, 4);
  out += " fin: " + left(c.finish_count, 8);
  out += " re-q: " + left(c.requeue_count, 8);
  out += " msgs: " + left(c.message_count, 8);
  return out + " connected: " + connected;
}

std::string stats_text(const stats_document& doc, std::string_view version_line) {
  std::string out(version_line);
  out += "\nstart_time " + rfc3339_local(doc.start_time);
  out += "\nuptime " + go::format_duration(doc.now - doc.start_time);
  out += "\n\nHealth: " + doc.health + "\n";
  if (doc.memory) {
    const memory_stats& m = *doc.memory;
    const auto line = [&out](std::string_view name, std::uint64_t v) {
      out += "   " + pad_right(name, 25) + "\t" + num(v) + "\n";
    };
    out += "\nMemory:\n";
    line("heap_objects", m.heap_objects);
    line("heap_idle_bytes", m.heap_idle_bytes);
    line("heap_in_use_bytes", m.heap_in_use_bytes);
    line("heap_released_bytes", m.heap_released_bytes);
    line("gc_pause_usec_100", m.gc_pause_usec_100);
    line("gc_pause_usec_99", m.gc_pause_usec_99);
    line("gc_pause_usec_95", m.gc_pause_usec_95);
    line("next_gc_bytes", m.next_gc_bytes);
    line("gc_total_runs", m.gc_total_runs);
  }
  out += doc.topics.empty() ? "\nTopics: None\n" : "\nTopics:";
  for (const broker::topic_stats& t : doc.topics) {
    out += "\n";
    out += t.paused ? "*P " : "   ";
    out += "[" + pad_right(t.name, 15) + "] depth: " + left(t.depth, 5);
    out += " be-depth: " + left(t.backend_depth, 5);
    out += " msgs: " + left(t.message_count, 8);
    out += " e2e%: " + e2e_text(t.e2e) + "\n";
    for (const broker::channel_stats& c : t.channels) {
      out += c.paused ? "   *P " : "      ";
      out += "[" + pad_right(c.name, 25) + "] depth: " + left(c.depth, 5);
      out += " be-depth: " + left(c.backend_depth, 5);
      out += " inflt: " + left(c.in_flight, 4);
      out += " def: " + left(c.deferred, 4);
      out += " re-q: " + left(c.requeue_count, 5);
      out += " timeout: " + left(c.timeout_count, 5);
      out += " msgs: " + left(c.message_count, 8);
      out += " e2e%: " + e2e_text(c.e2e) + "\n";
      for (const broker::client_stats& cl : c.clients)
        out += "        " + client_text(cl, doc.now) + "\n";
    }
  }
  if (!doc.include_clients || doc.producers.empty()) {
    out += "\nProducers: None\n";
  } else {
    out += "\nProducers:\n";
    for (const broker::client_stats& p : doc.producers) out += "   " + client_text(p, doc.now) + "\n";
  }
  return out;
}

std::string nanoseconds_to_human(double v) {
  const char* suffix = "ns";
  if (v > 1e9) {
    v /= 1e9;
    suffix = "s";
  } else if (v > 1e6) {
    v /= 1e6;
    suffix = "ms";
  } else if (v > 1e3) {
    v /= 1e3;
    suffix = "us";
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f%s", v, suffix);
  return buf;
}

std::string rfc3339_local(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  long offset = tm.tm_gmtoff;
  if (offset == 0) return out + "Z";
  const char sign = offset < 0 ? '-' : '+';
  if (offset < 0) offset = -offset;
  std::snprintf(buf, sizeof buf, "%c%02ld:%02ld", sign, offset / 3600, offset / 60 % 60);
  return out + buf;
}

std::string pad_right(std::string_view text, std::size_t width) {
  std::size_t chars = 0;
  for (const char c : text) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  std::string out(text);
  if (chars < width) out.append(width - chars, ' ');
  return out;
}

}  // namespace nsqd::http
