#!/usr/bin/env bash
# Install the Debian packages d2rt builds with, when missing.
# As root: apt-get installs them. Otherwise: print the exact command and fail.
set -u
quiet=0; [ "${1:-}" = "--quiet" ] && quiet=1
pkgs="protobuf-c-compiler libprotobuf-c-dev libxxhash-dev check libsubunit-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev pkg-config"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  [ $quiet = 1 ] || echo "deps: all present"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends $missing >/dev/null || { apt-get update >/dev/null && apt-get install -y --no-install-recommends $missing >/dev/null; }
  exit $?
fi
echo "deps: missing packages; run: sudo apt-get install -y$missing" >&2
exit 1
