#include "test/support/tls_client.hpp"

#include <utility>

#include "test/support/test_certificates.hpp"

namespace nsqd::test {

namespace {

// TLS under an optional compression layer: plaintext is compressed, then encrypted.
class layered_filter final : public wire_filter {
 public:
  explicit layered_filter(std::unique_ptr<net::tls_session> tls) : _tls(std::move(tls)) {}

  // From now on; what was received before went through TLS already (adopt()).
  void compress(std::unique_ptr<net::stream_encoder> e, std::unique_ptr<net::stream_decoder> d) {
    _encoder = std::move(e);
    _decoder = std::move(d);
    _adopt_opened = true;
  }

  std::string adopt(std::string_view buffered) override {
    bool eof = false;
    if (!_adopt_opened) return open(buffered, eof);
    return decompress(std::string(buffered), eof);
  }

  std::string seal(std::string_view plain) override {
    std::string packed;
    if (_encoder) {
      _encoder->encode(plain, packed);
      plain = packed;
    }
    if (!_tls) return std::string(plain);
    if (!_tls->write(plain)) throw wire_error("TLS write failed: " + _tls->error());
    std::string out(_tls->pending_output());
    _tls->consume_output(out.size());
    return out;
  }

  std::string open(std::string_view received, bool& eof) override {
    return decompress(decrypt(received, eof), eof);
  }

 private:
  std::string decrypt(std::string_view received, bool& eof) {
    std::string plain;
    if (_tls) {
      _tls->feed(received);
      char buf[16384];
      for (;;) {
        const std::ptrdiff_t n = _tls->read(buf, sizeof buf);
        if (n > 0) {
          plain.append(buf, std::size_t(n));
          continue;
        }
        if (n == net::tls_session::failed) throw wire_error("TLS read failed: " + _tls->error());
        if (n == net::tls_session::closed) eof = true;
        break;
      }
    } else {
      plain.assign(received);
    }
    return plain;
  }

  std::string decompress(std::string plain, bool& eof) {
    if (!_decoder) return plain;
    _decoder->feed(plain);
    std::string out;
    char buf[16384];
    for (;;) {
      const std::ptrdiff_t n = _decoder->read(buf, sizeof buf);
      if (n > 0) {
        out.append(buf, std::size_t(n));
        continue;
      }
      if (n == net::stream_decoder::corrupt) throw wire_error("corrupt compressed stream");
      if (n == net::stream_decoder::end_of_stream) eof = true;
      break;
    }
    return out;
  }

  std::unique_ptr<net::tls_session> _tls;  // null: compression alone
  std::unique_ptr<net::stream_encoder> _encoder;
  std::unique_ptr<net::stream_decoder> _decoder;
  bool _adopt_opened = false;
};

}  // namespace

net::tls_context client_context(const std::string& cert_name, std::uint16_t max_version) {
  net::tls_client_options o;
  o.root_ca_file = certs().file("ca.pem");
  o.max_version = max_version;
  if (!cert_name.empty()) {
    o.cert_file = certs().file(cert_name + ".pem");
    o.key_file = certs().file(cert_name + ".key");
  }
  return net::tls_context::client(o);
}

void start_tls(wire_client& c, const net::tls_context& context, const std::string& server_name,
               milliseconds timeout) {
  auto session = std::make_unique<net::tls_session>(context, server_name);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const net::tls_handshake step = session->handshake();
    if (!session->pending_output().empty()) {
      c.send_raw(session->pending_output());
      session->consume_output(session->pending_output().size());
    }
    if (step == net::tls_handshake::done) break;
    if (step == net::tls_handshake::failed) throw wire_error("TLS handshake failed: " + session->error());
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw wire_error("TLS handshake timed out");
    const std::string got = c.receive_raw(left);
    session->feed(got);
  }
  c.set_filter(std::make_unique<layered_filter>(std::move(session)));
}

void start_compression(wire_client& c, const std::string& kind) {
  // The filter in place (TLS) keeps its session; compression goes inside it.
  std::unique_ptr<net::stream_encoder> e =
      kind == "snappy" ? net::make_snappy_encoder() : net::make_deflate_encoder(6);
  std::unique_ptr<net::stream_decoder> d =
      kind == "snappy" ? net::make_snappy_decoder() : net::make_deflate_decoder();
  std::unique_ptr<wire_filter> old = c.release_filter();
  std::unique_ptr<layered_filter> layers;
  if (auto* l = dynamic_cast<layered_filter*>(old.get())) {
    old.release();
    layers.reset(l);
  } else {
    layers = std::make_unique<layered_filter>(nullptr);
  }
  layers->compress(std::move(e), std::move(d));
  c.set_filter(std::move(layers));
}

}  // namespace nsqd::test
