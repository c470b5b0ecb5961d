// tls_session: one connection's SSL over two memory BIOs (ciphertext in, ciphertext out).

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <new>
#include <stdexcept>

#include "net/tls.hpp"
#include "net/tls_errors.hpp"

namespace nsqd::net {

namespace {

constexpr std::size_t record_plaintext = 16 * 1024;  // the most one TLS record carries
constexpr std::size_t keep_output_capacity = 64 * 1024;

bool is_ip_address(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

std::string name_text(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string text(data, std::size_t(n > 0 ? n : 0));
  BIO_free(bio);
  return text;
}

std::string common_name(const X509_NAME* name) {
  const int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return {};
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, value);
  if (n < 0) return {};
  std::string text(reinterpret_cast<const char*>(utf8), std::size_t(n));
  OPENSSL_free(utf8);
  return text;
}

}  // namespace

tls_session::tls_session(const tls_context& context, std::string_view server_name) {
  _ssl = SSL_new(context.native_handle());
  _in = BIO_new(BIO_s_mem());
  _out_bio = BIO_new(BIO_s_mem());
  if (_ssl == nullptr || _in == nullptr || _out_bio == nullptr) {
    BIO_free(_in);
    BIO_free(_out_bio);
    SSL_free(_ssl);
    ERR_clear_error();
    throw std::bad_alloc();
  }
  // An empty BIO means "wait for more" (SSL_ERROR_WANT_READ), not end of stream.
  BIO_set_mem_eof_return(_in, -1);
  BIO_set_mem_eof_return(_out_bio, -1);
  SSL_set_bio(_ssl, _in, _out_bio);
  SSL_set_app_data(_ssl, this);
  SSL_set_info_callback(_ssl, info_callback);
  if (context.is_server()) {
    SSL_set_accept_state(_ssl);
    return;
  }
  SSL_set_connect_state(_ssl);
  if (server_name.empty()) return;
  const std::string name(server_name);
  const bool ok = is_ip_address(name)
                      ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(_ssl), name.c_str()) == 1
                      : SSL_set_tlsext_host_name(_ssl, name.c_str()) == 1 &&
                            SSL_set1_host(_ssl, name.c_str()) == 1;
  if (!ok) {
    const std::string why = tls_detail::openssl_error_text("bad server name");
    SSL_free(_ssl);
    ERR_clear_error();
    throw std::invalid_argument(why + ": " + name);
  }
}

tls_session::~tls_session() { SSL_free(_ssl); }

void tls_session::info_callback(const SSL* ssl, int where, int) {
  auto* self = static_cast<tls_session*>(SSL_get_app_data(ssl));
  if (self == nullptr) return;
  if ((where & SSL_CB_HANDSHAKE_START) != 0 && self->_first_handshake_over &&
      SSL_version(ssl) < TLS1_3_VERSION)  // TLS 1.3 starts one for tickets and key updates
    self->_renegotiation_seen = true;
  if ((where & SSL_CB_HANDSHAKE_DONE) != 0) self->_first_handshake_over = true;
}

void tls_session::feed(std::string_view ciphertext) {
  while (!ciphertext.empty()) {
    const int n = int(std::min<std::size_t>(ciphertext.size(), 1 << 30));
    if (BIO_write(_in, ciphertext.data(), n) != n) throw std::bad_alloc();
    ciphertext.remove_prefix(std::size_t(n));
  }
}

void tls_session::drain_output() {
  for (;;) {
    const std::size_t n = BIO_ctrl_pending(_out_bio);
    if (n == 0) return;
    const std::size_t old = _out.size();
    _out.resize(old + n);
    const int got = BIO_read(_out_bio, _out.data() + old, int(n));
    _out.resize(old + std::size_t(std::max(got, 0)));
    if (got <= 0) return;
  }
}

void tls_session::consume_output(std::size_t n) noexcept {
  _out_begin += std::min(n, _out.size() - _out_begin);
  if (_out_begin < _out.size()) return;
  if (_out.capacity() > keep_output_capacity)
    std::string().swap(_out);  // an idle connection keeps no large buffer
  else
    _out.clear();
  _out_begin = 0;
}

