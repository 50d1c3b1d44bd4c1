#!/usr/bin/env bash
# Self-test of the test provider: starts server.js on a free loopback port and runs the
# device flow, CIBA and the authorization code flow against it with curl and approve.js.
# Needs node (20 or later), npm, curl and jq. Prints "N passed, M failed" at the end and
# exits non-zero when any check fails.
#
# No `set -e`: a failed command shows up as a failed check, and the run goes on to the
# summary line.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")" || exit 1

if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund >&2 || { echo "npm ci failed" >&2; exit 1; }
fi

CLIENT_ID=ultraauth-test
CLIENT_SECRET=test-secret-change-me
REDIRECT_URI=http://127.0.0.1:8765/callback
ACR_BIOMETRIC=urn:ultraauth:acr:biometric
ACR_PASSWORD=urn:ultraauth:acr:password

WORK_DIR=$(mktemp -d)
SERVER_PID=

cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK_DIR"
}
trap cleanup EXIT

PASSED=0
FAILED=0

pass() {
  PASSED=$((PASSED + 1))
  echo "ok - $1"
}

fail() {
  FAILED=$((FAILED + 1))
  echo "FAIL - $1"
}

# check NAME EXPECTED ACTUAL
check() {
  if [ "$2" = "$3" ]; then
    pass "$1"
  else
    fail "$1: expected '$2', got '$3'"
  fi
}

# ---------------------------------------------------------------------------
# Helpers

# Print the decoded payload of a JWT.
jwt_payload() {
  node -e 'process.stdout.write(Buffer.from(process.argv[1].split(".")[1], "base64url").toString())' -- "$1"
}

# Exit 0 when the JWT's signature verifies against the JWKS in the file given second.
jwt_verify() {
  node -e '
    const crypto = require("node:crypto");
    const [token, jwksFile] = process.argv.slice(1);
    const [headerPart, payloadPart, signaturePart] = token.split(".");
    const header = JSON.parse(Buffer.from(headerPart, "base64url"));
    const jwk = JSON.parse(require("node:fs").readFileSync(jwksFile, "utf8")).keys.find((key) => key.kid === header.kid);
    if (!jwk) process.exit(1);
    const options = header.alg === "ES256" ? { key: crypto.createPublicKey({ key: jwk, format: "jwk" }), dsaEncoding: "ieee-p1363" }
      : crypto.createPublicKey({ key: jwk, format: "jwk" });
    const ok = crypto.verify("sha256", Buffer.from(`${headerPart}.${payloadPart}`), options, Buffer.from(signaturePart, "base64url"));
    process.exit(ok ? 0 : 1);
  ' -- "$1" "$2"
}

# Print a URL query parameter: url_param URL NAME
url_param() {
  node -e 'process.stdout.write(new URL(process.argv[1]).searchParams.get(process.argv[2]) ?? "")' -- "$1" "$2"
}

# POST a form to the token endpoint with client_secret_basic, printing the JSON response.
token_request() {
  curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" "$@" "$ISSUER/token"
}

# Poll the token endpoint while it returns authorization_pending, printing the last
# response. The provider sends no `interval`, so this polls every 0.2 s for at most 10 s.
poll_token() {
  local response
  for _ in $(seq 50); do
    response=$(token_request "$@")
    if [ "$(jq -r '.error // empty' <<<"$response")" != authorization_pending ]; then
      break
    fi
    sleep 0.2
  done
  printf '%s' "$response"
}

device_authorization() {
  curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" -d "scope=openid email profile" "$ISSUER/device/auth"
}

# Run a device flow for USERNAME with AMR, approved with approve.js by user code, and print
# the token response.
device_flow() {
  local username=$1 amr=$2 device
  device=$(device_authorization)
  node approve.js device --issuer "$ISSUER" --user-code "$(jq -r .user_code <<<"$device")" \
    --username "$username" --amr "$amr" >/dev/null 2>>"$WORK_DIR/approve.log"
  poll_token -d grant_type=urn:ietf:params:oauth:grant-type:device_code \
    -d device_code="$(jq -r .device_code <<<"$device")"
}

# ---------------------------------------------------------------------------
# Start the provider

