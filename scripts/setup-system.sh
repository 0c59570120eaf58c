#!/usr/bin/env bash
# Install what nnparity needs from Debian's packages (no CRAN), in one apt run:
#   r-base-core      R (4.2 on bookworm), which rpy2 embeds and r_impl runs on
#   r-cran-testthat  r_impl's own tests (tox -e rtests)
#   r-cran-lintr     the R lint, tidyverse style (tox -e lint)
#   chromium         the browser check of `nnparity report` (tox -e browser)
# Does nothing when they are all there.
set -euo pipefail
packages=(r-base-core r-cran-testthat r-cran-lintr chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "nnparity needs ${missing[*]} and this machine has no apt-get: install R 4.2 or newer (and Chromium for the browser check) by hand." >&2
  exit 2
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing from Debian's packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
