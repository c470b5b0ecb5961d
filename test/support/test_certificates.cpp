#include "test/support/test_certificates.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace nsqd::test {

namespace {

std::string openssl_program() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/openssl").c_str(), X_OK) == 0) return dir + "/openssl";
  throw std::runtime_error("the openssl command is not installed (tools/install-deps.sh)");
}

}  // namespace

certificates::certificates() : _openssl(openssl_program()) {
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  write_file(file("server.ext"),
             "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  write_file(file("client.ext"), "extendedKeyUsage=clientAuth\n");
  write_file(file("either.ext"),  // the expired one serves both ends
             "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  run("req -x509 " + ec + " -keyout ca.key -out ca.pem -days 30 -subj /CN=nsqd-test-ca"
      " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign");
  sign("server", ec, "/CN=localhost", "server.ext", "30");
  sign("client", ec, "/O=nsqd-test/CN=test-client", "client.ext", "30");
  sign("expired", ec, "/CN=localhost", "either.ext", "-1");
  sign("rsa", "-newkey rsa:2048 -nodes", "/CN=localhost", "server.ext", "30");
  run("req -x509 " + ec + " -keyout rogue.key -out rogue.pem -days 30 -subj /CN=rogue");
  run("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key");
}

void certificates::sign(const std::string& name, const std::string& newkey, const std::string& subject,
                        const std::string& ext, const std::string& days) {
  run("req -new " + newkey + " -keyout " + name + ".key -out " + name + ".csr -subj " + subject);
  run("x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -set_serial " +
      std::to_string(++_serial) + " -days " + days + " -extfile " + ext + " -out " + name +
      ".pem");
}

void certificates::run(const std::string& command) {
  std::vector<std::string> argv{_openssl};
  std::istringstream words(command);
  for (std::string w; words >> w;) argv.push_back(w);
  const char* dir = _dir.path().c_str();
  child_process openssl(argv, file("openssl.log"), [dir] {
    if (::chdir(dir) != 0) ::_exit(125);
  });
  const auto code = openssl.wait_for(std::chrono::seconds(60));
  if (code != 0)
    throw std::runtime_error("openssl " + command + " failed:\n" + openssl.output());
}

const certificates& certs() {
  static const certificates made;
  return made;
}

std::vector<std::string> tls_server_flags(std::vector<std::string> more) {
  more.insert(more.begin(), {"--tls-cert=" + certs().file("server.pem"), "--tls-key=" + certs().file("server.key")});
  return more;
}

}  // namespace nsqd::test