node server.js --port 0 >"$WORK_DIR/server.out" 2>"$WORK_DIR/server.err" &
SERVER_PID=$!

for _ in $(seq 150); do
  if grep -q '^READY ' "$WORK_DIR/server.out"; then
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

if ! grep -q '^READY http://127.0.0.1:[0-9]*/op$' "$WORK_DIR/server.out"; then
  echo "server.js did not print a READY line within 15 s; its stderr:" >&2
  cat "$WORK_DIR/server.err" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
ISSUER=$(awk '/^READY /{print $2}' "$WORK_DIR/server.out")
BASE=${ISSUER%/op}
pass "server prints READY $ISSUER"
check "stdout has only the READY line" 1 "$(wc -l <"$WORK_DIR/server.out" | tr -d ' ')"

# ---------------------------------------------------------------------------
# Discovery

DISCOVERY=$(curl -sS "$ISSUER/.well-known/openid-configuration")
check "discovery issuer" "$ISSUER" "$(jq -r .issuer <<<"$DISCOVERY")"
check "discovery device_authorization_endpoint" "$ISSUER/device/auth" "$(jq -r .device_authorization_endpoint <<<"$DISCOVERY")"
check "discovery backchannel_authentication_endpoint" "$ISSUER/backchannel" "$(jq -r .backchannel_authentication_endpoint <<<"$DISCOVERY")"
check "discovery token_endpoint" "$ISSUER/token" "$(jq -r .token_endpoint <<<"$DISCOVERY")"
check "discovery userinfo_endpoint" "$ISSUER/me" "$(jq -r .userinfo_endpoint <<<"$DISCOVERY")"
check "discovery jwks_uri" "$ISSUER/jwks" "$(jq -r .jwks_uri <<<"$DISCOVERY")"
curl -sS "$ISSUER/jwks" >"$WORK_DIR/jwks.json"
check "jwks has an RS256 key" true "$(jq '[.keys[] | select(.alg == "RS256")] | length > 0' "$WORK_DIR/jwks.json")"

# ---------------------------------------------------------------------------
# Device flow, approved with fpt

DEVICE=$(device_authorization)
check "device response has verification_uri" "$ISSUER/device" "$(jq -r .verification_uri <<<"$DEVICE")"
check "device response has verification_uri_complete" true "$(jq 'has("verification_uri_complete")' <<<"$DEVICE")"
check "device response has expires_in 600" 600 "$(jq -r .expires_in <<<"$DEVICE")"
DEVICE_CODE=$(jq -r .device_code <<<"$DEVICE")
USER_CODE=$(jq -r .user_code <<<"$DEVICE")

PENDING=$(token_request -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d device_code="$DEVICE_CODE")
check "device token before approval is pending" authorization_pending "$(jq -r .error <<<"$PENDING")"

START_MS=$(date +%s%3N)
if node approve.js device --issuer "$ISSUER" --user-code "$USER_CODE" --username alice \
  >"$WORK_DIR/device.out" 2>>"$WORK_DIR/approve.log"; then
  pass "approve.js device approves alice"
else
  fail "approve.js device approves alice (see its stderr below)"
  tail -n 20 "$WORK_DIR/approve.log"
fi
check "approve.js device prints success" success "$(cat "$WORK_DIR/device.out")"

TOKENS=$(poll_token -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d device_code="$DEVICE_CODE")
END_MS=$(date +%s%3N)
echo "# device flow from approval to tokens took $((END_MS - START_MS)) ms"
ID_TOKEN=$(jq -r '.id_token // empty' <<<"$TOKENS")
if [ -n "$ID_TOKEN" ]; then
  pass "device flow returns an id_token"
else
  fail "device flow returns an id_token: $TOKENS"
