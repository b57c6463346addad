#!/bin/sh
# Install a Debian package the test suite or the grader needs, only when it is missing.
#
#   scripts/install-if-missing.sh PACKAGE "WHAT IT IS FOR" CHECK [CHECK ...]
#
# Each CHECK is a command name or a path (globs allowed); when any of them exists
# nothing happens and nothing is printed. Otherwise the package is installed with
# apt as root, or with sudo when it works without a password; where neither is
# possible, a message says how to install it. Never fails the build: the tests that
# need the tool say why they are skipped.
package=$1; purpose=$2; shift 2
for check in "$@"; do
  command -v "$check" >/dev/null 2>&1 && exit 0
  for path in $check; do [ -e "$path" ] && exit 0; done
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$package is missing ($purpose): install it with your package manager."
elif [ "$(id -u)" = 0 ]; then
  echo "Installing $package ($purpose)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
elif sudo -n true 2>/dev/null; then
  echo "Installing $package ($purpose)"
  sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
else
  echo "$package is missing ($purpose): run 'sudo apt-get install $package'."
fi
exit 0
