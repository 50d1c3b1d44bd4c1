#!/usr/bin/env node
// A hostile OpenID Connect provider for ultraauth's security tests.
//
// It serves discovery, JWKS, device authorization, CIBA, token and userinfo endpoints under
// /op, like the bundled provider, but with node:http and node:crypto only. Each start takes
// one scenario that sets how it misbehaves: how the ID token is signed (RS256, PS256, ES256,
// EdDSA, HS256 keyed with the RSA public key, alg none, a tampered payload), which claims it
// carries, what the JWKS looks like, and which endpoint hangs or answers garbage. The token
// endpoint approves at once, so a device login needs no browser.
//
// Usage: HOSTILE_SCENARIO='{"alg":"ES256"}' node provider.js
//
// It listens on 127.0.0.1 on a free port and prints one line to stdout:
//   READY http://127.0.0.1:PORT/op
// Every request goes to stderr as "METHOD PATH STATUS", followed for POSTs by a line
// "PARAMS PATH key=value ..." with the form fields other than codes and secrets.
//
// Scenario fields (all optional):
//   alg               RS256 (default), PS256, ES256, EdDSA, HS256-public-key, none
//   claims            object merged over the default claims; a null value removes the claim.
//                     The string "$ISSUER" inside a value is replaced by the issuer.
//   iat_offset, exp_offset, auth_time_offset
//                     seconds added to now for iat (0), exp (300) and auth_time (0)
//   tamper            true: change the payload after signing, so the signature fails
//   token_kid         kid written into the token header instead of the signing key's
//   jwks              "plain" (default): the signing key with alg, use and kid;
//                     "messy": the signing key without alg and use, next to an encryption
//                     key, a key without kty and a string entry
//   rotate            true: the first JWKS response holds an older key only; later ones
//                     hold the key that signs the tokens
//   userinfo          object returned by the userinfo endpoint ("$ISSUER" expanded)
//   fault             {"endpoint": "discovery" | "jwks" | "device" | "token" | "userinfo",
//                      "kind": "hang" | "500" | "html" | "huge" | "huge_chunked" | "shape"}
//   pending_polls     token polls answered authorization_pending before tokens are issued
//   sub_sequence      list of subs used in turn by successive ID tokens (after "claims")

import * as crypto from 'node:crypto';
import * as http from 'node:http';

const CLIENT_ID = process.env.HOSTILE_CLIENT_ID || 'ultraauth-test';
const HUGE_BODY_BYTES = 10 * 1024 * 1024;
const MAX_REQUEST_BODY = 64 * 1024;

// Hanging connections are closed after this long, so the process never keeps a socket
// forever when a client does not time out.
const HANG_LIMIT_MS = 120_000;

console.log = console.error;

function fail(message) {
  process.stderr.write(`provider.js: ${message}\n`);
  process.exit(2);
}

let scenario;
try {
  scenario = JSON.parse(process.env.HOSTILE_SCENARIO || '{}');
} catch (err) {
  fail(`HOSTILE_SCENARIO is not JSON: ${err.message}`);
}

