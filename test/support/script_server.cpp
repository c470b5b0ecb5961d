#include "test/support/script_server.hpp"

#include <poll.h>

#include <cctype>

namespace nsqd::test {

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out += char(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    std::size_t eq = pair.find('=');
    std::string key = url_decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
    out.emplace(key, value);
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

void script_server::run() {
  while (!_stop) {
    pollfd p{_fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int c = ::accept4(_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    _workers.emplace_back([this, c] {
      serve(c);
      ::close(c);
    });
  }
  for (std::thread& t : _workers) t.join();
}

namespace {

// Blocking server handshake on `c`; false when it failed or the peer went away.
bool handshake(int c, net::tls_session& tls) {
  for (;;) {
    const net::tls_handshake step = tls.handshake();
    const std::string_view out = tls.pending_output();
    if (!out.empty() && ::send(c, out.data(), out.size(), MSG_NOSIGNAL) != ssize_t(out.size())) return false;
    tls.consume_output(out.size());
    if (step != net::tls_handshake::want_more) return step == net::tls_handshake::done;
    char raw[4096];
    const ssize_t n = ::recv(c, raw, sizeof raw, 0);
    if (n <= 0) return false;
    tls.feed({raw, std::size_t(n)});
  }
}

}  // namespace

void script_server::serve(int c) {
  timeval tv{2, 0};
  ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::unique_ptr<net::tls_session> tls;
  if (_tls) {
    tls = std::make_unique<net::tls_session>(*_tls);
    if (!handshake(c, *tls)) return;
  }
  // recv and send, through the TLS session when there is one.
  auto receive = [&](char* dst, std::size_t cap) -> ssize_t {
    if (!tls) return ::recv(c, dst, cap, 0);
    for (;;) {
      const std::ptrdiff_t n = tls->read(dst, cap);
      if (n > 0) return n;
      if (n != net::tls_session::need_input) return -1;
      char raw[4096];
      const ssize_t got = ::recv(c, raw, sizeof raw, 0);
      if (got <= 0) return got;
      tls->feed({raw, std::size_t(got)});
    }
  };
  auto transmit = [&](std::string_view out) {
    if (tls) {
      tls->write(out);
      out = tls->pending_output();
    }
    ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
  };
  std::string in;
  char buf[4096];
  std::size_t head_end;
  while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = receive(buf, sizeof buf);
    if (n <= 0) return;
    in.append(buf, std::size_t(n));
  }
  seen_request r;
  std::string_view head(in.data(), head_end);
  std::size_t line_end = head.find("\r\n");
  std::string_view start = head.substr(0, line_end);
  std::size_t sp1 = start.find(' '), sp2 = start.rfind(' ');
  r.method = std::string(start.substr(0, sp1));
  r.target = std::string(start.substr(sp1 + 1, sp2 - sp1 - 1));
  std::size_t qm = r.target.find('?');
  r.path = r.target.substr(0, qm);
  if (qm != std::string::npos) r.query = parse_query(std::string_view(r.target).substr(qm + 1));
  std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
  while (!rest.empty()) {
    std::size_t e = rest.find("\r\n");
    std::string_view line = rest.substr(0, e);
    std::size_t colon = line.find(':');
    std::string name(line.substr(0, colon));
    for (char& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    r.headers.emplace(name, std::string(value));
    if (e == std::string_view::npos) break;
    rest.remove_prefix(e + 2);
  }
  std::size_t body_len = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
  r.body = in.substr(head_end + 4);
  while (r.body.size() < body_len) {
    ssize_t n = receive(buf, sizeof buf);
    if (n <= 0) return;
    r.body.append(buf, std::size_t(n));
  }
  handler h;
  {
    std::lock_guard lock(_mutex);
    _requests.push_back(r);
    h = _handler;
  }
  reply rep = h(r);
  if (rep.delay.count() > 0) std::this_thread::sleep_for(rep.delay);
  if (rep.hang_up) return;
  std::string out = rep.raw;
  if (out.empty())
    out = "HTTP/1.1 " + std::to_string(rep.status) + " X\r\nContent-Type: application/json\r\n" +
          "Content-Length: " + std::to_string(rep.body.size()) + "\r\nConnection: close\r\n\r\n" + rep.body;
  transmit(out);
}


reply status(int code, std::string body, milliseconds delay) {
  reply r;
  r.status = code;
  r.body = std::move(body);
  r.delay = delay;
  return r;
}

reply always(std::string body) { return status(200, std::move(body)); }

}  // namespace nsqd::test
