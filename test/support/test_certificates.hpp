#pragma once
// Certificates for TLS tests, made once per test run by the openssl command in a temp dir:
//   ca.pem/.key          a CA (CN=nsqd-test-ca)
//   server.pem/.key      signed by it: CN=localhost, SAN DNS:localhost and IP:127.0.0.1 (P-256)
//   client.pem/.key      signed by it: O=nsqd-test, CN=test-client, clientAuth
//   expired.pem/.key     signed by it, expired a day ago (serverAuth and clientAuth)
//   rsa.pem/.key         signed by it: the server's names with an RSA 2048 key
//   rogue.pem/.key       self-signed (CN=rogue)
//   other.key            a P-256 key that matches no certificate
//
//   certs().file("server.pem")

#include <string>
#include <vector>

#include "test/support/nsqd_process.hpp"

namespace nsqd::test {

class certificates {
 public:
  certificates();
  std::string file(const std::string& name) const { return _dir.file(name); }
  const temp_dir& dir() const { return _dir; }

 private:
  void sign(const std::string& name, const std::string& newkey, const std::string& subject,
            const std::string& ext, const std::string& days);
  // Runs `openssl <command>` in the temp dir (file names in `command` are relative to it).
  void run(const std::string& command);

  temp_dir _dir{"nsqd-tls-test"};
  std::string _openssl;
  int _serial = 1;
};

// Made on first use; throws std::runtime_error when the openssl command is missing.
const certificates& certs();

// nsqd's flags for serving the "server" certificate (--tls-cert=server.pem
// --tls-key=server.key), followed by `more`.
std::vector<std::string> tls_server_flags(std::vector<std::string> more = {});

}  // namespace nsqd::test
