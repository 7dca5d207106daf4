#!/usr/bin/env bash
# Installs the Debian packages benchmatrix needs, only those that are missing, then the npm
# packages of the HTML report's front end (web/, pinned by web/package-lock.json).
# Safe to run again; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libhwloc-dev hwloc libboost-math-dev libgtest-dev libbenchmark-dev
  python3 time procps mount clang libclang-rt-14-dev
  chromium chromium-driver python3-selenium python3-pytest tmux librsvg2-bin
  python3-venv python3-setuptools python3-wheel python3-pandas python3-tqdm
  slurm-wlm munge
)
# Node.js and npm build the report's front end; any installed ones will do (a newer Node.js from
# elsewhere ships its own npm, which Debian's npm package would conflict with).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
else
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The report's npm packages, exactly as locked; again only when the lock file changed since.
web="$(cd "$(dirname "$0")" && pwd)/web"
if [ ! -f "$web/node_modules/.package-lock.json" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  echo "setup: installing the report's npm packages (npm ci in web/)"
  npm ci --prefix "$web" --no-audit --no-fund --loglevel=error
else
  echo "setup: the report's npm packages are installed"
fi
