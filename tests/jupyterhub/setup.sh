#!/usr/bin/env bash
# Installs what the JupyterHub end-to-end tests need, on Debian 12 as root:
#   - Debian packages: chromium (the browser the tests drive), python3-venv;
#   - JupyterHub and its dependencies from requirements.txt into a venv, by default
#     target/jupyterhub-venv (override with JUPYTERHUB_VENV). It lives outside
#     tests/jupyterhub because JupyterHub ships a utils.test.js that
#     `node --test tests/jupyterhub/` would otherwise run;
#   - npm packages from package-lock.json (configurable-http-proxy, playwright-core);
#   - the local users alice and bob, without home directories.
# It downloads no browser: playwright-core drives /usr/bin/chromium.
# Each step is skipped when its result is already there, so a second run takes a second.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${JUPYTERHUB_VENV:-$repo/target/jupyterhub-venv}"

missing=()
command -v chromium >/dev/null || missing+=(chromium)
dpkg -s python3-venv >/dev/null 2>&1 || missing+=(python3-venv)
if ((${#missing[@]})); then
    echo "jupyterhub/setup.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The venv is rebuilt when requirements.txt changed since it was filled. Debian's
# /usr/bin/python3 is used by name, so a python3 earlier in PATH (pyenv) does not leak in.
if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
    echo "jupyterhub/setup.sh: creating $venv"
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/requirements.txt"
fi

# npm ci deletes node_modules first, so it runs only when the lockfile changed.
if [[ ! -f "$here/node_modules/.package-lock.json" || "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

for user in alice bob; do
    id "$user" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$user"
done