const KNOWN_FIELDS = ['alg', 'claims', 'iat_offset', 'exp_offset', 'auth_time_offset', 'tamper', 'token_kid', 'jwks', 'rotate', 'userinfo', 'fault', 'pending_polls', 'sub_sequence'];
for (const key of Object.keys(scenario)) {
  if (!KNOWN_FIELDS.includes(key)) {
    fail(`unknown scenario field "${key}"; known are ${KNOWN_FIELDS.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------
// Keys

// Creates a key pair of the type an algorithm needs; `kid` names it in the JWKS.
function makeKey(alg, kid) {
  let pair;
  let jwsAlg = alg;
  switch (alg) {
    case 'RS256':
    case 'PS256':
    case 'HS256-public-key':
      pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      if (alg === 'HS256-public-key') {
        jwsAlg = 'RS256';
      }
      break;
    case 'ES256':
      pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      break;
    case 'EdDSA':
    case 'none':
      pair = crypto.generateKeyPairSync('ed25519');
      if (alg === 'none') {
        jwsAlg = 'EdDSA';
      }
      break;
    default:
      fail(`unknown alg "${alg}"`);
  }
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg: jwsAlg, use: 'sig' };
  return { ...pair, jwk, jwsAlg };
}

const alg = scenario.alg || 'RS256';
const signingKey = makeKey(alg, scenario.rotate ? 'rotated-key' : 'signing-key');
const olderKey = scenario.rotate ? makeKey(alg, 'older-key') : null;
let jwksServed = 0;
let tokensIssued = 0;

function jwksDocument() {
  jwksServed += 1;
  if (olderKey && jwksServed === 1) {
    return { keys: [olderKey.jwk] };
  }
  if (scenario.jwks === 'messy') {
    const { alg: _alg, use: _use, ...bare } = signingKey.jwk;
    const encryption = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    return {
      keys: [
        { ...encryption, kid: 'encryption-key', use: 'enc', alg: 'ECDH-ES' },
        { kid: 'broken-key', n: 'not base64 !!', e: 42 },
        'not a key at all',
        bare,
      ],
    };
  }
  return { keys: [signingKey.jwk] };
}

// ---------------------------------------------------------------------------
// ID tokens

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

function expand(value, issuer) {
  if (typeof value === 'string') {
    return value.replaceAll('$ISSUER', issuer);
  }
  if (Array.isArray(value)) {
    return value.map((item) => expand(item, issuer));
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expand(item, issuer)]));
  }
  return value;
}

function idTokenClaims(issuer) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: issuer,
    aud: CLIENT_ID,
    sub: 'hostile-sub-alice',
    preferred_username: 'alice',
    iat: now + (scenario.iat_offset ?? 0),
    exp: now + (scenario.exp_offset ?? 300),
    auth_time: now + (scenario.auth_time_offset ?? 0),
    amr: ['fpt'],
    acr: 'urn:ultraauth:acr:biometric',
  };
  for (const [key, value] of Object.entries(expand(scenario.claims ?? {}, issuer))) {
    if (value === null) {
      delete claims[key];
    } else {
      claims[key] = value;
    }
  }
  if (scenario.sub_sequence) {
    claims.sub = scenario.sub_sequence[tokensIssued % scenario.sub_sequence.length];
  }
  tokensIssued += 1;
  return claims;
}

function sign(input) {
  const data = Buffer.from(input);
  switch (alg) {
    case 'RS256':
      return crypto.sign('sha256', data, signingKey.privateKey);
    case 'PS256':
      return crypto.sign('sha256', data, { key: signingKey.privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    case 'ES256':
      return crypto.sign('sha256', data, { key: signingKey.privateKey, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
      return crypto.sign(null, data, signingKey.privateKey);
    case 'HS256-public-key': {
      // The classic key-confusion forgery: HMAC keyed with the public key's PEM.
      const pem = signingKey.publicKey.export({ format: 'pem', type: 'spki' });
      return crypto.createHmac('sha256', pem).update(data).digest();
    }
    case 'none':
      return Buffer.alloc(0);
    default:
      throw new Error(`unknown alg ${alg}`);
  }
}

function headerAlg() {
  if (alg === 'HS256-public-key') {
    return 'HS256';
  }
  return alg;
}

function idToken(issuer) {
  const header = { alg: headerAlg(), typ: 'JWT', kid: scenario.token_kid ?? signingKey.jwk.kid };
  const claims = idTokenClaims(issuer);
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = b64url(sign(input));
  if (!scenario.tamper) {
    return `${input}.${signature}`;
  }
  const forged = { ...claims, preferred_username: 'root' };
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(forged))}.${signature}`;
}

// ---------------------------------------------------------------------------
// Faults

const WRONG_SHAPES = {
  discovery: { issuer: 17, token_endpoint: ['not', 'a', 'url'], jwks_uri: { nested: true } },
  jwks: { keys: { kty: 'RSA' } },
  device: { device_code: true, user_code: [], verification_uri: 3 },
  token: { id_token: { forged: true }, token_type: 5 },
  userinfo: { sub: ['hostile-sub-alice'], preferred_username: { name: 'alice' } },
};

const hanging = new Set();

// Sends the configured fault; returns false when this endpoint has none.
function sendFault(endpoint, req, res) {
  const fault = scenario.fault;
  if (!fault || fault.endpoint !== endpoint) {
    return false;
  }
  switch (fault.kind) {
    case 'hang': {
      const socket = req.socket;
      hanging.add(socket);
      socket.on('close', () => hanging.delete(socket));
      setTimeout(() => socket.destroy(), HANG_LIMIT_MS).unref();
      logRequest(req, 'hang');
      return true;
    }
    case '500':
      send(req, res, 500, 'text/plain', 'Internal Server Error');
      return true;
    case 'html':
      send(req, res, 200, 'text/html', '<!DOCTYPE html><html><body><h1>Maintenance</h1></body></html>');
      return true;
    case 'huge':
      send(req, res, 200, 'application/json', Buffer.alloc(HUGE_BODY_BYTES, 0x20));
      return true;
    case 'huge_chunked': {
      logRequest(req, 200);
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let written = 0;
      const pump = () => {
        while (written < HUGE_BODY_BYTES) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => {});
      pump();
      return true;
    }
    case 'shape':
      send(req, res, 200, 'application/json', JSON.stringify(WRONG_SHAPES[endpoint]));
      return true;
    default:
      fail(`unknown fault kind "${fault.kind}"`);
  }
  return false;
}

// ---------------------------------------------------------------------------
// HTTP

function logRequest(req, status) {
  process.stderr.write(`${req.method} ${req.url.split('?')[0]} ${status}\n`);
}

function send(req, res, status, type, body) {
  logRequest(req, status);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(req, res, status, value) {
  send(req, res, status, 'application/json', JSON.stringify(value));
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_REQUEST_BODY) {
      throw new Error('request body too large');
    }
    chunks.push(chunk);
  }
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

// Logs the form fields a test may check (acr_values, max_age, scope, binding_message),
// leaving out codes and secrets.
function logParams(path, form) {
  const hidden = ['device_code', 'auth_req_id', 'code', 'code_verifier', 'client_secret'];
  const shown = Object.entries(form)
    .filter(([key]) => !hidden.includes(key))
    .map(([key, value]) => `${key}=${encodeURIComponent(value)}`);
  process.stderr.write(`PARAMS ${path} ${shown.join(' ')}\n`);
}

let pendingPolls = scenario.pending_polls ?? 0;

function handle(req, res, issuer) {
  const path = req.url.split('?')[0];
  const routes = {
    'GET /op/.well-known/openid-configuration': ['discovery', () => sendJson(req, res, 200, discovery(issuer))],
    'GET /op/jwks': ['jwks', () => sendJson(req, res, 200, jwksDocument())],
    'POST /op/device/auth': ['device', () => deviceAuthorization(req, res, issuer)],
    'POST /op/backchannel': ['device', () => backchannel(req, res)],
    'POST /op/token': ['token', () => token(req, res, issuer)],
    'GET /op/me': ['userinfo', () => sendJson(req, res, 200, expand(scenario.userinfo ?? { sub: 'hostile-sub-alice', preferred_username: 'alice' }, issuer))],
  };
  const route = routes[`${req.method} ${path}`];
  if (!route) {
    sendJson(req, res, 404, { error: 'not_found' });
    return;
  }
  const [endpoint, serve] = route;
  if (sendFault(endpoint, req, res)) {
    return;
  }
  Promise.resolve(serve()).catch((err) => {
    process.stderr.write(`provider.js: ${req.method} ${path} failed: ${err.message}\n`);
    if (!res.headersSent) {
      sendJson(req, res, 400, { error: 'invalid_request' });
    }
  });
}

function discovery(issuer) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/me`,
    jwks_uri: `${issuer}/jwks`,
    device_authorization_endpoint: `${issuer}/device/auth`,
    backchannel_authentication_endpoint: `${issuer}/backchannel`,
    backchannel_token_delivery_modes_supported: ['poll'],
    // A compromised provider advertises what it would like the client to accept.
    id_token_signing_alg_values_supported: ['RS256', 'PS256', 'ES256', 'EdDSA', 'HS256', 'none'],
    grant_types_supported: ['urn:ietf:params:oauth:grant-type:device_code', 'urn:openid:params:grant-type:ciba'],
  };
}

async function deviceAuthorization(req, res, issuer) {
  const form = await readForm(req);
  logParams('/op/device/auth', form);
  sendJson(req, res, 200, {
    device_code: crypto.randomBytes(16).toString('hex'),
    user_code: 'HOST-ILE1',
    verification_uri: `${issuer}/device`,
    verification_uri_complete: `${issuer}/device?user_code=HOST-ILE1`,
    expires_in: 300,
    interval: 1,
  });
}

async function backchannel(req, res) {
  const form = await readForm(req);
  logParams('/op/backchannel', form);
  sendJson(req, res, 200, { auth_req_id: crypto.randomBytes(16).toString('hex'), expires_in: 300, interval: 1 });
}

async function token(req, res, issuer) {
  const form = await readForm(req);
  logParams('/op/token', form);
  if (pendingPolls > 0) {
    pendingPolls -= 1;
    sendJson(req, res, 400, { error: 'authorization_pending' });
    return;
  }
  sendJson(req, res, 200, {
    access_token: crypto.randomBytes(16).toString('hex'),
    token_type: 'Bearer',
    expires_in: 300,
    id_token: idToken(issuer),
  });
}

const server = http.createServer((req, res) => handle(req, res, server.issuer));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  server.issuer = `http://127.0.0.1:${port}/op`;
  process.stdout.write(`READY ${server.issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    for (const socket of hanging) {
      socket.destroy();
    }
    server.close();
    process.exit(0);
  });
}