void tls_session::take_output(std::string& into) {
  if (_out_begin == 0) {
    into.clear();
    into.swap(_out);
  } else {
    into.assign(_out, _out_begin);
    _out.clear();
  }
  _out_begin = 0;
}

void tls_session::fail(int ssl_error) {
  _error = tls_detail::describe_failure(_ssl, ssl_error);
  ERR_clear_error();
}

tls_handshake tls_session::handshake() {
  if (is_failed()) return tls_handshake::failed;
  if (_handshake_done) return tls_handshake::done;
  ERR_clear_error();
  const int rc = SSL_do_handshake(_ssl);
  drain_output();
  if (rc == 1) {
    _handshake_done = true;
    return tls_handshake::done;
  }
  const int e = SSL_get_error(_ssl, rc);
  if (e == SSL_ERROR_WANT_READ) return tls_handshake::want_more;
  fail(e);
  return tls_handshake::failed;
}

std::ptrdiff_t tls_session::read(char* dst, std::size_t cap) {
  if (is_failed()) return failed;
  if (_peer_closed) return closed;
  ERR_clear_error();
  std::size_t n = 0;
  const int rc = SSL_read_ex(_ssl, dst, cap, &n);
  drain_output();
  if (_renegotiation_seen) {
    // What Go's server says when a ClientHello arrives after the handshake.
    _error = "tls: received unexpected handshake message of type *tls.clientHelloMsg when "
             "waiting for *tls.helloRequestMsg";
    if (!SSL_is_server(_ssl)) _error = "tls: renegotiation refused";
    ERR_clear_error();
    return failed;
  }
  if (!_handshake_done && SSL_is_init_finished(_ssl)) _handshake_done = true;
  if (rc == 1) return std::ptrdiff_t(n);
  const int e = SSL_get_error(_ssl, rc);
  if (e == SSL_ERROR_WANT_READ) return need_input;
  if (e == SSL_ERROR_ZERO_RETURN) {
    _peer_closed = true;
    return closed;
  }
  fail(e);
  return failed;
}

bool tls_session::write(std::string_view plaintext) {
  if (is_failed() || !_handshake_done || _close_sent) return false;
  ERR_clear_error();
  // A record at a time, drained at once: the memory BIO never holds more than one.
  while (!plaintext.empty()) {
    const std::size_t piece = std::min(plaintext.size(), record_plaintext);
    std::size_t written = 0;
    const int rc = SSL_write_ex(_ssl, plaintext.data(), piece, &written);
    drain_output();
    if (rc != 1) {
      fail(SSL_get_error(_ssl, rc));
      return false;
    }
    plaintext.remove_prefix(written);
  }
  return true;
}

void tls_session::close() {
  if (_close_sent) return;
  _close_sent = true;
  if (is_failed() || !_handshake_done) return;
  ERR_clear_error();
  SSL_shutdown(_ssl);  // 0: ours is sent, the peer's not seen yet; both fine here
  drain_output();
  ERR_clear_error();
}

std::string tls_session::version() const {
  return tls_version_name(std::uint16_t(SSL_version(_ssl)));
}

std::uint16_t tls_session::cipher_suite_id() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(_ssl);
  return c != nullptr ? SSL_CIPHER_get_protocol_id(c) : 0;
}

std::string tls_session::cipher_suite() const { return go_cipher_suite_name(cipher_suite_id()); }

tls_peer_certificate tls_session::peer_certificate() const {
  tls_peer_certificate peer;
  X509* cert = SSL_get0_peer_certificate(_ssl);
  if (cert == nullptr) return peer;
  peer.present = true;
  peer.subject = name_text(X509_get_subject_name(cert));
  peer.common_name = common_name(X509_get_subject_name(cert));
  const long result = SSL_get_verify_result(_ssl);
  peer.verified = result == X509_V_OK;
  if (!peer.verified) peer.verify_error = X509_verify_cert_error_string(result);
  ERR_clear_error();
  return peer;
}

}  // namespace nsqd::net
