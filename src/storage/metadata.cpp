#include "storage/metadata.hpp"

#include <boost/algorithm/hex.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <iterator>
#include <cstring>
#include <stdexcept>

#include "core/file.hpp"
#include "go/go_syntax.hpp"
#include "model/names.hpp"
#include "model/version.hpp"

namespace nsqd::storage {

std::string render_metadata(const std::vector<topic_meta>& topics, std::string_view version) {
  auto flag = [](bool b) { return b ? "true" : "false"; };
  std::string out = "{\"topics\":";
  if (topics.empty()) {
    out += "null";
  } else {
    out += '[';
    for (size_t i = 0; i < topics.size(); ++i) {
      const topic_meta& t = topics[i];
      if (i) out += ',';
      out += "{\"name\":" + go::json_string(t.name) + ",\"paused\":" + flag(t.paused) + ",\"channels\":";
      if (t.channels.empty()) {
        out += "null";
      } else {
        out += '[';
        for (size_t j = 0; j < t.channels.size(); ++j) {
          if (j) out += ',';
          out += "{\"name\":" + go::json_string(t.channels[j].name) +
                 ",\"paused\":" + flag(t.channels[j].paused) + "}";
        }
        out += ']';
      }
      out += '}';
    }
    out += ']';
  }
  out += ",\"version\":" + go::json_string(version) + "}";
  return out;
}

namespace {

// Go's json.Unmarshal into the upstream struct: missing or null fields stay zero values.
std::string string_field(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return {};
  if (!v->is_string()) throw std::runtime_error(std::string("field ") + std::string(key) + " is not a string");
  return std::string(v->get_string());
}
bool bool_field(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return false;
  if (!v->is_bool()) throw std::runtime_error(std::string("field ") + std::string(key) + " is not a bool");
  return v->get_bool();
}
const boost::json::array* array_field(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return nullptr;
  if (!v->is_array()) throw std::runtime_error(std::string("field ") + std::string(key) + " is not an array");
  return &v->get_array();
}
const boost::json::object& as_object(const boost::json::value& v) {
  if (!v.is_object()) throw std::runtime_error("expected an object");
  return v.get_object();
}

}  // namespace

std::vector<topic_meta> parse_metadata(std::string_view json, const core::logger& log) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(json, ec);
  if (ec) throw std::runtime_error(ec.message());
  std::vector<topic_meta> out;
  const boost::json::array* topics = array_field(as_object(doc), "topics");
  if (!topics) return out;
  for (const boost::json::value& tv : *topics) {
    const boost::json::object& to = as_object(tv);
    topic_meta t{string_field(to, "name"), bool_field(to, "paused"), {}};
    if (!is_valid_topic_name(t.name)) {
      log.warn("skipping creation of invalid topic ", t.name);
      continue;
    }
    if (const boost::json::array* chans = array_field(to, "channels"))
      for (const boost::json::value& cv : *chans) {
        const boost::json::object& co = as_object(cv);
        channel_meta c{string_field(co, "name"), bool_field(co, "paused")};
        if (!is_valid_channel_name(c.name)) {
          log.warn("skipping creation of invalid channel ", c.name);
          continue;
        }
        t.channels.push_back(std::move(c));
      }
    out.push_back(std::move(t));
  }
  return out;
}

core::task<std::optional<std::vector<topic_meta>>> load_metadata(int dirfd, std::string path_for_errors,
                                                                   const core::logger& log) {
  std::string text;
  int rc = co_await core::read_file(dirfd, std::string(metadata_file_name), text);
  if (rc == -ENOENT) co_return std::nullopt;
  if (rc < 0)
    throw std::runtime_error("failed to read metadata from " + path_for_errors + " - " +
                             go::errno_text(rc));
  try {
    co_return parse_metadata(text, log);
  } catch (const std::exception& e) {
    throw std::runtime_error("failed to parse metadata in " + path_for_errors + " - " + e.what());
  }
}

core::task<int> save_metadata(int dirfd, const std::vector<topic_meta>& topics) {
  std::string text = render_metadata(topics, nsqd_version);
  int rc = co_await core::write_file_atomically(dirfd, std::string(metadata_file_name), text, 0600);
  co_return rc;
}

// ---- deferred sidecar ----

namespace {
template <class Int>
bool parse_field(std::string_view& line, char sep, Int& out) {
  size_t end = line.find(sep);
  std::string_view f = line.substr(0, end);
  auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), out);
  if (ec != std::errc() || p != f.data() + f.size()) return false;
  line = end == std::string_view::npos ? std::string_view{} : line.substr(end + 1);
  return true;
}
}  // namespace

std::string render_deferred(const std::vector<deferred_record>& records) {
  std::string out;
  for (const deferred_record& r : records) {
    out += std::to_string(r.at.file) + "," + std::to_string(r.at.pos) + "," + std::to_string(r.due_ns) + ",";
    boost::algorithm::hex_lower(r.id.hex.begin(), r.id.hex.end(), std::back_inserter(out));
    out += '\n';
  }
  return out;
}

std::vector<deferred_record> parse_deferred(std::string_view text) {
  std::vector<deferred_record> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    deferred_record r;
    if (!parse_field(line, ',', r.at.file) || !parse_field(line, ',', r.at.pos) ||
        !parse_field(line, ',', r.due_ns) || line.size() != 2 * r.id.hex.size() || r.at.file < 0 || r.at.pos < 0)
      continue;
    try {
      boost::algorithm::unhex(line.begin(), line.end(), r.id.hex.begin());
    } catch (const boost::algorithm::hex_decode_error&) {
      continue;
    }
    out.push_back(r);
  }
  return out;
}

}  // namespace nsqd::storage
