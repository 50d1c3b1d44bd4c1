#!/usr/bin/env bash
# Runs one UltraAuth login end to end on this machine, as root:
# the bundled test provider, ultraauthd, and pam_ultraauth.so driven by pamtester
# through pam_wrapper, so nothing under /etc/pam.d is touched.
#
# Usage: bash tests/demo.sh [--auto-approve] [--user NAME]
#
#   --auto-approve  approve the login with tests/provider/approve.js instead of a
#                   browser; needs no terminal and no input
#   --user NAME     local and provider username to log in as (default alice); a
#                   missing local user is created with useradd -M
#
# Exits 0 when pamtester reports a successful authentication, non-zero otherwise.
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROVIDER_DIR="$REPO_DIR/tests/provider"
PAM_SERVICE=ultraauth-demo
APT_PACKAGES=(libpam-wrapper pamtester libpam0g-dev)

# Seconds to wait for the provider's READY line and the daemon's socket.
STARTUP_TIMEOUT_SECS=30
# The module's timeout= in the PAM service file: above the daemon's login.wait_secs of
# 300 below, so the daemon's limit is the one a person meets. --auto-approve waits for
# the verdict a little longer than this.
MODULE_TIMEOUT_SECS=310
PROMPT_TIMEOUT_SECS=60
VERDICT_TIMEOUT_SECS=$((MODULE_TIMEOUT_SECS + 10))

AUTO_APPROVE=0
LOGIN_USER=alice
PAMTESTER_COMMAND=()
WORK_DIR=""
PROVIDER_PID=""
DAEMON_PID=""
ISSUER=""

