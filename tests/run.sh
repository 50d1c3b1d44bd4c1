#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the workspace, runs the provider's
# self-test and `cargo test`. Needs root (apt-get, useradd) on Debian 12 or similar.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# Debian packages: pam_wrapper and pamtester run real libpam without touching /etc/pam.d,
# libpam0g-dev lets the module link, binutils gives readelf and nm to the linkage test,
# curl and jq serve the provider's self-test, openssh-server runs the sshd tests. The
# package tests need rpm to inspect the RPM, systemd for systemd-analyze, groff and
# man-db to render the man pages, and dpkg-dev for cargo-deb's dependency detection.
install_packages() {
    local missing=()
    dpkg -s libpam-wrapper >/dev/null 2>&1 || missing+=(libpam-wrapper)
    command -v pamtester >/dev/null || missing+=(pamtester)
    dpkg -s libpam0g-dev >/dev/null 2>&1 || missing+=(libpam0g-dev)
    command -v readelf >/dev/null || missing+=(binutils)
    command -v node >/dev/null || missing+=(nodejs npm)
    command -v curl >/dev/null || missing+=(curl)
    command -v jq >/dev/null || missing+=(jq)
    [[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
    command -v rpm >/dev/null || missing+=(rpm)
    command -v systemd-analyze >/dev/null || missing+=(systemd)
    command -v groff >/dev/null || missing+=(groff-base)
    command -v man >/dev/null || missing+=(man-db)
    command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
    if ((${#missing[@]})); then
        echo "run.sh: installing ${missing[*]}"
        apt-get update -qq
        # policy-rc.d keeps the openssh-server package from starting a system sshd; the
        # tests run their own on loopback ports.
        local guard_created=0
        if [[ ! -e /usr/sbin/policy-rc.d ]]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            guard_created=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        if ((guard_created)); then
            rm -f /usr/sbin/policy-rc.d
        fi
    fi
}

# Cargo subcommands that build the packages, pinned; each is installed only when missing.
install_cargo_tools() {
    cargo deb --version 2>/dev/null | grep -qx 'cargo-deb 3.8.0' || cargo install cargo-deb --version 3.8.0 --locked
    cargo generate-rpm --version 2>/dev/null | grep -qx 'cargo-generate-rpm 0.21.1' || cargo install cargo-generate-rpm --version 0.21.1 --locked
}

install_packages
install_cargo_tools
python3 -c 'import paramiko' 2>/dev/null || pip install --quiet --disable-pip-version-check -r tests/ssh/requirements.txt
# npm ci deletes node_modules first, so run it only when the lockfile changed; a
# provider started from this checkout keeps working meanwhile.
if [[ ! -f tests/provider/node_modules/.package-lock.json || tests/provider/package-lock.json -nt tests/provider/node_modules/.package-lock.json ]]; then
    (cd tests/provider && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo build --workspace --locked
bash packaging/build-packages.sh
# The benchmark's small run reuses the release build above and asserts counts only.
CARGO_TARGET_DIR="$repo/target" bash bench/run.sh --quick
bash tests/provider/selftest.sh
# Cases per proptest property; raise it for a long run (see docs/security.md).
export PROPTEST_CASES="${PROPTEST_CASES:-256}"
cargo test --workspace --locked "$@"
bash tests/jupyterhub/setup.sh
node --test tests/jupyterhub/