fi
CLAIMS=$(jwt_payload "${ID_TOKEN:-a.e30.c}")
check "device id_token amr" '["fpt"]' "$(jq -c .amr <<<"$CLAIMS")"
check "device id_token acr" "$ACR_BIOMETRIC" "$(jq -r .acr <<<"$CLAIMS")"
check "device id_token auth_time is a number" number "$(jq -r '.auth_time | type' <<<"$CLAIMS")"
check "device id_token preferred_username" alice "$(jq -r .preferred_username <<<"$CLAIMS")"
check "device id_token email" alice@example.test "$(jq -r .email <<<"$CLAIMS")"
check "device id_token email_verified" true "$(jq -r .email_verified <<<"$CLAIMS")"
check "device id_token groups" '["hpc-users"]' "$(jq -c .groups <<<"$CLAIMS")"
check "device id_token sub" a1b2c3d4e5f60718293a4b5c6d7e8f90 "$(jq -r .sub <<<"$CLAIMS")"
check "device id_token iss" "$ISSUER" "$(jq -r .iss <<<"$CLAIMS")"
check "device id_token aud" "$CLIENT_ID" "$(jq -r .aud <<<"$CLAIMS")"
if jwt_verify "${ID_TOKEN:-a.e30.c}" "$WORK_DIR/jwks.json"; then
  pass "device id_token signature verifies against the JWKS"
else
  fail "device id_token signature verifies against the JWKS"
fi

USERINFO=$(curl -sS -H "Authorization: Bearer $(jq -r .access_token <<<"$TOKENS")" "$ISSUER/me")
check "userinfo returns the same sub" a1b2c3d4e5f60718293a4b5c6d7e8f90 "$(jq -r .sub <<<"$USERINFO")"

# Reusing a device code also revokes the tokens issued for it, so this comes last.
REUSED=$(token_request -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d device_code="$DEVICE_CODE")
check "device code cannot be used twice" invalid_grant "$(jq -r .error <<<"$REUSED")"

# ---------------------------------------------------------------------------
# Device flow through verification_uri_complete, other users and methods

DEVICE=$(device_authorization)
if node approve.js device --uri "$(jq -r .verification_uri_complete <<<"$DEVICE")" --username bob --amr face \
  >/dev/null 2>>"$WORK_DIR/approve.log"; then
  pass "approve.js device --uri approves bob"
else
  fail "approve.js device --uri approves bob"
fi
TOKENS=$(poll_token -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d device_code="$(jq -r .device_code <<<"$DEVICE")")
CLAIMS=$(jwt_payload "$(jq -r '.id_token // "a.e30.c"' <<<"$TOKENS")")
check "device --uri id_token amr" '["face"]' "$(jq -c .amr <<<"$CLAIMS")"
check "device --uri id_token preferred_username" bob "$(jq -r .preferred_username <<<"$CLAIMS")"

CLAIMS=$(jwt_payload "$(device_flow carol pwd | jq -r '.id_token // "a.e30.c"')")
check "carol id_token preferred_username keeps case and domain" Carol@Example.Test "$(jq -r .preferred_username <<<"$CLAIMS")"
check "pwd login id_token acr" "$ACR_PASSWORD" "$(jq -r .acr <<<"$CLAIMS")"
check "pwd login id_token amr" '["pwd"]' "$(jq -c .amr <<<"$CLAIMS")"

CLAIMS=$(jwt_payload "$(device_flow dave fpt | jq -r '.id_token // "a.e30.c"')")
check "dave id_token has no email" false "$(jq 'has("email")' <<<"$CLAIMS")"

# ---------------------------------------------------------------------------
# Device flow failures

DEVICE=$(device_authorization)
if node approve.js device --issuer "$ISSUER" --user-code "$(jq -r .user_code <<<"$DEVICE")" --username alice --abort \
  >"$WORK_DIR/abort.out" 2>>"$WORK_DIR/approve.log"; then
  pass "approve.js device --abort sees the aborted page"
else
  fail "approve.js device --abort sees the aborted page"
fi
check "approve.js device --abort prints aborted" aborted "$(cat "$WORK_DIR/abort.out")"
DENIED=$(token_request -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d device_code="$(jq -r .device_code <<<"$DEVICE")")
check "aborted device flow gives access_denied" access_denied "$(jq -r .error <<<"$DENIED")"

DEVICE=$(device_authorization)
if node approve.js device --issuer "$ISSUER" --user-code "$(jq -r .user_code <<<"$DEVICE")" --username alice \
  --password wrong-password >/dev/null 2>"$WORK_DIR/wrong.log"; then
  fail "approve.js device fails on a wrong password"