usage() {
    sed -n '6,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

log() {
    printf 'demo: %s\n' "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

parse_args() {
    while (($# > 0)); do
        case "$1" in
            --auto-approve) AUTO_APPROVE=1 ;;
            --user)
                (($# >= 2)) || die "--user needs a name"
                LOGIN_USER=$2
                shift
                ;;
            -h | --help)
                usage
                exit 0
                ;;
            *) die "unknown option '$1'; run with --help for usage" ;;
        esac
        shift
    done

    # The name goes into useradd and into a PAM service file, so allow only what a
    # portable local username may contain.
    if [[ ! "$LOGIN_USER" =~ ^[a-z_][a-z0-9_.-]{0,31}$ ]]; then
        die "invalid --user '$LOGIN_USER': use 1 to 32 lower-case letters, digits, '.', '_' or '-', starting with a letter or '_'"
    fi
}

# Installs only what is missing, so a prepared machine needs no network access.
install_missing() {
    local missing=() package
    for package in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        missing+=(nodejs npm)
    fi
    if ((${#missing[@]} > 0)); then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    fi

    # The test provider needs Node.js 20 or later (tests/provider/README.md), but the
    # nodejs package of Debian 12 is 18.20.
    local node_major
    node_major=$(node -p 'process.versions.node.split(".")[0]')
    ((node_major >= 20)) || die "Node.js $(node --version) is too old for the test provider; install Node.js 20 or later"

    if [[ ! -d "$PROVIDER_DIR/node_modules" ]]; then
        log "running npm ci in $PROVIDER_DIR"
        (cd "$PROVIDER_DIR" && npm ci --no-audit --no-fund >&2)
    fi
}

build() {
    log "building the workspace (cargo build --workspace; a few minutes the first time)"
    (cd "$REPO_DIR" && cargo build --workspace) >&2
}

ensure_local_user() {
    if ! id "$LOGIN_USER" >/dev/null 2>&1; then
        useradd -M "$LOGIN_USER"
        log "created local user '$LOGIN_USER' (useradd -M, no home directory); remove it with: userdel $LOGIN_USER"
    fi
}

# Prints the test provider's usernames, separated by spaces.
provider_usernames() {
    node -e 'const file = require(process.argv[1]);
             console.log(file.accounts.map((account) => account.username).join(" "));' \
        "$PROVIDER_DIR/accounts.json"
}

# Warns early, because a login as a user the provider does not know can never be
# approved and would only end at the daemon's wait limit.
check_provider_account() {
    local usernames
    usernames=$(provider_usernames)
    if [[ " $usernames " != *" $LOGIN_USER "* ]]; then
        log "warning: the test provider has no account '$LOGIN_USER' (it has: $usernames), so nobody can approve this login"
    fi
}

# Stops the provider and the daemon and prints the daemon's audit lines. Runs on every
# exit, including errors and Ctrl-C.
cleanup() {
    local status=$?
    local pid
    for pid in "$DAEMON_PID" "$PROVIDER_PID"; do
        if [[ -n "$pid" ]]; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done

    if [[ -n "$WORK_DIR" ]]; then
        if [[ -s "$WORK_DIR/daemon.log" ]]; then
            printf '\n--- ultraauthd audit lines ---\n'
            cat "$WORK_DIR/daemon.log"
        fi
        rm -rf "$WORK_DIR"
    fi
    exit "$status"
}

# Writes the client secret, the daemon's configuration and a PAM service directory for
# pam_wrapper into WORK_DIR. The issuer is filled in later by write_daemon_config.
prepare_work_dir() {
    WORK_DIR=$(mktemp -d /tmp/ultraauth-demo.XXXXXX)
    chmod 0700 "$WORK_DIR"

    # ultraauthd refuses a secret file that others can read.
    (umask 077 && printf '%s' 'test-secret-change-me' >"$WORK_DIR/client-secret")

    mkdir "$WORK_DIR/pam.d"
    printf 'auth required %s socket=%s timeout=%d\n' \
        "$REPO_DIR/target/debug/libpam_ultraauth.so" "$WORK_DIR/ultraauthd.sock" "$MODULE_TIMEOUT_SECS" \
        >"$WORK_DIR/pam.d/$PAM_SERVICE"
    # pam_wrapper warns when the fallback service is missing.
    printf 'auth required pam_deny.so\n' >"$WORK_DIR/pam.d/other"
}

# Waits until COMMAND succeeds, failing when PID exits first or the timeout passes.
wait_until() {
    local what=$1 pid=$2 log_file=$3
    shift 3
    local deadline=$((SECONDS + STARTUP_TIMEOUT_SECS))
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$log_file" >&2 || true
            die "$what exited before it was ready; its log is above"
        fi
        if ((SECONDS >= deadline)); then
            cat "$log_file" >&2 || true
            die "$what was not ready after $STARTUP_TIMEOUT_SECS s; its log is above"
        fi
        sleep 0.1
    done
}

provider_is_ready() {
    grep -q '^READY ' "$WORK_DIR/provider.out" 2>/dev/null
}

start_provider() {
    log "starting the test provider"
    OP_PORT=0 node "$PROVIDER_DIR/server.js" \
        >"$WORK_DIR/provider.out" 2>"$WORK_DIR/provider.log" &
    PROVIDER_PID=$!
    wait_until "the test provider" "$PROVIDER_PID" "$WORK_DIR/provider.log" provider_is_ready
    ISSUER=$(sed -n 's/^READY //p' "$WORK_DIR/provider.out" | head -n 1)
    log "provider ready, issuer $ISSUER"
}

write_daemon_config() {
    # The test provider sends no `interval`, and with the RFC 8628 default of 5 s the
    # daemon would notice an approval up to 5 s late.
    cat >"$WORK_DIR/ultraauthd.toml" <<EOF
[provider]
issuer = "$ISSUER"
client_id = "ultraauth-test"
client_secret_file = "$WORK_DIR/client-secret"
default_interval_secs = 1

[socket]
path = "$WORK_DIR/ultraauthd.sock"

# Map the verified email (alice@example.test) to the local name: the provider assigns
# it and marks it verified, unlike preferred_username, which users may choose.
[mapping]
claim = "email"
strip_domain = "example.test"
case = "lower"

[sessions]
lifetime_secs = 300

# A person reading the prompt for the first time gets five minutes to approve.
[login]
wait_secs = 300
EOF
}

daemon_is_ready() {
    [[ -S "$WORK_DIR/ultraauthd.sock" ]]
}

start_daemon() {
    write_daemon_config
    log "starting ultraauthd"
    "$REPO_DIR/target/debug/ultraauthd" --config "$WORK_DIR/ultraauthd.toml" --no-syslog \
        2>"$WORK_DIR/daemon.log" &
    DAEMON_PID=$!
    wait_until "ultraauthd" "$DAEMON_PID" "$WORK_DIR/daemon.log" daemon_is_ready
    log "ultraauthd ready on $WORK_DIR/ultraauthd.sock"
}

# Sets PAMTESTER_COMMAND to the command that runs pamtester for LOGIN_USER through
# pam_wrapper. It starts with env, so exec leaves pamtester as the process to kill.
set_pamtester_command() {
    PAMTESTER_COMMAND=(env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1
        "PAM_WRAPPER_SERVICE_DIR=$WORK_DIR/pam.d"
        pamtester -v "$PAM_SERVICE" "$LOGIN_USER" authenticate)
}

login_interactive() {
    cat <<EOF

Open the URL below in a browser on this machine and sign in as $LOGIN_USER with the
password $LOGIN_USER-pass (the test provider's accounts: $(provider_usernames)).
Check the code, approve, then come back here and press Enter.

EOF
    "${PAMTESTER_COMMAND[@]}"
}

# Drives pamtester through a pipe: reads its output until the user code appears,
# approves the code over HTTP as the user, then sends Enter.
login_auto_approve() {
    local line user_code="" prompt_time approved_time done_time="" status=0 outcome=""
    coproc PAMTESTER { exec "${PAMTESTER_COMMAND[@]}" 2>&1; }
    # The coproc's variables are unset once it exits, so keep its pid and descriptors.
    local pamtester_pid=$PAMTESTER_PID pamtester_out pamtester_in
    exec {pamtester_out}<&"${PAMTESTER[0]}" {pamtester_in}>&"${PAMTESTER[1]}"

    # misc_conv prints the prompt's last line without a newline, but the code is on an
    # earlier line: "and check that it shows the code X." or "and enter the code X."
    while IFS= read -r -t "$PROMPT_TIMEOUT_SECS" -u "$pamtester_out" line; do
        printf '%s\n' "$line"
        if [[ "$line" =~ the\ code\ ([A-Za-z0-9-]+)\.$ ]]; then
            user_code=${BASH_REMATCH[1]}
            prompt_time=$EPOCHREALTIME
            break
        fi
    done
    if [[ -z "$user_code" ]]; then
        stop_pamtester "$pamtester_pid" "$pamtester_in"
        die "pamtester ended or showed no user code within $PROMPT_TIMEOUT_SECS s"
    fi

    log "approving user code $user_code as $LOGIN_USER with approve.js"
    if ! node "$PROVIDER_DIR/approve.js" device --issuer "$ISSUER" \
        --user-code "$user_code" --username "$LOGIN_USER" \
        >"$WORK_DIR/approve.out" 2>"$WORK_DIR/approve.log"; then
        cat "$WORK_DIR/approve.log" >&2
        # Without an approval the daemon would poll until its wait limit,
        # login.wait_secs (300 s in this demo), so stop here.
        stop_pamtester "$pamtester_pid" "$pamtester_in"
        die "approve.js could not approve code $user_code as $LOGIN_USER; its log is above"
    fi
    approved_time=$EPOCHREALTIME
    log "approve.js printed: $(cat "$WORK_DIR/approve.out")"

    # Show the prompt's last line, which has no newline, then press Enter. With a pipe
    # the Enter is not echoed, so print the newline a terminal would show.
    local prompt_rest=""
    IFS= read -r -d '' -t 0.2 -u "$pamtester_out" prompt_rest || true
    printf '%s\n' "$prompt_rest"
    printf '\n' >&"$pamtester_in"
    exec {pamtester_in}>&-

    # The module's timeout bounds how long pamtester takes from here, so this loop
    # ends at pamtester's exit.
    while IFS= read -r -t "$VERDICT_TIMEOUT_SECS" -u "$pamtester_out" line || [[ -n "$line" ]]; do
        printf '%s\n' "$line"
        if [[ "$line" == *"successfully authenticated"* ]]; then
            done_time=$EPOCHREALTIME
        fi
        outcome=$line
        line=""
    done
    exec {pamtester_out}<&-
    wait "$pamtester_pid" || status=$?

    printf '\n'
    if ((status == 0)) && [[ -n "$done_time" ]]; then
        printf 'RESULT: authenticated %s; %s s from prompt to success (approve.js took %s s)\n' \
            "$LOGIN_USER" "$(seconds_between "$prompt_time" "$done_time")" \
            "$(seconds_between "$prompt_time" "$approved_time")"
    else
        printf 'RESULT: not authenticated (pamtester exit status %d): %s\n' "$status" "${outcome:-no output}"
        ((status != 0)) || status=1
    fi
    return "$status"
}

# Ends a pamtester run that cannot succeed any more. PID is our own child, so wait
# reaps it.
stop_pamtester() {
    local pid=$1 input_fd=$2
    # Kill before closing the input: at end of input libpam_misc's conversation returns
    # no reply (NULL), which the daemon would log as a failed login.
    kill -TERM "$pid" 2>/dev/null || true
    exec {input_fd}>&-
    wait "$pid" 2>/dev/null || true
}

# Prints END - START in seconds with two decimals. Both are $EPOCHREALTIME values.
seconds_between() {
    awk -v start="$1" -v end="$2" 'BEGIN { printf "%.2f", end - start }'
}

main() {
    parse_args "$@"
    ((EUID == 0)) || die "run as root: this script installs packages, may add a local user, and ultraauthd accepts only uid 0 by default"
    if ((!AUTO_APPROVE)) && [[ ! -t 0 ]]; then
        die "standard input is not a terminal, so nobody can press Enter; run with --auto-approve"
    fi

    install_missing
    build
    ensure_local_user
    check_provider_account

    trap cleanup EXIT
    # Turn signals into a normal exit so the EXIT trap stops the provider and the daemon.
    trap 'exit 130' INT
    trap 'exit 143' TERM

    prepare_work_dir
    start_provider
    start_daemon
    set_pamtester_command

    if ((AUTO_APPROVE)); then
        login_auto_approve
    else
        login_interactive
    fi
}

main "$@"
