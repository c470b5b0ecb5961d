#!/usr/bin/env bash
# Builds nsqd_<version>_amd64.deb from a built nsqd: the binary (stripped), the systemd units
# and example config of contrib/, the README; a system user `nsqd` is created at install.
# Usage: tools/build-deb.sh [NSQD_BINARY] [OUT_DIR]     (defaults: build/src/nsqd, .)
# Prints the path of the package it wrote. Needs dpkg-dev (dpkg-deb, dpkg-shlibdeps).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$root/build/src/nsqd}
out=${2:-$root}
[ -x "$binary" ] || { echo "build-deb: no nsqd at $binary (build it first)" >&2; exit 1; }

# "nsqd v1.3.0 (built w/g++ 12.2.0)" -> 1.3.0; the Debian revision counts our own changes.
upstream_version=$("$binary" --version | sed -n 's/^nsqd v\([0-9][0-9.]*\).*/\1/p')
[ -n "$upstream_version" ] || { echo "build-deb: cannot read the version of $binary" >&2; exit 1; }
version="$upstream_version-1"
maintainer=${DEB_MAINTAINER:-nsqd (C++) maintainers <nsqd@example.org>}
arch=$(dpkg --print-architecture)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/nsqd
install -d -m 755 "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/nsqd" \
  "$stage/usr/share/doc/nsqd"
install -m 755 "$binary" "$stage/usr/bin/nsqd"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/nsqd"
install -m 644 "$root/contrib/nsqd.service" "$root/contrib/nsqd.socket" "$stage/lib/systemd/system/"
install -m 644 "$root/contrib/nsqd.conf" "$stage/etc/nsqd/nsqd.conf"
install -m 644 "$root/README.md" "$stage/usr/share/doc/nsqd/README.md"
install -D -m 644 "$root/contrib/nsqd.1" "$stage/usr/share/man/man1/nsqd.1"
gzip -9n "$stage/usr/share/man/man1/nsqd.1"
gzip -9n "$stage/usr/share/doc/nsqd/README.md"

cat >"$stage/usr/share/doc/nsqd/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: nsqd (C++)
Comment: A C++20 reimplementation of NSQ's nsqd on io_uring, speaking upstream nsqd v1.3's
 protocols and data format. NSQ itself is https://github.com/nsqio/nsq (MIT); none of its
 code is in this package.

Files: *
Copyright: 2026 the nsqd (C++) authors
License: other
 No license has been declared for this project yet; see its repository.
EOF

# A native-style changelog: one entry for this build.
{
  echo "nsqd ($version) unstable; urgency=medium"
  echo
  echo "  * Built from $(git -C "$root" describe --always --dirty 2>/dev/null || echo 'a source tree')."
  echo
  echo " -- $maintainer  $(date -R -u -d @"${SOURCE_DATE_EPOCH:-$(date +%s)}")"
} | gzip -9n >"$stage/usr/share/doc/nsqd/changelog.Debian.gz"

# Shared-library dependencies as dpkg-shlibdeps computes them (it wants a debian/control).
mkdir -p "$work/src/debian"
printf 'Source: nsqd\n\nPackage: nsqd\nArchitecture: any\n' >"$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O -e"$stage/usr/bin/nsqd" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')

size=$(du -k -s --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: nsqd
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: adduser, ${shlibs}
Section: net
Priority: optional
Homepage: https://nsq.io/components/nsqd.html
Description: realtime distributed message queue daemon (nsqd, C++ on io_uring)
 A drop-in replacement for NSQ's nsqd v1.3: the same TCP protocol V2, HTTP
 API, flags, config file and data directory, registration with nsqlookupd and
 statsd pushes, rebuilt as one C++20 binary with a shard (a thread and an
 io_uring) per core.
 .
 Runs under systemd as nsqd.service (Type=notify, watchdog, hardened) or with
 socket activation (nsqd.socket); configured in /etc/nsqd/nsqd.conf.
EOF
echo "/etc/nsqd/nsqd.conf" >"$stage/DEBIAN/conffiles"
# Not for the Debian archive: no ITP bug to close.
install -D -m 644 /dev/stdin "$stage/usr/share/lintian/overrides/nsqd" <<'EOF'
nsqd: initial-upload-closes-no-bugs
EOF

cat >"$stage/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
    # The unit runs as nsqd (DynamicUser= takes this user when it exists).
    if ! getent passwd nsqd >/dev/null; then
        adduser --system --group --home /var/lib/nsqd --no-create-home --quiet nsqd
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
    fi
fi
exit 0
EOF
cat >"$stage/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
exit 0
EOF
chmod 755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/postrm"

package="$out/nsqd_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$package" >/dev/null
echo "$package"