else
  pass "approve.js device fails on a wrong password"
fi
if grep -q 'wrong-password' "$WORK_DIR/wrong.log"; then
  fail "approve.js does not print the password"
else
  pass "approve.js does not print the password"
fi

if node approve.js device --issuer "$ISSUER" --user-code BCDF-GHJK --username alice \
  >/dev/null 2>>"$WORK_DIR/approve.log"; then
  fail "approve.js device fails on an unknown user code"
else
  pass "approve.js device fails on an unknown user code"
fi

# ---------------------------------------------------------------------------
# CIBA (poll mode), approved and denied on the test device pages

CIBA=$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" -d "scope=openid email profile" \
  -d login_hint=Alice@Example.Test -d binding_message=ssh-4711 "$ISSUER/backchannel")
AUTH_REQ_ID=$(jq -r '.auth_req_id // empty' <<<"$CIBA")
if [ -n "$AUTH_REQ_ID" ]; then
  pass "CIBA request by email login_hint returns auth_req_id"
else
  fail "CIBA request by email login_hint returns auth_req_id: $CIBA"
fi
check "CIBA response has expires_in 600" 600 "$(jq -r .expires_in <<<"$CIBA")"
PENDING_LIST=$(curl -sS "$BASE/test-device/requests")
check "test-device lists the request with its binding message" ssh-4711 \
  "$(jq -r --arg id "$AUTH_REQ_ID" '.[] | select(.id == $id) | .bindingMessage' <<<"$PENDING_LIST")"
PENDING=$(token_request -d grant_type=urn:openid:params:grant-type:ciba -d auth_req_id="$AUTH_REQ_ID")
check "CIBA token before approval is pending" authorization_pending "$(jq -r .error <<<"$PENDING")"

check "approve.js push approves alice" "approved $AUTH_REQ_ID" \
  "$(node approve.js push --base "$BASE" --username alice --amr hwk --wait 5 2>>"$WORK_DIR/approve.log")"
TOKENS=$(poll_token -d grant_type=urn:openid:params:grant-type:ciba -d auth_req_id="$AUTH_REQ_ID")
CLAIMS=$(jwt_payload "$(jq -r '.id_token // "a.e30.c"' <<<"$TOKENS")")
check "CIBA id_token sub" a1b2c3d4e5f60718293a4b5c6d7e8f90 "$(jq -r .sub <<<"$CLAIMS")"
check "CIBA id_token amr" '["hwk"]' "$(jq -c .amr <<<"$CLAIMS")"
check "CIBA id_token acr" "$ACR_BIOMETRIC" "$(jq -r .acr <<<"$CLAIMS")"
check "CIBA id_token auth_time is a number" number "$(jq -r '.auth_time | type' <<<"$CLAIMS")"
check "CIBA id_token email" alice@example.test "$(jq -r .email <<<"$CLAIMS")"

CIBA=$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" -d scope=openid -d login_hint=bob "$ISSUER/backchannel")
node approve.js push --base "$BASE" --username bob --deny --wait 5 >/dev/null 2>>"$WORK_DIR/approve.log" || true
DENIED=$(token_request -d grant_type=urn:openid:params:grant-type:ciba -d auth_req_id="$(jq -r .auth_req_id <<<"$CIBA")")
check "denied CIBA request gives access_denied" access_denied "$(jq -r .error <<<"$DENIED")"

UNKNOWN=$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" -d scope=openid -d login_hint=nobody "$ISSUER/backchannel")
check "CIBA with an unknown login_hint gives unknown_user_id" unknown_user_id "$(jq -r .error <<<"$UNKNOWN")"

CIBA=$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" -d scope=openid -d login_hint=da7e0000111122223333444455556666 "$ISSUER/backchannel")
check "CIBA accepts a sub as login_hint" true "$(jq 'has("auth_req_id")' <<<"$CIBA")"

# ---------------------------------------------------------------------------
# Authorization code flow with PKCE (S256), state and nonce

