#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for attnkit: system libraries for WebGPU in Node (Dawn on Mesa)
# and for the browser tests (Chromium), pnpm at the pinned version, dependencies, and a full build.
# Safe to run again: it skips what is already there. Uses sudo when not run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.9
# libegl-dev provides the unversioned libEGL.so that Dawn opens; chromium is for the docs' browser test.
APT_PACKAGES=(libegl1 libegl-dev libegl-mesa0 libgl1-mesa-dri chromium)

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present"
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION"
  # corepack cannot verify signatures from this registry, so pnpm comes from npm at the pinned version.
  sudo_if_needed npm install -g "pnpm@$PNPM_VERSION" --silent
fi

export TURBO_TELEMETRY_DISABLED=1
pnpm install --frozen-lockfile
pnpm build
