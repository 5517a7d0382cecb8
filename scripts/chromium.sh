#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the console's browser test
# (internal/cli/console_browser_test.go drives it headless through
# chromedp). Installs it with apt-get when /usr/bin/chromium is missing;
# nothing is downloaded or cached in the repository.
#
#   scripts/chromium.sh   # install chromium if missing, print its version
set -euo pipefail
if [[ ! -x /usr/bin/chromium ]]; then
  command -v apt-get >/dev/null || { echo "chromium.sh: /usr/bin/chromium missing and no apt-get: install Debian's chromium package" >&2; exit 1; }
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "chromium.sh: installing Debian's chromium (apt-get)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version