CODE_VERIFIER=$(node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64url"))')
CODE_CHALLENGE=$(node -e 'process.stdout.write(require("node:crypto").createHash("sha256").update(process.argv[1]).digest("base64url"))' -- "$CODE_VERIFIER")
STATE=state-$RANDOM$RANDOM
NONCE=nonce-$RANDOM$RANDOM
AUTHORIZE_URL=$(node -e '
  const [issuer, clientId, redirectUri, state, nonce, challenge] = process.argv.slice(1);
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: clientId, response_type: "code", scope: "openid email profile",
    redirect_uri: redirectUri, state, nonce, code_challenge: challenge, code_challenge_method: "S256",
  });
  process.stdout.write(url.href);
' -- "$ISSUER" "$CLIENT_ID" "$REDIRECT_URI" "$STATE" "$NONCE" "$CODE_CHALLENGE")

JAR="$WORK_DIR/cookies.json"
LOCATION=$(node approve.js code --url "$AUTHORIZE_URL" --username alice --amr iris --jar "$JAR" 2>>"$WORK_DIR/approve.log" || true)
check "code flow redirects to the redirect_uri" "$REDIRECT_URI" "${LOCATION%%\?*}"
check "code flow returns the state" "$STATE" "$(url_param "$LOCATION" state)"
check "code flow returns iss" "$ISSUER" "$(url_param "$LOCATION" iss)"

TOKENS=$(token_request -d grant_type=authorization_code -d code="$(url_param "$LOCATION" code)" \
  -d redirect_uri="$REDIRECT_URI" -d code_verifier="$CODE_VERIFIER")
CLAIMS=$(jwt_payload "$(jq -r '.id_token // "a.e30.c"' <<<"$TOKENS")")
check "code flow id_token nonce" "$NONCE" "$(jq -r .nonce <<<"$CLAIMS")"
check "code flow id_token amr" '["iris"]' "$(jq -c .amr <<<"$CLAIMS")"
check "code flow id_token acr" "$ACR_BIOMETRIC" "$(jq -r .acr <<<"$CLAIMS")"
check "code flow id_token preferred_username" alice "$(jq -r .preferred_username <<<"$CLAIMS")"

LOCATION=$(node approve.js code --url "$AUTHORIZE_URL" --username alice --jar "$JAR" 2>"$WORK_DIR/second.log" || true)
check "second authorization in the same jar returns a code" true "$([ -n "$(url_param "$LOCATION" code)" ] && echo true || echo false)"
check "second authorization in the same jar skips login" 0 "$(grep -c 'signing in' "$WORK_DIR/second.log" || true)"

LOCATION=$(node approve.js code --url "$AUTHORIZE_URL&prompt=login" --username alice --amr face --jar "$JAR" 2>"$WORK_DIR/third.log" || true)
check "prompt=login in the same jar shows the login page" 1 "$(grep -c 'signing in' "$WORK_DIR/third.log" || true)"
TOKENS=$(token_request -d grant_type=authorization_code -d code="$(url_param "$LOCATION" code)" \
  -d redirect_uri="$REDIRECT_URI" -d code_verifier="$CODE_VERIFIER")
CLAIMS=$(jwt_payload "$(jq -r '.id_token // "a.e30.c"' <<<"$TOKENS")")
check "prompt=login id_token has the new amr" '["face"]' "$(jq -c .amr <<<"$CLAIMS")"

TOKENS=$(token_request -d grant_type=authorization_code -d code="$(url_param "$LOCATION" code)" \
  -d redirect_uri="$REDIRECT_URI" -d code_verifier="$CODE_VERIFIER")
check "authorization code cannot be used twice" invalid_grant "$(jq -r .error <<<"$TOKENS")"

LOCATION=$(node approve.js code --url "$AUTHORIZE_URL" --username bob 2>>"$WORK_DIR/approve.log" || true)
TOKENS=$(token_request -d grant_type=authorization_code -d code="$(url_param "$LOCATION" code)" \
  -d redirect_uri="$REDIRECT_URI" -d code_verifier=wrong-verifier-wrong-verifier-wrong-verifier-0)
check "code exchange with a wrong code_verifier fails" invalid_grant "$(jq -r .error <<<"$TOKENS")"

