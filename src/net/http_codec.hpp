#pragma once
// HTTP/1.x over our own bytes (SPEC C): Boost.Beast's parser and serializer, no Asio I/O.
//
// The HTTP connection coroutine owns one http_request_reader and shows it the bytes received
// so far; the reader takes requests out of them (pipelining: several in one read, or one over
// many reads) and says what the connection must do next. Answers are appended to the
// connection's output buffer by write_http_response(). The behaviour is Go's net/http as nsqd
// uses it, down to the bytes: status lines, header order, Date, keep-alive rules and the
// canned answers to malformed requests. Nothing here does I/O or keeps global state.
//
// One connection, in order:
//
//   http_request_reader reader;
//   for (;;) {
//     auto [used, event] = reader.parse(conn.buffered());
//     conn.consume(used);
//     switch (event) {
//       case http_event::need_more:  // read more bytes; a peer that hangs up is a normal end
//       case http_event::header:     // head parsed, body not read yet: choose its limit
//         if (!reader.set_body_limit(limit_for(reader.request().path())))
//           -> answer the endpoint's 413 with close = true, then close
//         if (reader.request().expects_continue()) write_http_continue(out);
//       case http_event::request:    // complete: req = reader.take(), answer it,
//                                    // close unless write_http_response() returned true
//       case http_event::error:      // write_http_error(out, reader.error(), date), close
//     }                              // (body_too_large: the endpoint's 413 instead)
//   }

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nsqd::net {

namespace detail {
class request_sink;
}

// ---------------------------------------------------------------------------------------------
// Requests

// One parsed request, as Go's *http.Request shows it to nsqd's handlers. A value: owns its
// strings. Filled by http_request_reader; head fields are set from the `header` event on, the
// body when the request is complete.
class http_request {
 public:
  // The method as sent, case-sensitive like Go's ("get" is not "GET").
  const std::string& method() const noexcept { return _method; }
  // The request-target as sent ("/pub?topic=a%20b").
  const std::string& target() const noexcept { return _target; }
  // Go's URL.Path: the target's path, %XX-decoded ("/pub"); "*" for "OPTIONS *"; "" for an
  // absolute-form target without a path. The router matches on this.
  const std::string& path() const noexcept { return _path; }
  // Go's URL.RawQuery: what follows the first '?', still escaped ("topic=a%20b").
  const std::string& raw_query() const noexcept { return _raw_query; }
  // 10 for HTTP/1.0, 11 for HTTP/1.1.
  unsigned version() const noexcept { return _version; }
  // Whether the client lets the connection serve another request (Go's rules): HTTP/1.1
  // unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive() const noexcept { return _keep_alive; }

  // The first value of a header, "" when absent. Names are case-insensitive.
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // Every header as received (name as sent, value without surrounding blanks), in order,
  // repeated names kept.
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept {
    return _fields;
  }

  // The Content-Length the client declared; nullopt when it sent none (or a chunked body).
  std::optional<std::uint64_t> content_length() const noexcept { return _content_length; }
  bool chunked() const noexcept { return _chunked; }
  // "Expect: 100-continue" on HTTP/1.1 with a body (Go sends "100 Continue" before it reads
  // such a body; write_http_continue() does it here).
  bool expects_continue() const noexcept { return _expects_continue; }

  // The body (chunked bodies decoded). Mutable so a handler can move it out.
  const std::string& body() const noexcept { return _body; }
  std::string& body() noexcept { return _body; }

  // The URL Go's http.Redirect sends this request to once URL.Path is replaced by `path`:
  // URL.String() (escaped path, then "?query" when the target had a '?'; "scheme://host"
  // first for an absolute-form target), its path cleaned with a trailing '/' kept.
  std::string redirect_url(std::string_view path) const;

 private:
  friend class detail::request_sink;

  std::string _method;
  std::string _target;
  std::string _path;
  std::string _raw_query;
  std::string _origin;  // "scheme://authority" of an absolute-form target, else ""
  bool _has_query = false;
  unsigned _version = 11;
  bool _keep_alive = true;
  bool _chunked = false;
  bool _expects_continue = false;
  std::optional<std::uint64_t> _content_length;
  std::vector<std::pair<std::string, std::string>> _fields;
  std::string _body;
};

// What parse() found.
enum class http_event : std::uint8_t {
  need_more,  // every byte shown so far was used or is kept for later: read more
  header,     // a request's head is complete (request() is valid); its body is not read yet
  request,    // a request is complete: take() it
  error,      // the stream is unusable: answer error() and close the connection
};

struct http_parse_result {
  std::size_t consumed;  // bytes of the input to drop now (possibly 0, even with an event)
  http_event event;
};

// Why a stream was given up, and so what Go's net/http answers before it closes.
enum class http_error_kind : std::uint8_t {
  bad_request,                    // 400: malformed start line, headers, target, chunking...
  header_too_large,               // 431: the head passed its limit
  body_too_large,                 // 413: answered by the endpoint (request() is valid)
  expectation_failed,             // 417: an Expect other than 100-continue
  unsupported_transfer_encoding,  // 501: a Transfer-Encoding other than "chunked"
  version_not_supported,          // 505: HTTP/x.y with x != 1
};

struct http_parse_error {
  http_error_kind kind = http_error_kind::bad_request;
  // Go's reason text, if it gives one: "missing required Host header" for a 400 without Host.
  std::string detail;
  // The request's version when known (the 417 answer's status line), else 11.
  unsigned version = 11;

  // 400, 431, 413, 417, 501 or 505.
  unsigned status() const noexcept;
};

// Limits of one reader. The defaults are Go's.
struct http_limits {
  // Start line and header fields together (Go: DefaultMaxHeaderBytes 1 MiB + 4096 slack).
  std::size_t header_limit = (std::size_t{1} << 20) + 4096;
  // Body limit of a request whose limit the server does not set at its `header` event.
  std::uint64_t body_limit = std::uint64_t{1} << 20;
};

// Takes requests out of one connection's byte stream.
//
// Owned by the connection's coroutine; holds no bytes of its own (a request's parsed head and
// body live in its http_request). The caller keeps the unconsumed bytes and shows them again,
// with whatever arrived since, on the next parse(). After `error` the reader stays failed.
class http_request_reader {
 public:
  explicit http_request_reader(http_limits limits = {});
  ~http_request_reader();
  http_request_reader(http_request_reader&&) noexcept;
  http_request_reader& operator=(http_request_reader&&) noexcept;

  // Parses from the front of `in` (the bytes received and not yet consumed) until the next
  // event. `header` comes once per request, before `request`; `request` repeats until take().
  // A head is parsed only once it is all there (the caller's buffer must be able to hold
  // header_limit bytes); body bytes are used as they come.
  http_parse_result parse(std::string_view in);

  // The request being read: valid from its `header` event until take(), and after a
  // body_too_large or expectation_failed error.
  const http_request& request() const noexcept;

  // At the `header` event: the most body bytes this request may have (the default is
  // http_limits::body_limit). False when the declared Content-Length is already over it: the
  // body will not be read (upstream answers 413 from Content-Length alone); the server answers
  // and closes. A chunked body over the limit makes a later parse() report body_too_large.
  bool set_body_limit(std::uint64_t max_bytes);

  // After `request`: moves the request out and readies the reader for the next one. Throws
  // std::logic_error at any other time (a caller bug).
  http_request take();

  // After `error`: what went wrong.
  const http_parse_error& error() const noexcept;

  // True between requests: nothing of a next request has been parsed yet (a peer that closes
  // now closes cleanly; Go answers nothing then).
  bool idle() const noexcept;

 private:
  struct state;
  std::unique_ptr<state> _s;
};

// ---------------------------------------------------------------------------------------------
// Responses

// A response as a Go handler builds it: status, the headers it sets, the body. The writer adds
// what net/http adds (Date, Content-Length, a sniffed Content-Type, Connection).
struct http_response {
  unsigned status = 200;
  // The handler's headers (Go's Header map), names canonical as Go writes them
  // ("X-Nsq-Content-Type"). Written sorted by name, before the ones net/http adds.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Sets a header like Go's Header.Set: canonical name, replaces every earlier value.
  http_response& set_header(std::string_view name, std::string value);
  // The first value of a header, "" when absent (names case-insensitive).
  std::string_view header(std::string_view name) const;
};

// Upstream's "V1" responses (SPEC C). All carry "X-NSQ-Content-Type: nsq; version=1.0".
// 200 with a JSON document (Content-Type: application/json; charset=utf-8).
http_response v1_json(std::string json);
// 200 with a raw body: a string or bytes result ("OK", /stats text); Go sniffs its type
// (text/plain; charset=utf-8 for text). An empty body is upstream's "nothing": 200, no type.
http_response v1_text(std::string body);
// An error: `status` and {"message":"<message>"} as JSON.
http_response v1_error(unsigned status, std::string_view message);
// Upstream's PlainText wrapper (/ping): status and raw body, no X-NSQ-Content-Type.
http_response plain_text(unsigned status, std::string body);

// Appends `resp` as the answer to `req`: status line in the request's version, the handler's
// headers sorted, then Date, Content-Length, a sniffed Content-Type (text/plain or
// application/octet-stream) when the handler set none, and Connection as Go decides it. No body
// for HEAD (its Content-Length still says how long it would be). `close` forces the connection
// to end after this answer (e.g. a body left unread). Returns true when it stays open.
bool write_http_response(std::string& out, const http_response& resp, const http_request& req,
                         std::string_view date, bool close = false);

// Appends the interim "HTTP/1.1 100 Continue" answer.
void write_http_continue(std::string& out);

// Appends what Go's net/http answers to a stream it gives up on, then closes: e.g.
// "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close
// \r\n\r\n400 Bad Request". `date` is used by the 417 answer only. body_too_large gets a
// generic 413 of the same form (nsqd's endpoints answer their own instead).
void write_http_error(std::string& out, const http_parse_error& err, std::string_view date);

// The Date header's value, RFC 1123 in GMT as Go writes it: "Mon, 02 Jan 2006 15:04:05 GMT".
std::string http_date(std::chrono::system_clock::time_point t);

// Go's http.StatusText: "OK", "Request Entity Too Large"...; "" for an unknown code.
std::string_view http_status_text(unsigned status);

// ---------------------------------------------------------------------------------------------
// URL pieces, as Go's net/url does them

// A query string decoded like url.ParseQuery: pairs split on '&', key and value split on the
// first '=', '+' is a space, %XX a byte; empty pairs skipped. A bad %-escape or a ';' anywhere
// makes the whole query invalid (nsqd answers 400 INVALID_REQUEST).
class http_query {
 public:
  static std::optional<http_query> parse(std::string_view raw_query);

  // The first value given for `key` (Go's Values.Get), nullopt when the key is absent;
  // "?topic=" gives "" (present but empty).
  std::optional<std::string_view> get(std::string_view key) const;
  // Every value given for `key`, in order.
  std::vector<std::string_view> get_all(std::string_view key) const;
  bool has(std::string_view key) const { return get(key).has_value(); }
  // The decoded pairs, in order.
  const std::vector<std::pair<std::string, std::string>>& pairs() const noexcept { return _pairs; }

 private:
  std::vector<std::pair<std::string, std::string>> _pairs;
};

// url.QueryUnescape: '+' is a space, %XX a byte; nullopt on a bad escape ("%zz", "%4").
std::optional<std::string> query_unescape(std::string_view text);
// Go's path unescaping (URL.Path from the target): %XX a byte, '+' itself; nullopt on a bad
// escape.
std::optional<std::string> path_unescape(std::string_view text);
// URL.EscapedPath for a path without a RawPath: %XX (upper-case hex) for every byte but
// letters, digits and - _ . ~ $ & + , / : ; = @.
std::string path_escape(std::string_view path);
// httprouter's CleanPath: one leading '/', no "." or ".." elements, no repeated '/', a trailing
// '/' kept (a final "/." counts as one). "" gives "/".
std::string clean_path(std::string_view path);

}  // namespace nsqd::net
