#!/usr/bin/env bash
# Install R and the R packages nnparity's checks use, from Debian's packages
# (no CRAN): r-base-core (R 4.2 on bookworm), testthat for r_impl's own tests,
# lintr for the R lint. Does nothing when they are all there.
set -euo pipefail
packages=(r-base-core r-cran-testthat r-cran-lintr)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "nnparity needs R (${missing[*]}) and this machine has no apt-get: install R 4.2 or newer by hand." >&2
  exit 2
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing from Debian's packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