LOCATION=$(node approve.js code --url "$AUTHORIZE_URL" --username alice --abort 2>>"$WORK_DIR/approve.log" || true)
check "code flow Abort redirects with access_denied" access_denied "$(url_param "$LOCATION" error)"

NO_PKCE_URL=$(node -e '
  const url = new URL(process.argv[1]);
  url.searchParams.delete("code_challenge");
  url.searchParams.delete("code_challenge_method");
  process.stdout.write(url.href);
' -- "$AUTHORIZE_URL")
NO_PKCE_LOCATION=$(curl -sS -o /dev/null -w '%{redirect_url}' "$NO_PKCE_URL")
check "authorization without PKCE is rejected" invalid_request "$(url_param "$NO_PKCE_LOCATION" error)"

# ---------------------------------------------------------------------------
# WebAuthn: a passkey from approve.js's software authenticator

PASSKEY="$WORK_DIR/alice-passkey.json"
if node approve.js register-passkey --base "$BASE" --username alice --passkey "$PASSKEY" \
  >"$WORK_DIR/passkey.out" 2>>"$WORK_DIR/approve.log"; then
  pass "approve.js register-passkey registers a passkey for alice"
else
  fail "approve.js register-passkey registers a passkey for alice"
  tail -n 5 "$WORK_DIR/approve.log"
fi
check "the credential list names alice for the new passkey" alice \
  "$(curl -sS "$BASE/test-device/webauthn/credentials" | jq -r --arg id "$(cat "$WORK_DIR/passkey.out")" '.[] | select(.id == $id) | .username')"

LOCATION=$(node approve.js code --url "$AUTHORIZE_URL&prompt=login" --username alice --passkey "$PASSKEY" \
  2>>"$WORK_DIR/approve.log" || true)
TOKENS=$(token_request -d grant_type=authorization_code -d code="$(url_param "$LOCATION" code)" \
  -d redirect_uri="$REDIRECT_URI" -d code_verifier="$CODE_VERIFIER")
CLAIMS=$(jwt_payload "$(jq -r '.id_token // "a.e30.c"' <<<"$TOKENS")")
check "passkey sign-in id_token amr" '["hwk","user"]' "$(jq -c .amr <<<"$CLAIMS")"
check "passkey sign-in id_token acr" "$ACR_BIOMETRIC" "$(jq -r .acr <<<"$CLAIMS")"
check "passkey sign-in id_token sub" a1b2c3d4e5f60718293a4b5c6d7e8f90 "$(jq -r .sub <<<"$CLAIMS")"

if node approve.js code --url "$AUTHORIZE_URL&prompt=login" --username alice --passkey "$PASSKEY" \
  --no-user-verification >/dev/null 2>"$WORK_DIR/no-uv.log"; then
  fail "passkey sign-in without user verification is rejected"
else
  pass "passkey sign-in without user verification is rejected"
fi
check "the rejection names user verification" true "$(grep -qi 'user could not be verified' "$WORK_DIR/no-uv.log" && echo true || echo false)"

if node approve.js register-passkey --base "$BASE" --username alice --password wrong-password \
  --passkey "$WORK_DIR/rejected-passkey.json" >/dev/null 2>>"$WORK_DIR/approve.log"; then
  fail "passkey registration with a wrong password is rejected"
else
  pass "passkey registration with a wrong password is rejected"
fi
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d '{}' "$BASE/webauthn/register/verify")
check "passkey registration without a pending challenge returns 400" 400 "$STATUS"
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$BASE/interaction/no-such-uid/webauthn/options")
check "passkey options without the interaction cookie return 400" 400 "$STATUS"

# ---------------------------------------------------------------------------
# Test pages reject bad input

STATUS=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$BASE/test-device/requests/no-such-id/approve")
check "approving an unknown CIBA request returns 404" 404 "$STATUS"
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/interaction/no-such-uid")
check "interaction page without its cookie returns 400" 400 "$STATUS"

if grep -q "$CLIENT_SECRET" "$WORK_DIR/server.err"; then
  fail "server log does not contain the client secret"
else
  pass "server log does not contain the client secret"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
