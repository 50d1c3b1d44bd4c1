#!/usr/bin/env node
// Test OpenID Connect provider for ultraauth.
//
// It runs the npm package oidc-provider (v9) mounted at /op under a plain node:http server,
// the same layout as the UltraAuth service, so the issuer is http://HOST:PORT/op. It has one
// confidential client, the device authorization grant, CIBA in poll mode, the authorization
// code flow with PKCE (S256) and its own login page, which lets the user choose the `amr`
// value that ends up in the ID token. It is for tests on loopback only.
//
// Usage: node server.js [--port N] [--host 127.0.0.1] [--issuer-host localhost]
//
// When the server listens, it prints one line to stdout and nothing else there:
//   READY http://127.0.0.1:PORT/op
// Request logs and notices go to stderr.
//
// Environment variables (command-line options win over them):
//   OP_PORT             TCP port, default 0 (any free port; the READY line shows the real one)
//   OP_HOST             listen address, default 127.0.0.1 (must be a loopback address)
//   OP_ISSUER_HOST      host name in the issuer URL, default the listen address. Set it to
//                       localhost for WebAuthn: browsers reject an IP address as relying
//                       party ID. It must name a loopback address too.
//   OP_CLIENT_ID        client_id of the one client, default ultraauth-test
//   OP_CLIENT_SECRET    its client_secret (client_secret_basic), default test-secret-change-me
//   OP_REDIRECT_URIS    comma-separated redirect_uris, default http://127.0.0.1:8765/callback
//   OP_DEVICE_TTL       device code lifetime in seconds, default 600
//   OP_CIBA_TTL         CIBA request lifetime in seconds, default 600 (a smaller
//                       requested_expiry from the client wins)
//   OP_ID_TOKEN_TTL     ID token lifetime in seconds, default 3600
//   OP_ID_TOKEN_ALG     id_token_signed_response_alg of the client, RS256 (default) or ES256
//   OP_POLL_INTERVAL    if set, seconds added as `interval` to device authorization and CIBA
//                       responses. Unset, the responses have no `interval`, as oidc-provider
//                       sends them.
//
// Accounts come from accounts.json beside this file. Each account's password is
// "<username>-pass" (alice-pass, bob-pass, ...).
//
// Pages outside /op:
//   GET  /interaction/:uid                      login page (username, password, amr, Abort)
//   POST /interaction/:uid/login                login form target
//   POST /interaction/:uid/webauthn/options     WebAuthn sign-in: request options (JSON)
//   POST /interaction/:uid/webauthn/verify      WebAuthn sign-in: check the assertion, returns
//                                               {redirect} to resume the authorization
//   GET  /webauthn/register                     page that registers a passkey for an account
//   POST /webauthn/register/options             creation options for {username, password}
//   POST /webauthn/register/verify              check the attestation and store the credential
//   GET  /static/webauthn-client.js             the browser script of the WebAuthn pages
//   GET  /test-device/webauthn/credentials      registered credentials as JSON
//   GET  /test-device/requests                  pending CIBA requests as JSON
//   POST /test-device/requests/:id/approve      approve one (form or JSON field `amr`, default fpt)
//   POST /test-device/requests/:id/deny         deny one (the client gets access_denied)

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

import { WEBAUTHN_AMR, WebAuthnError, WebAuthnStore } from './webauthn.js';

const ACR_BIOMETRIC = 'urn:ultraauth:acr:biometric';
const ACR_PASSWORD = 'urn:ultraauth:acr:password';

// amr values (RFC 8176) that the login page and the CIBA approve hook accept.
const AMR_CHOICES = {
  fpt: 'Fingerprint (fpt)',
  face: 'Face recognition (face)',
  iris: 'Iris scan (iris)',
  hwk: 'Hardware key (hwk)',
  pwd: 'Password only (pwd)',
};

const MAX_BODY_BYTES = 64 * 1024;

// oidc-provider prints its notices with console.info, which writes to stdout. stdout must
// carry only the READY line, so all console output goes to stderr.
console.log = console.error;
console.info = console.error;

