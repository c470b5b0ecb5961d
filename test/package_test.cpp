#define BOOST_TEST_MODULE package
// The Debian package (tools/build-deb.sh): built from the nsqd under test, its fields and
// files, the unpacked binary runs, the unit and config are contrib's, the maintainer script
// creates the nsqd user, and lintian (when installed) reports nothing.

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test/support/nsqd_process.hpp"

using namespace nsqd::test;
namespace fs = std::filesystem;

namespace {

const std::string source_root = NSQD_SOURCE_ROOT;

// Runs argv to its end (3 min at most: dpkg-deb compresses the sanitizer build's 110 MB
// binary in about a minute, longer on a loaded machine); its exit code and output.
exit_result run(const temp_dir& dir, const std::vector<std::string>& argv) {
  static int n = 0;
  const std::string out = dir.file("run" + std::to_string(++n) + ".out");
  child_process c(argv, out);
  exit_result r;
  r.code = c.wait_for(180s).value_or(-1);
  r.output = c.output();
  return r;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

BOOST_AUTO_TEST_CASE(builds_a_package_with_the_binary_units_config_and_user) {
  temp_dir dir;
  const std::string binary = fs::absolute(nsqd_binary()).string();
  const exit_result built = run(dir, {source_root + "/tools/build-deb.sh", binary, dir.path()});
  BOOST_TEST_REQUIRE(built.code == 0, built.output);
  const std::string package = dir.file("nsqd_1.3.0-1_amd64.deb");
  BOOST_TEST_REQUIRE(fs::exists(package), built.output);
  BOOST_TEST(has(built.output, package));

  const exit_result info = run(dir, {"/usr/bin/dpkg-deb", "--info", package});
  BOOST_TEST(info.code == 0);
  for (const char* field : {"Package: nsqd", "Version: 1.3.0-1", "Architecture: amd64", "Section: net", "adduser",
                            "liburing2", "libboost-json1.81.0"})
    BOOST_TEST(has(info.output, field), field << " in " << info.output);

  const exit_result contents = run(dir, {"/usr/bin/dpkg-deb", "--contents", package});
  for (const char* file : {"./usr/bin/nsqd", "./lib/systemd/system/nsqd.service", "./lib/systemd/system/nsqd.socket",
                           "./etc/nsqd/nsqd.conf", "./usr/share/man/man1/nsqd.1.gz", "./usr/share/doc/nsqd/copyright",
                           "./usr/share/doc/nsqd/README.md.gz", "./usr/share/doc/nsqd/changelog.Debian.gz"})
    BOOST_TEST(has(contents.output, file), file);

  // Unpacked: the binary runs, the files are contrib's, the scripts do what they say.
  const std::string root = dir.file("root"), control = dir.file("control");
  BOOST_TEST_REQUIRE(run(dir, {"/usr/bin/dpkg-deb", "-x", package, root}).code == 0);
  BOOST_TEST_REQUIRE(run(dir, {"/usr/bin/dpkg-deb", "-e", package, control}).code == 0);
  const exit_result version = run(dir, {root + "/usr/bin/nsqd", "--version"});
  BOOST_TEST(version.code == 0);
  BOOST_TEST(version.output.starts_with("nsqd v1.3.0"), version.output);
  BOOST_TEST(read_file(root + "/lib/systemd/system/nsqd.service") == read_file(source_root + "/contrib/nsqd.service"));
  BOOST_TEST(read_file(root + "/etc/nsqd/nsqd.conf") == read_file(source_root + "/contrib/nsqd.conf"));
  BOOST_TEST(read_file(control + "/conffiles") == "/etc/nsqd/nsqd.conf\n");
  const std::string postinst = read_file(control + "/postinst");
  BOOST_TEST(has(postinst, "adduser --system --group --home /var/lib/nsqd --no-create-home --quiet nsqd"));
  BOOST_TEST(::access((control + "/postinst").c_str(), X_OK) == 0);

  // lintian (Debian's package checker), when installed: no error, no warning. Packages are
  // built from release binaries: the sanitizer run skips it (half a minute on that binary).
#if defined(__SANITIZE_ADDRESS__)
  const bool lint = false;
#else
  const bool lint = ::access("/usr/bin/lintian", X_OK) == 0;
#endif
  if (lint) {
    const exit_result linted = run(dir, {"/usr/bin/lintian", "--fail-on", "error,warning", package});
    BOOST_TEST(linted.code == 0, linted.output);
    for (const char* tag : {"\nE: ", "\nW: "}) BOOST_TEST(!has("\n" + linted.output, tag), linted.output);
  } else {
    BOOST_TEST_MESSAGE("no lintian, or a sanitizer build: the package was not linted");
  }
}

}  // namespace
