#!/usr/bin/env bash
# Install what nnparity needs from Debian's packages (no CRAN), in one apt run:
#   r-base-core      R (4.2 on bookworm), which rpy2 embeds and r_impl runs on
#   libblas3, liblapack3
#                    the reference BLAS and LAPACK, R's own: named, because r-base-core
#                    takes any libblas.so.3, and installed in one run with OpenBLAS it
#                    would get OpenBLAS alone (seen on a fresh machine: no reference BLAS
#                    at all, R on OpenBLAS, the BLAS matrix unable to switch back)
#   r-cran-testthat  r_impl's own tests (tox -e rtests)
#   r-cran-lintr     the R lint, tidyverse style (tox -e lint)
#   chromium         the browser check of `nnparity report` (tox -e browser)
#   python3-venv     `python3 -m venv` (Debian ships it apart from python3)
#   libreoffice-calc-nogui, python3-uno
#                    the spreadsheet engine and its Python bridge (nnparity run --spreadsheet,
#                    tox -e spreadsheet); poppler-utils renders the README's workbook picture
#   libopenblas0-pthread, libblis4-pthread
#                    two more BLAS libraries for R, loaded per process by the BLAS
#                    matrix (tox -e blas) through LD_LIBRARY_PATH; see below
# Does nothing when they are all there.
set -euo pipefail
packages=(r-base-core libblas3 liblapack3 r-cran-testthat r-cran-lintr chromium libreoffice-calc-nogui python3-uno
  poppler-utils libopenblas0-pthread libblis4-pthread)
# Debian's own python3 makes venvs only with python3-venv (ensurepip is cut out of python3).
if [ "$(command -v python3)" = /usr/bin/python3 ]; then packages+=(python3-venv); fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "Debian packages: all there (${packages[*]})" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "nnparity needs ${missing[*]} and this machine has no apt-get: install R 4.2 or newer (and Chromium for the browser check) by hand." >&2
  exit 2
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    # Not apt-get alone: this script also keeps the BLAS that R uses (below).
    script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
    echo "scripts/setup-system.sh: not root and no sudo to install ${missing[*]}: run it as root: su -c 'bash $script'" >&2
    exit 2
  fi
  sudo="sudo"
fi
echo "Installing from Debian's packages: ${missing[*]}" >&2
# Installing OpenBLAS or BLIS registers them as alternatives for libblas.so.3 and
# liblapack.so.3 with a higher priority than the reference BLAS (libblas3), so in
# auto mode Debian would switch every program's BLAS, R's included. The tolerance
# policy (nnparity/policy.py) is measured with R on the reference BLAS and the
# other libraries are meant for one process at a time (LD_LIBRARY_PATH), so the
# choice in force before this install is kept (set in manual mode before and after
# the install: no program starts on another BLAS in between), and on a machine
# that had none, the reference BLAS is chosen explicitly (docs/blas.md).
arch="$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("MULTIARCH") or "")')"
arch="${arch:-x86_64-linux-gnu}"
declare -A chosen=()
keep_blas_choice() {
  local name group
  for name in blas lapack; do
    group="lib$name.so.3-$arch"
    if [ -e "${chosen[$name]}" ]; then
      $sudo update-alternatives --quiet --set "$group" "${chosen[$name]}"
    fi
  done
}
for name in blas lapack; do
  query="$(update-alternatives --query "lib$name.so.3-$arch" 2>/dev/null || true)"
  chosen[$name]="$(sed -n 's/^Value: //p' <<<"$query")"
  reference="/usr/lib/$arch/$name/lib$name.so.3"
  # No reference library yet: whatever R was on came with it by accident (apt's pick
  # for r-base-core's libblas.so.3), not by choice; the reference is chosen below.
  [ -n "${chosen[$name]}" ] && [ -e "$reference" ] || chosen[$name]="$reference"
done
keep_blas_choice
# Other apt runs may hold the lock: wait for it (up to 15 minutes) rather than fail.
apt=($sudo apt-get -o DPkg::Lock::Timeout=900)
echo "apt-get update (the package lists)" >&2
"${apt[@]}" update
echo "apt-get install ${missing[*]}" >&2
DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
keep_blas_choice