// ---------------------------------------------------------------------------
// Configuration

function fail(message) {
  process.stderr.write(`server.js: ${message}\n`);
  process.exit(2);
}

function readSeconds(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    fail(`${name} must be a positive whole number of seconds, got "${raw}"`);
  }
  return value;
}

function isLoopbackAddress(address) {
  if (!address) {
    return false;
  }
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || plain === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(plain);
}

function readSettings() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'issuer-host': { type: 'string' },
    },
  });

  const port = Number(values.port ?? process.env.OP_PORT ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`invalid port "${values.port ?? process.env.OP_PORT}": use 0-65535 (0 picks a free port)`);
  }

  const host = values.host ?? process.env.OP_HOST ?? '127.0.0.1';
  if (!isLoopbackAddress(host)) {
    fail(`host "${host}" is not a loopback address: this test provider listens on loopback only`);
  }

  const issuerHost = values['issuer-host'] ?? process.env.OP_ISSUER_HOST ?? host;
  if (!isLoopbackAddress(issuerHost)) {
    fail(`issuer host "${issuerHost}" is not a loopback name or address: use localhost, 127.0.0.1 or ::1`);
  }

  const redirectUris = (process.env.OP_REDIRECT_URIS ?? 'http://127.0.0.1:8765/callback')
    .split(',')
    .map((uri) => uri.trim())
    .filter(Boolean);
  if (redirectUris.length === 0) {
    fail('OP_REDIRECT_URIS is empty: give at least one redirect URI');
  }

  const idTokenAlg = process.env.OP_ID_TOKEN_ALG || 'RS256';
  if (!['RS256', 'ES256'].includes(idTokenAlg)) {
    fail(`OP_ID_TOKEN_ALG must be RS256 or ES256, got "${idTokenAlg}"`);
  }

  return {
    port,
    host,
    issuerHost,
    clientId: process.env.OP_CLIENT_ID || 'ultraauth-test',
    clientSecret: process.env.OP_CLIENT_SECRET || 'test-secret-change-me',
    redirectUris,
    idTokenAlg,
    deviceTtl: readSeconds('OP_DEVICE_TTL', 600),
    cibaTtl: readSeconds('OP_CIBA_TTL', 600),
    idTokenTtl: readSeconds('OP_ID_TOKEN_TTL', 3600),
    pollInterval: readSeconds('OP_POLL_INTERVAL', undefined),
  };
}

// ---------------------------------------------------------------------------
// Accounts

function loadAccounts() {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), 'accounts.json');
  const { accounts } = JSON.parse(fs.readFileSync(file, 'utf8'));
  return accounts;
}

const accounts = loadAccounts();

function findAccountBySub(sub) {
  return accounts.find((account) => account.sub === sub);
}

// Find the account whose username, email or sub equals `name`. Username and email compare
// without regard to case.
function findAccountByName(name) {
  const lower = String(name).toLowerCase();
  return accounts.find((account) => account.sub === name
    || account.username.toLowerCase() === lower
    || (account.claims.email ?? '').toLowerCase() === lower);
}

function checkPassword(account, password) {
  const expected = Buffer.from(account.password);
  const provided = Buffer.from(String(password ?? ''));
  return expected.length === provided.length && crypto.timingSafeEqual(expected, provided);
}

function acrFor(amr) {
  return amr === 'pwd' ? ACR_PASSWORD : ACR_BIOMETRIC;
}

// ---------------------------------------------------------------------------
// HTML pages. They load nothing from outside: no fonts, scripts or style sheets.

