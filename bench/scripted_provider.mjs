#!/usr/bin/env node
// A scripted OpenID Connect provider for the benchmark: discovery, JWKS, the device
// authorization endpoint and a token endpoint that returns authorization_pending until
// the benchmark approves the user code, then a real signed ID token (RS256 or ES256).
//
// The bundled test provider (npm oidc-provider with its in-memory adapter) keeps at most
// about 2,000 objects, so it cannot hold 10,000 device flows, as docs/benchmarks.md
// shows. This one keeps each flow in a Map until its tokens are issued or it expires, and
// uses only Node's own http and crypto modules.
//
// Usage: node bench/scripted_provider.mjs [--port N] [--device-ttl SECONDS]
//                                         [--client-id ID] [--client-secret SECRET]
//                                         [--id-token-alg RS256|ES256]
//
// RS256 (2048-bit key, the default) is what most providers sign with. ES256 signs about
// 30 times faster in Node, for runs that approve thousands of logins at once.
//
// When it listens on 127.0.0.1 it prints one line to stdout: READY http://127.0.0.1:PORT/op
// Every request is logged to stderr as "METHOD PATH STATUS", without query strings, in
// the bundled provider's format, so the same counting works on both logs.
//
// Endpoints under the issuer: /.well-known/openid-configuration, /jwks, /device/auth
// (client_secret_basic), /token (device_code grant). Outside it, for the benchmark only:
//   POST /bench/approve  JSON [{"user_code": "...", "username": "..."}, ...]; each named
//                        code is approved for that username. Returns {"approved": N,
//                        "unknown": [codes not pending]}.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const ID_TOKEN_TTL_SECS = 3600;
const SWEEP_INTERVAL_MS = 10_000;
const USER_CODE_LETTERS = 'BCDFGHJKLMNPQRSTVWXZ'; // RFC 8628 section 6.1: no vowels
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const USERNAME_PATTERN = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}$/;

function fail(message) {
  process.stderr.write(`scripted_provider: ${message}\n`);
  process.exit(2);
}

function readSettings() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'device-ttl': { type: 'string', default: '1800' },
      'client-id': { type: 'string', default: 'ultraauth-test' },
      'client-secret': { type: 'string', default: 'test-secret-change-me' },
      'id-token-alg': { type: 'string', default: 'RS256' },
    },
  });
  const port = Number(values.port);
  const deviceTtl = Number(values['device-ttl']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`invalid --port ${values.port}: use 0-65535 (0 picks a free port)`);
  }
  if (!Number.isInteger(deviceTtl) || deviceTtl <= 0) {
    fail(`invalid --device-ttl ${values['device-ttl']}: use a positive whole number of seconds`);
  }
  const idTokenAlg = values['id-token-alg'];
  if (!['RS256', 'ES256'].includes(idTokenAlg)) {
    fail(`invalid --id-token-alg ${idTokenAlg}: use RS256 or ES256`);
  }
  return { port, deviceTtl, idTokenAlg, clientId: values['client-id'], clientSecret: values['client-secret'] };
}

function base64url(data) {
  return Buffer.from(data).toString('base64url');
}

function nowSecs() {
  return Math.floor(Date.now() / 1000);
}

// ---------------------------------------------------------------------------
// Signing key and ID tokens

function createSigningKey(alg) {
  const { privateKey, publicKey } = alg === 'ES256'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = base64url(crypto.randomBytes(8));
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return { alg, privateKey, kid, jwks: { keys: [jwk] } };
}

