#!/usr/bin/env bash
# Builds the Debian and RPM packages from a release build of the workspace:
# target/debian/ultraauth_VERSION-1_amd64.deb and target/generate-rpm/ultraauth-VERSION-1.x86_64.rpm.
#
# Needs cargo-deb and cargo-generate-rpm (tests/run.sh installs both).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# One build for both packages: the module is a cdylib of another workspace member,
# which `cargo deb` alone would not build.
cargo build --release --workspace --locked
cargo deb --no-build --locked
cargo generate-rpm
