#!/usr/bin/env bash
# Install headless Chromium from Debian's packages, for the browser check of
# `nnparity report` (tox env `browser`): the test opens the HTML report in it,
# waits for every image, and takes a screenshot. Does nothing when it is there.
set -euo pipefail
packages=(chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "nnparity's browser check needs Chromium (${missing[*]}) and this machine has no apt-get: install it by hand." >&2
  exit 2
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing from Debian's packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
