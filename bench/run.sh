#!/usr/bin/env bash
# Benchmarks ultraauth on this machine and prints one table. docs/benchmarks.md explains
# each row and records a run.
#
# Usage: bash bench/run.sh [--quick]
#
#   --quick  small sizes (50 cached logins per series, 100 pending logins) that finish
#            in about a minute once the release build exists. It exits 0 only when every
#            login completed correctly and cached logins made no provider request; no
#            timing is asserted, so CI can run it.
#
# Needs root: missing Debian packages are installed with apt-get, and the daemon's socket
# admits uid 0 by default. Release binaries go to $CARGO_TARGET_DIR (default
# target/bench-release), so a debug build in target/ is not disturbed. The results are
# also written to $CARGO_TARGET_DIR/bench-results.json, the logs to
# $CARGO_TARGET_DIR/bench-logs/.
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=0

# Open files each of the daemon, the load client and the provider needs for the full run:
# one socket per pending login (10,000) plus the daemon's HTTP connections and margin.
FULL_RUN_OPEN_FILES=12000

usage() {
    sed -n '5,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

log() {
    printf 'bench: %s\n' "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

while (($# > 0)); do
    case "$1" in
        --quick) QUICK=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown option '$1'; run with --help for usage" ;;
    esac
    shift
done

# pam_wrapper runs real libpam without touching /etc/pam.d. libpam0g-dev and gcc build
# bench/pam_bench.c, and binutils has strip for the module's stripped size.
install_missing() {
    local missing=()
    dpkg -s libpam-wrapper >/dev/null 2>&1 || missing+=(libpam-wrapper)
    dpkg -s libpam0g-dev >/dev/null 2>&1 || missing+=(libpam0g-dev)
    command -v gcc >/dev/null || missing+=(gcc)
    command -v strip >/dev/null || missing+=(binutils)
    command -v node >/dev/null || missing+=(nodejs npm)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    # Only when missing, because reinstalling would pull node_modules from under a running test.
    if [[ ! -d "$REPO_DIR/tests/provider/node_modules" ]]; then
        (cd "$REPO_DIR/tests/provider" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}

# 10,000 pending logins need more open files than the usual soft limit of 1024.
raise_open_files_limit() {
    local hard
    hard=$(ulimit -Hn)
    if [[ "$hard" != unlimited ]] && ((hard < FULL_RUN_OPEN_FILES)); then
        ulimit -Hn "$FULL_RUN_OPEN_FILES" 2>/dev/null || true
        hard=$(ulimit -Hn)
    fi
    ulimit -n "$hard"
    if ((QUICK == 0)) && [[ "$hard" != unlimited ]] && ((hard < FULL_RUN_OPEN_FILES)); then
        die "the open files limit is $hard; the full run needs $FULL_RUN_OPEN_FILES (raise it with ulimit -Hn as root, or use --quick)"
    fi
}

install_missing
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_DIR/target/bench-release}"

log "building the release binaries in $CARGO_TARGET_DIR"
(cd "$REPO_DIR" && nice -n 10 cargo build --release --workspace --locked)

mkdir -p "$CARGO_TARGET_DIR/bench"
gcc -O2 -Wall -Wextra -o "$CARGO_TARGET_DIR/bench/pam_bench" "$REPO_DIR/bench/pam_bench.c" -lpam -ldl

raise_open_files_limit
args=(--target-dir "$CARGO_TARGET_DIR" --pam-bench "$CARGO_TARGET_DIR/bench/pam_bench")
((QUICK)) && args+=(--quick)
exec node "$REPO_DIR/bench/bench.mjs" "${args[@]}"
