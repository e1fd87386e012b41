#!/usr/bin/env bash
# Installs every Debian package Ambit's build, tests, lab and benchmarks need.
# Idempotent: quiet and fast when everything is already there.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  clang llvm lld
  # eBPF
  libbpf-dev bpftool linux-libc-dev libelf-dev zlib1g-dev
  # libraries
  libssl-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libnghttp2-dev
  libboost1.81-dev
  libspdlog-dev libfmt-dev
  libyaml-cpp-dev
  nlohmann-json3-dev
  libre2-dev
  libcli11-dev
  libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # runtime tools for the lab and netns tests
  iproute2 iptables procps psmisc curl openssl ca-certificates
  # peers for benchmarks and interop
  iperf3 wrk nghttp2-client haproxy nginx-light stunnel4 python3-h2
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or with sudo) to install them" >&2
  exit 1
fi

echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
