#!/usr/bin/env bash
# Installs what the compat suite needs beyond the project's own `npm ci`:
#  - Debian packages: kcat, the Python clients and their codecs, Go with sarama and kafka-go sources,
#    and the -dev libraries librdkafka's build links against;
#  - compat/clients: @confluentinc/kafka-javascript, whose librdkafka is compiled from the source
#    bundled in the npm package (its prebuilt binary is a GitHub download, which cannot be fetched
#    here). Built with CKJS_LINKING=dynamic, librdkafka links Debian's OpenSSL, zlib and zstd instead
#    of downloading their sources (the package's default, static mode, downloads them and fails
#    offline). The build takes about 5 minutes on 2 cores; the result is cached under
#    ~/.cache/samsa-compat keyed by the lockfile and the Node version.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(kcat python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard
  golang-go golang-github-shopify-sarama-dev golang-github-segmentio-kafka-go-dev
  libssl-dev zlib1g-dev libzstd-dev g++ make python3)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" || { apt-get update -q && apt-get install -y -q "${missing[@]}"; }
fi

clients=compat/clients
key=$(cat "$clients/package-lock.json" <(node --version) | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/samsa-compat/clients-$key"
if [ -f "$clients/node_modules/.samsa-compat-$key" ]; then
  exit 0
fi
if [ -d "$cache/node_modules" ]; then
  echo "compat: @confluentinc/kafka-javascript from the cache $cache"
  rm -rf "$clients/node_modules"
  cp -a "$cache/node_modules" "$clients/node_modules"
else
  echo "compat: building @confluentinc/kafka-javascript (librdkafka from source, ~5 min)"
  start=$(date +%s)
  CKJS_LINKING=dynamic npm ci --prefix "$clients" --no-audit --no-fund > "$clients/install.log" 2>&1 ||
    { echo "compat: the @confluentinc/kafka-javascript build failed; see $clients/install.log" >&2; tail -20 "$clients/install.log" >&2; exit 1; }
  echo "compat: built in $(( $(date +%s) - start )) s"
  mkdir -p "$cache"
  rm -rf "$cache/node_modules"
  cp -a "$clients/node_modules" "$cache/node_modules"
fi
node -e "require('./$clients/node_modules/@confluentinc/kafka-javascript')" >/dev/null
touch "$clients/node_modules/.samsa-compat-$key"