function escapeHtml(value) {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

// Build a whole page. `result` goes into a data-result attribute that approve.js reads to
// tell the pages apart: input, confirm, login, success, aborted, error, and so on.
function page(title, result, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: sans-serif; max-width: 28em; margin: 2em auto; padding: 0 1em; }
label { display: block; margin: 0.8em 0; }
input, select { display: block; width: 100%; padding: 0.3em; box-sizing: border-box; }
button { margin: 0.5em 0.5em 0 0; padding: 0.4em 1em; }
.error { color: #a00; }
code { font-size: 1.5em; }
</style>
</head>
<body>
<main id="page" data-result="${escapeHtml(result)}">
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

// Map a device-flow error from oidc-provider to a data-result value and a message.
function describeDeviceError(err) {
  switch (err?.name) {
    case undefined:
      return ['input', 'Enter the code shown on your device.'];
    case 'NoCodeError':
      return ['invalid-code', 'No code was entered. Enter the code shown on your device.'];
    case 'NotFoundError':
      return ['invalid-code', 'The code was not found. Check it and try again.'];
    case 'ExpiredError':
      return ['expired', 'The code has expired. Start the sign-in on your device again.'];
    case 'AlreadyUsedError':
      return ['already-used', 'The code has already been used.'];
    case 'AbortedError':
      return ['aborted', 'The sign-in request was aborted. You can close this page.'];
    default:
      return ['error', 'The request failed. Start the sign-in on your device again.'];
  }
}

async function userCodeInputSource(ctx, form, out, err) {
  const [result, message] = describeDeviceError(err);
  const cssClass = result === 'input' ? '' : ' class="error"';
  const details = out?.error ? `<p>Error: <span id="error">${escapeHtml(out.error)}</span></p>` : '';
  ctx.type = 'html';
  ctx.body = page('Device sign-in', result, `<p${cssClass}>${escapeHtml(message)}</p>
${details}
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`);
}

async function userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
  const clientName = client.clientName || client.clientId;
  ctx.type = 'html';
  ctx.body = page('Confirm device', 'confirm', `<p><strong>${escapeHtml(clientName)}</strong> asks to sign you in.</p>
<p>Check that your device shows this code:</p>
<p><code>${escapeHtml(userCode)}</code></p>
<p>If you did not start this sign-in or the code differs, press Abort.</p>
${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`);
}

async function successSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Sign-in complete', 'success',
    '<p>You are signed in. You can close this page and return to your device.</p>');
}