function signIdToken(key, claims) {
  const header = base64url(JSON.stringify({ alg: key.alg, typ: 'JWT', kid: key.kid }));
  const payload = base64url(JSON.stringify(claims));
  // A JWS ECDSA signature is r and s concatenated (RFC 7518 section 3.4), not DER.
  const signature = crypto.sign('sha256', Buffer.from(`${header}.${payload}`), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${base64url(signature)}`;
}

// ---------------------------------------------------------------------------
// Device flows: device_code -> { userCode, expiresAt (ms), idToken (once approved) }

class DeviceFlows {
  constructor(ttlSecs) {
    this.ttlMs = ttlSecs * 1000;
    this.byDeviceCode = new Map();
    this.byUserCode = new Map();
    setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  start() {
    const deviceCode = base64url(crypto.randomBytes(32));
    let userCode;
    do {
      userCode = randomUserCode();
    } while (this.byUserCode.has(userCode));
    this.byDeviceCode.set(deviceCode, { userCode, expiresAt: Date.now() + this.ttlMs, idToken: null });
    this.byUserCode.set(userCode, deviceCode);
    return { deviceCode, userCode };
  }

  findPending(userCode) {
    const deviceCode = this.byUserCode.get(userCode);
    const flow = deviceCode && this.byDeviceCode.get(deviceCode);
    return flow && flow.expiresAt > Date.now() && flow.idToken === null ? flow : undefined;
  }

  // Returns the flow, and removes it once its tokens are issued.
  take(deviceCode) {
    const flow = this.byDeviceCode.get(deviceCode);
    if (flow && flow.idToken !== null) {
      this.forget(deviceCode, flow);
    }
    return flow;
  }

  forget(deviceCode, flow) {
    this.byDeviceCode.delete(deviceCode);
    this.byUserCode.delete(flow.userCode);
  }

  sweep() {
    const now = Date.now();
    for (const [deviceCode, flow] of this.byDeviceCode) {
      if (flow.expiresAt <= now) {
        this.forget(deviceCode, flow);
      }
    }
  }
}

function randomUserCode() {
  const bytes = crypto.randomBytes(8);
  const letters = [...bytes].map((byte) => USER_CODE_LETTERS[byte % USER_CODE_LETTERS.length]);
  return `${letters.slice(0, 4).join('')}-${letters.slice(4).join('')}`;
}

// ---------------------------------------------------------------------------
// HTTP

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function oauthError(res, status, error, description) {
  sendJson(res, status, { error, error_description: description });
}

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
  return Buffer.concat(chunks).toString('utf8');
}

// client_secret_basic (RFC 6749 section 2.3.1): both parts are form-urlencoded.
function clientAuthenticated(req, settings) {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) {
    return false;
  }
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator < 0) {
    return false;
  }
  const formDecode = (text) => decodeURIComponent(text.replace(/\+/g, ' '));
  try {
    return formDecode(decoded.slice(0, separator)) === settings.clientId && formDecode(decoded.slice(separator + 1)) === settings.clientSecret;
  } catch {
    return false;
  }
}

function discoveryDocument(issuer, alg) {
  return {
    issuer,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    device_authorization_endpoint: `${issuer}/device/auth`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [alg],
    grant_types_supported: [DEVICE_CODE_GRANT],
    token_endpoint_auth_methods_supported: ['client_secret_basic'],
    scopes_supported: ['openid', 'profile'],
  };
}

function handleDeviceAuthorization(req, res, body, context) {
  if (!clientAuthenticated(req, context.settings)) {
    oauthError(res, 401, 'invalid_client', 'client authentication failed');
    return;
  }
  const scope = new URLSearchParams(body).get('scope') ?? '';
  if (!scope.split(' ').includes('openid')) {
    oauthError(res, 400, 'invalid_scope', 'the openid scope is required');
    return;
  }
  const { deviceCode, userCode } = context.flows.start();
  sendJson(res, 200, {
    device_code: deviceCode,
    user_code: userCode,
    verification_uri: `${context.issuer}/device`,
    verification_uri_complete: `${context.issuer}/device?user_code=${userCode}`,
    expires_in: context.settings.deviceTtl,
  });
}

function handleToken(req, res, body, context) {
  if (!clientAuthenticated(req, context.settings)) {
    oauthError(res, 401, 'invalid_client', 'client authentication failed');
    return;
  }
  const form = new URLSearchParams(body);
  if (form.get('grant_type') !== DEVICE_CODE_GRANT) {
    oauthError(res, 400, 'unsupported_grant_type', 'only the device_code grant is supported');
    return;
  }
  const flow = context.flows.take(form.get('device_code') ?? '');
  if (!flow) {
    oauthError(res, 400, 'invalid_grant', 'device code not found');
  } else if (flow.expiresAt <= Date.now()) {
    oauthError(res, 400, 'expired_token', 'device code expired');
  } else if (flow.idToken === null) {
    oauthError(res, 400, 'authorization_pending', 'the user has not approved yet');
  } else {
    sendJson(res, 200, {
      access_token: base64url(crypto.randomBytes(24)),
      token_type: 'Bearer',
      expires_in: ID_TOKEN_TTL_SECS,
      scope: 'openid profile',
      id_token: flow.idToken,
    });
  }
}

// Approves the listed user codes. The ID token is signed here rather than at the token
// endpoint, so a mass approval does not stall the polls that follow it.
function handleApprove(res, body, context) {
  let requests;
  try {
    requests = JSON.parse(body);
  } catch {
    sendJson(res, 400, { error: 'request body is not valid JSON' });
    return;
  }
  if (!Array.isArray(requests)) {
    sendJson(res, 400, { error: 'expected a JSON array of {user_code, username}' });
    return;
  }

  let approved = 0;
  const unknown = [];
  for (const { user_code: userCode, username } of requests) {
    if (typeof username !== 'string' || !USERNAME_PATTERN.test(username)) {
      sendJson(res, 400, { error: `invalid username ${JSON.stringify(username)}: use a local username` });
      return;
    }
    const flow = context.flows.findPending(userCode);
    if (!flow) {
      unknown.push(userCode);
      continue;
    }
    const issuedAt = nowSecs();
    flow.idToken = signIdToken(context.key, {
      iss: context.issuer,
      sub: `sub-${username}`,
      aud: context.settings.clientId,
      iat: issuedAt,
      exp: issuedAt + ID_TOKEN_TTL_SECS,
      auth_time: issuedAt,
      amr: ['fpt'],
      acr: 'urn:ultraauth:acr:biometric',
      preferred_username: username,
    });
    approved += 1;
  }
  sendJson(res, 200, { approved, unknown });
}

function isLoopback(address) {
  const plain = address?.startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || /^127\.\d+\.\d+\.\d+$/.test(plain ?? '');
}

async function route(req, res, context) {
  const pathname = req.url.split('?')[0];
  const route = `${req.method} ${pathname}`;

  if (!isLoopback(req.socket.remoteAddress)) {
    sendJson(res, 403, { error: 'this benchmark provider answers loopback clients only' });
    return;
  }
  if (route === 'GET /op/.well-known/openid-configuration') {
    sendJson(res, 200, discoveryDocument(context.issuer, context.key.alg));
  } else if (route === 'GET /op/jwks') {
    sendJson(res, 200, context.key.jwks);
  } else if (route === 'POST /op/device/auth') {
    handleDeviceAuthorization(req, res, await readBody(req), context);
  } else if (route === 'POST /op/token') {
    handleToken(req, res, await readBody(req), context);
  } else if (route === 'POST /bench/approve') {
    handleApprove(res, await readBody(req), context);
  } else {
    sendJson(res, 404, { error: `no endpoint ${route}` });
  }
}

function main() {
  const settings = readSettings();
  const server = http.createServer();
  server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${settings.port}: ${err.message}`));

  server.listen(settings.port, '127.0.0.1', () => {
    const issuer = `http://127.0.0.1:${server.address().port}/op`;
    const context = { settings, issuer, key: createSigningKey(settings.idTokenAlg), flows: new DeviceFlows(settings.deviceTtl) };

    server.on('request', (req, res) => {
      res.on('finish', () => process.stderr.write(`${req.method} ${req.url.split('?')[0]} ${res.statusCode}\n`));
      route(req, res, context).catch((err) => {
        if (!res.headersSent) {
          sendJson(res, err.status ?? 500, { error: err.message });
        }
      });
    });
    process.stdout.write(`READY ${issuer}\n`);
  });

  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      server.close();
      server.closeAllConnections();
      process.exit(0);
    });
  }
}

main();