async function logoutSource(ctx, form) {
  ctx.type = 'html';
  ctx.body = page('Sign out', 'logout', `<p>Do you want to sign out of ${escapeHtml(ctx.host)}?</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', 'logged-out', '<p>You are signed out.</p>');
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  const rows = Object.entries(out)
    .map(([key, value]) => `<p><strong>${escapeHtml(key)}</strong>: <span id="${escapeHtml(key)}">${escapeHtml(value)}</span></p>`)
    .join('\n');
  ctx.body = page('Request failed', 'error', rows);
}

function loginPage(uid, { username = '', message = '', result = 'login' } = {}) {
  const options = Object.entries(AMR_CHOICES)
    .map(([value, label]) => `<option value="${value}"${value === 'fpt' ? ' selected' : ''}>${escapeHtml(label)}</option>`)
    .join('\n');
  const notice = message ? `<p class="error">${escapeHtml(message)}</p>` : '';
  return page('Sign in to UltraAuth (test)', result, `${notice}
<form method="post" action="/interaction/${encodeURIComponent(uid)}/login">
<label>Username <input name="username" value="${escapeHtml(username)}" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<label>Authentication method <select name="amr">
${options}
</select></label>
<button type="submit">Sign in</button>
<button type="submit" name="abort" value="yes" formnovalidate>Abort</button>
</form>
<section id="webauthn">
<h2>Or use a passkey</h2>
<button type="button" id="webauthn-login"
 data-options-url="/interaction/${encodeURIComponent(uid)}/webauthn/options"
 data-verify-url="/interaction/${encodeURIComponent(uid)}/webauthn/verify">Sign in with fingerprint / security key</button>
<p id="webauthn-status" role="status" data-state="idle"></p>
<p>No passkey yet? <a href="/webauthn/register" target="_blank">Register one</a> with your password.</p>
</section>
<script src="/static/webauthn-client.js"></script>`);
}

function registrationPage() {
  return page('Register a passkey (test)', 'webauthn-register', `<p>Sign in with your password, then follow your
device (fingerprint sensor, face unlock or security key) to create a passkey for this provider.</p>
<form id="webauthn-register" data-options-url="/webauthn/register/options" data-verify-url="/webauthn/register/verify">
<label>Username <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Register passkey</button>
</form>
<p id="webauthn-status" role="status" data-state="idle"></p>
<p>Credential ID: <output id="webauthn-credential-id"></output></p>
<script src="/static/webauthn-client.js"></script>`);
}

// ---------------------------------------------------------------------------
// Small HTTP helpers for the pages outside /op

function sendHtml(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

function sendJson(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(value));
}

// Read a urlencoded or JSON request body into a plain object of strings.
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw Object.assign(new Error(`request body exceeds ${MAX_BODY_BYTES} bytes`), { status: 413 });
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') {
    return {};
  }

  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('application/json')) {
    try {
      return JSON.parse(text);
    } catch {
      throw Object.assign(new Error('request body is not valid JSON'), { status: 400 });
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}

// ---------------------------------------------------------------------------
// Grants. Signing in also records consent for every scope and claim that the client
// requested, so the provider shows no consent page.

function requestedClaimNames(claimsParameter) {
  if (!claimsParameter) {
    return [];
  }
  const claims = typeof claimsParameter === 'string' ? JSON.parse(claimsParameter) : claimsParameter;
  return [...Object.keys(claims.id_token ?? {}), ...Object.keys(claims.userinfo ?? {})];
}

async function saveGrantFor(provider, { grantId, accountId, clientId, scope, claims }) {
  let grant = grantId ? await provider.Grant.find(grantId) : undefined;
  if (!grant || grant.accountId !== accountId) {
    grant = new provider.Grant({ accountId, clientId });
  }
  if (scope) {
    grant.addOIDCScope(scope);
  }
  const claimNames = requestedClaimNames(claims);
  if (claimNames.length > 0) {
    grant.addOIDCClaims(claimNames);
  }
  return grant.save();
}

// ---------------------------------------------------------------------------
// Login page (the interaction for the code flow and the device flow)

async function showInteraction(provider, req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    sendHtml(res, 400, page('Request failed', 'error', '<p>This sign-in page does not match your session. Start again.</p>'));
    return;
  }

  if (details.prompt.name === 'login') {
    const username = details.params.login_hint ?? '';
    sendHtml(res, 200, loginPage(uid, { username }));
    return;
  }

  // Any other prompt is consent for an already signed-in user: grant what was requested.
  const grantId = await saveGrantFor(provider, {
    grantId: details.grantId,
    accountId: details.session.accountId,
    clientId: details.params.client_id,
    scope: details.params.scope,
    claims: details.params.claims,
  });
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function submitLogin(provider, req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    sendHtml(res, 400, page('Request failed', 'error', '<p>This sign-in page does not match your session. Start again.</p>'));
    return;
  }
  const form = await readBody(req);

  if (form.abort) {
    process.stderr.write(`op: interaction ${uid} aborted by the user\n`);
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted the sign-in',
    }, { mergeWithLastSubmission: false });
    return;
  }

  const amr = form.amr || 'fpt';
  if (!Object.hasOwn(AMR_CHOICES, amr)) {
    process.stderr.write(`op: login rejected for interaction ${uid}: unknown amr value "${amr}"\n`);
    sendHtml(res, 400, loginPage(uid, {
      username: form.username,
      message: `Unknown authentication method "${amr}". Choose one from the list.`,
      result: 'login-failed',
    }));
    return;
  }

  const account = findAccountByName(form.username ?? '');
  if (!account || !checkPassword(account, form.password)) {
    process.stderr.write(`op: login failed for username "${form.username ?? ''}"\n`);
    sendHtml(res, 200, loginPage(uid, {
      username: form.username,
      message: 'Invalid username or password.',
      result: 'login-failed',
    }));
    return;
  }

  const grantId = await saveGrantFor(provider, {
    grantId: details.grantId,
    accountId: account.sub,
    clientId: details.params.client_id,
    scope: details.params.scope,
    claims: details.params.claims,
  });

  process.stderr.write(`op: login ${account.username} amr=${amr}\n`);
  await provider.interactionFinished(req, res, {
    // remember: false makes the session cookie a browser-session cookie.
    login: { accountId: account.sub, amr: [amr], acr: acrFor(amr), remember: false },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

// ---------------------------------------------------------------------------
// WebAuthn: passkey registration, and sign-in with a passkey on the login page. Every
// handler here answers JSON, errors included, because the page's script reads it.

async function loginInteractionFor(provider, req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid || details.prompt.name !== 'login') {
    throw new WebAuthnError(400, 'invalid_request', 'This sign-in page does not match your session. Start again.');
  }
  return details;
}

async function sendWebAuthnSignInOptions(provider, webauthn, req, res, uid) {
  await loginInteractionFor(provider, req, res, uid);
  sendJson(res, 200, await webauthn.signInOptions(uid));
}

async function finishWebAuthnSignIn(provider, webauthn, req, res, uid) {
  const details = await loginInteractionFor(provider, req, res, uid);
  const assertion = await readBody(req);
  const accountId = await webauthn.signIn(uid, assertion);
  const account = findAccountBySub(accountId);

  const grantId = await saveGrantFor(provider, {
    grantId: details.grantId,
    accountId,
    clientId: details.params.client_id,
    scope: details.params.scope,
    claims: details.params.claims,
  });

  process.stderr.write(`op: login ${account.username} with a passkey amr=${WEBAUTHN_AMR.join(',')}\n`);
  // interactionResult returns the URL that resumes the authorization instead of sending a
  // redirect, so the page's script can navigate there.
  const redirect = await provider.interactionResult(req, res, {
    login: { accountId, amr: WEBAUTHN_AMR, acr: ACR_BIOMETRIC, remember: false },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
  sendJson(res, 200, { redirect });
}

async function sendWebAuthnRegistrationOptions(webauthn, req, res) {
  const form = await readBody(req);
  const account = findAccountByName(form.username ?? '');
  if (!account || !checkPassword(account, form.password)) {
    process.stderr.write(`op: passkey registration refused for username "${form.username ?? ''}": invalid username or password\n`);
    throw new WebAuthnError(401, 'invalid_credentials', 'Invalid username or password.');
  }
  sendJson(res, 200, await webauthn.registrationOptions(account));
}

async function finishWebAuthnRegistration(webauthn, req, res) {
  const attestation = await readBody(req);
  const { id, accountId } = await webauthn.register(attestation);
  const { username } = findAccountBySub(accountId);
  process.stderr.write(`op: passkey registered for ${username}\n`);
  sendJson(res, 200, { id, username });
}

// Run one WebAuthn handler and turn any error into a JSON error response.
async function answerWebAuthn(res, handler) {
  try {
    await handler();
  } catch (err) {
    const status = err.status ?? err.statusCode ?? 500;
    if (err instanceof WebAuthnError) {
      process.stderr.write(`op: WebAuthn request rejected: ${err.code}: ${err.message}\n`);
    } else if (status >= 500) {
      process.stderr.write(`op: WebAuthn request failed: ${err.stack ?? err}\n`);
    }
    if (!res.headersSent) {
      sendJson(res, status, {
        error: err.code ?? err.error ?? 'server_error',
        error_description: err.error_description ?? err.message,
      });
    }
  }
}

// ---------------------------------------------------------------------------
// CIBA: the user's authentication device is simulated by the /test-device pages.

// Pending CIBA requests by auth_req_id. triggerAuthenticationDevice adds them, approve
// and deny remove them, and expired ones are dropped when the list is read.
const pendingCibaRequests = new Map();

function cibaHooks() {
  return {
    enabled: true,
    deliveryModes: ['poll'],

    async processLoginHint(ctx, loginHint) {
      return findAccountByName(loginHint)?.sub;
    },

    async verifyUserCode(ctx, account, userCode) {
      // The client does not register backchannel_user_code_parameter, so a user_code is
      // ignored. oidc-provider 9 still advertises backchannel_user_code_parameter_supported.
    },

    async validateBindingMessage(ctx, bindingMessage) {
      if (bindingMessage === undefined) {
        return;
      }
      if (bindingMessage.length === 0 || bindingMessage.length > 64 || /[\p{Cc}]/u.test(bindingMessage)) {
        throw new errors.InvalidBindingMessage('binding_message must be 1-64 characters without control characters');
      }
    },

    async validateRequestContext(ctx, requestContext) {
      if (requestContext !== undefined && requestContext.length > 2048) {
        throw new errors.InvalidRequest('request_context must not exceed 2048 characters');
      }
    },

    async triggerAuthenticationDevice(ctx, request, account) {
      const entry = {
        id: request.jti,
        accountId: account.accountId,
        username: findAccountBySub(account.accountId)?.username,
        bindingMessage: request.params.binding_message ?? null,
        scope: request.scope,
        expiresAt: request.exp,
      };
      pendingCibaRequests.set(entry.id, entry);
      process.stderr.write(`op: CIBA request pending for ${entry.username}\n`);
    },
  };
}

function listPendingCibaRequests() {
  const now = Math.floor(Date.now() / 1000);
  for (const [id, entry] of pendingCibaRequests) {
    if (entry.expiresAt <= now) {
      pendingCibaRequests.delete(id);
    }
  }
  return [...pendingCibaRequests.values()].map(({ expiresAt, ...entry }) => entry);
}

async function finishCibaRequest(provider, req, res, id, action) {
  const body = await readBody(req);
  const amr = body.amr || 'fpt';
  if (action === 'approve' && !Object.hasOwn(AMR_CHOICES, amr)) {
    process.stderr.write(`op: CIBA approve rejected: unknown amr value "${amr}"\n`);
    sendJson(res, 400, { error: 'invalid_request', error_description: `unknown amr value "${amr}"` });
    return;
  }

  const request = await provider.BackchannelAuthenticationRequest.find(id);
  if (!request || !pendingCibaRequests.has(id)) {
    process.stderr.write(`op: CIBA ${action} failed: no pending request with that id\n`);
    sendJson(res, 404, { error: 'not_found', error_description: `no pending CIBA request with id ${id}` });
    return;
  }
  const username = pendingCibaRequests.get(id).username;
  pendingCibaRequests.delete(id);

  if (action === 'deny') {
    await provider.backchannelResult(request, new errors.AccessDenied('End-User denied the request'));
    process.stderr.write(`op: CIBA request for ${username} denied\n`);
    sendJson(res, 200, { id, result: 'denied' });
    return;
  }

  const grantId = await saveGrantFor(provider, {
    accountId: request.accountId,
    clientId: request.clientId,
    scope: request.scope,
    claims: request.claims,
  });
  await provider.backchannelResult(request, grantId, {
    amr: [amr],
    acr: acrFor(amr),
    authTime: Math.floor(Date.now() / 1000),
  });
  process.stderr.write(`op: CIBA request for ${username} approved amr=${amr}\n`);
  sendJson(res, 200, { id, result: 'approved', amr: [amr] });
}

// ---------------------------------------------------------------------------
// Provider

function generateKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return [
    { ...rsa.export({ format: 'jwk' }), kid: `rs256-${crypto.randomUUID()}`, alg: 'RS256', use: 'sig' },
    { ...ec.export({ format: 'jwk' }), kid: `es256-${crypto.randomUUID()}`, alg: 'ES256', use: 'sig' },
  ];
}

function createProvider(issuer, settings) {
  const configuration = {
    clients: [{
      client_id: settings.clientId,
      client_secret: settings.clientSecret,
      client_name: 'ultraauth test client',
      redirect_uris: settings.redirectUris,
      grant_types: [
        'authorization_code',
        'urn:ietf:params:oauth:grant-type:device_code',
        'urn:openid:params:grant-type:ciba',
      ],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      backchannel_token_delivery_mode: 'poll',
      id_token_signed_response_alg: settings.idTokenAlg,
    }],
    jwks: { keys: generateKeys() },
    cookies: {
      keys: ['ultraauth-test-cookie-key-1', 'ultraauth-test-cookie-key-2'],
    },
    acrValues: [ACR_BIOMETRIC, ACR_PASSWORD],
    scopes: ['openid', 'email', 'profile'],
    // amr, acr and auth_time are listed under openid, or they do not reach the ID token.
    claims: {
      openid: ['sub', 'amr', 'acr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name', 'groups'],
    },
    // Put the profile and email claims into the ID token too, not only into userinfo.
    conformIdTokenClaims: false,
    async findAccount(ctx, sub) {
      const account = findAccountBySub(sub);
      if (!account) {
        return undefined;
      }
      return {
        accountId: account.sub,
        async claims() {
          return { sub: account.sub, ...account.claims };
        },
      };
    },
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource,
        userCodeConfirmSource,
        successSource,
      },
      ciba: cibaHooks(),
      rpInitiatedLogout: {
        enabled: true,
        logoutSource,
        postLogoutSuccessSource,
      },
    },
    renderError,
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      BackchannelAuthenticationRequest(ctx) {
        const requested = Number(ctx?.oidc?.params?.requested_expiry);
        return requested > 0 ? Math.min(settings.cibaTtl, requested) : settings.cibaTtl;
      },
      ClientCredentials: 600,
      DeviceCode: settings.deviceTtl,
      Grant: 86400,
      IdToken: settings.idTokenTtl,
      Interaction: 3600,
      PreAuthorizedCode: 600,
      RefreshToken: 86400,
      Session: 86400,
    },
  };

  const provider = new Provider(issuer, configuration);

  if (settings.pollInterval !== undefined) {
    provider.use(async (ctx, next) => {
      await next();
      const route = ctx.oidc?.route;
      if ((route === 'device_authorization' || route === 'backchannel_authentication')
        && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
        ctx.body.interval = settings.pollInterval;
      }
    });
  }

  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`op: server error on ${ctx.method} ${ctx.path}: ${err.stack ?? err}\n`);
  });

  return provider;
}

// ---------------------------------------------------------------------------
// HTTP server

function logRequest(req, res) {
  const started = Date.now();
  res.on('finish', () => {
    // Only the path: query strings can carry codes, state and hints.
    const pathname = (req.originalUrl ?? req.url).split('?')[0];
    process.stderr.write(`${req.method} ${pathname} ${res.statusCode} ${Date.now() - started}ms\n`);
  });
}

const STATIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'static');

async function routeTestPage(provider, webauthn, req, res, pathname) {
  if ((pathname.startsWith('/test-device/') || pathname.startsWith('/webauthn/'))
    && !isLoopbackAddress(req.socket.remoteAddress)) {
    process.stderr.write(`op: rejected ${pathname} from non-loopback address ${req.socket.remoteAddress}\n`);
    sendJson(res, 403, { error: 'forbidden', error_description: 'test pages answer loopback clients only' });
    return;
  }

  if (pathname === '/static/webauthn-client.js' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
    res.end(fs.readFileSync(path.join(STATIC_DIR, 'webauthn-client.js')));
    return;
  }

  const signInMatch = /^\/interaction\/([\w-]+)\/webauthn\/(options|verify)$/.exec(pathname);
  if (signInMatch && req.method === 'POST') {
    const [, uid, step] = signInMatch;
    await answerWebAuthn(res, () => (step === 'options'
      ? sendWebAuthnSignInOptions(provider, webauthn, req, res, uid)
      : finishWebAuthnSignIn(provider, webauthn, req, res, uid)));
    return;
  }

  if (pathname === '/webauthn/register' && req.method === 'GET') {
    sendHtml(res, 200, registrationPage());
    return;
  }

  const registerMatch = /^\/webauthn\/register\/(options|verify)$/.exec(pathname);
  if (registerMatch && req.method === 'POST') {
    await answerWebAuthn(res, () => (registerMatch[1] === 'options'
      ? sendWebAuthnRegistrationOptions(webauthn, req, res)
      : finishWebAuthnRegistration(webauthn, req, res)));
    return;
  }

  if (pathname === '/test-device/webauthn/credentials' && req.method === 'GET') {
    sendJson(res, 200, webauthn.listCredentials());
    return;
  }

  let match = /^\/interaction\/([\w-]+)$/.exec(pathname);
  if (match && req.method === 'GET') {
    await showInteraction(provider, req, res, match[1]);
    return;
  }

  match = /^\/interaction\/([\w-]+)\/login$/.exec(pathname);
  if (match && req.method === 'POST') {
    await submitLogin(provider, req, res, match[1]);
    return;
  }

  if (pathname === '/test-device/requests' && req.method === 'GET') {
    sendJson(res, 200, listPendingCibaRequests());
    return;
  }

  match = /^\/test-device\/requests\/([\w-]+)\/(approve|deny)$/.exec(pathname);
  if (match && req.method === 'POST') {
    await finishCibaRequest(provider, req, res, match[1], match[2]);
    return;
  }

  sendHtml(res, 404, page('Not found', 'not-found', `<p>No page at ${escapeHtml(pathname)}.</p>`));
}

function createRequestHandler(provider, webauthn, issuerUrl) {
  const providerCallback = provider.callback();

  return async (req, res) => {
    logRequest(req, res);
    const pathname = req.url.split('?')[0];

    if (pathname === '/op' || pathname.startsWith('/op/')) {
      // oidc-provider takes the mount path from req.originalUrl. The Host header is set to
      // the issuer's, so endpoint URLs in discovery always match the issuer.
      req.originalUrl = req.url;
      req.url = req.url.slice('/op'.length) || '/';
      req.headers.host = issuerUrl.host;
      providerCallback(req, res);
      return;
    }

    try {
      await routeTestPage(provider, webauthn, req, res, pathname);
    } catch (err) {
      // interactionDetails raises SessionNotFound (400) when the interaction cookie is
      // missing or expired.
      const status = err.status ?? err.statusCode ?? 500;
      if (status >= 500) {
        process.stderr.write(`op: error on ${req.method} ${pathname}: ${err.stack ?? err}\n`);
      }
      if (!res.headersSent) {
        const description = err.error_description ?? err.message;
        sendHtml(res, status, page('Request failed', 'error',
          `<p><strong>error</strong>: <span id="error">${escapeHtml(err.error ?? 'server_error')}</span></p>
<p><strong>error_description</strong>: <span id="error_description">${escapeHtml(description)}</span></p>`));
      } else {
        res.end();
      }
    }
  };
}

function main() {
  const settings = readSettings();
  const server = http.createServer();

  server.on('error', (err) => fail(`cannot listen on ${settings.host}:${settings.port}: ${err.message}`));

  // The issuer must contain the real port, so the provider is built once the port is known.
  server.listen(settings.port, settings.host, () => {
    const { port } = server.address();
    const hostPart = settings.issuerHost.includes(':') ? `[${settings.issuerHost}]` : settings.issuerHost;
    const issuer = `http://${hostPart}:${port}/op`;
    const provider = createProvider(issuer, settings);
    const webauthn = new WebAuthnStore(issuer, { findAccountBySub });
    if (!webauthn.rpIdUsable) {
      process.stderr.write(`op: browsers reject the IP address ${webauthn.rpId} as WebAuthn relying party ID, `
        + 'so passkeys work only through approve.js; start with --issuer-host localhost for a browser\n');
    }

    server.on('request', createRequestHandler(provider, webauthn, new URL(issuer)));
    process.stdout.write(`READY ${issuer}\n`);
  });

  const stop = (signal) => {
    process.stderr.write(`op: ${signal} received, stopping\n`);
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
