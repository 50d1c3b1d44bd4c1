// A software WebAuthn authenticator for approve.js: it creates a P-256 passkey with "none"
// attestation and signs assertions, so the provider's WebAuthn pages can be tested
// without a browser. The passkey is kept in a JSON file:
// { rpId, origin, credentialId, userHandle, privateKey (PKCS#8, base64url), signCount }.
//
// Formats follow WebAuthn Level 2: authenticator data is the SHA-256 of the RP ID, a flags
// byte (UP 0x01, UV 0x04, AT 0x40), a 4-byte signature counter and, at registration, the
// attested credential data with the public key as a COSE_Key in CBOR (RFC 8949).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';

const FLAG_USER_PRESENT = 0x01;
const FLAG_USER_VERIFIED = 0x04;
const FLAG_ATTESTED_CREDENTIAL = 0x40;

// ---------------------------------------------------------------------------
// The part of CBOR that attestation objects and COSE keys need: unsigned and negative
// integers, byte strings, text strings and maps.

function cborHead(majorType, length) {
  const type = majorType << 5;
  if (length < 24) {
    return Buffer.from([type | length]);
  }
  if (length < 0x100) {
    return Buffer.from([type | 24, length]);
  }
  if (length < 0x10000) {
    const head = Buffer.alloc(3);
    head[0] = type | 25;
    head.writeUInt16BE(length, 1);
    return head;
  }
  const head = Buffer.alloc(5);
  head[0] = type | 26;
  head.writeUInt32BE(length, 1);
  return head;
}

function cborEncode(value) {
  if (Number.isInteger(value)) {
    return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value);
  }
  if (Buffer.isBuffer(value)) {
    return Buffer.concat([cborHead(2, value.length), value]);
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([cborHead(3, bytes.length), bytes]);
  }
  if (value instanceof Map) {
    const parts = [cborHead(5, value.size)];
    for (const [key, item] of value) {
      parts.push(cborEncode(key), cborEncode(item));
    }
    return Buffer.concat(parts);
  }
  throw new TypeError(`cannot encode ${typeof value} as CBOR`);
}

// ---------------------------------------------------------------------------

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest();
}

function flagsByte(userVerified, attested) {
  return FLAG_USER_PRESENT | (userVerified ? FLAG_USER_VERIFIED : 0) | (attested ? FLAG_ATTESTED_CREDENTIAL : 0);
}

function counterBytes(signCount) {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(signCount, 0);
  return bytes;
}

function clientData(type, challenge, origin) {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }), 'utf8');
}

function coseKey(publicKey) {
  const jwk = publicKey.export({ format: 'jwk' });
  return cborEncode(new Map([
    [1, 2], // kty: EC2
    [3, -7], // alg: ES256
    [-1, 1], // crv: P-256
    [-2, Buffer.from(jwk.x, 'base64url')],
    [-3, Buffer.from(jwk.y, 'base64url')],
  ]));
}

// Create a passkey for registration `options` (PublicKeyCredentialCreationOptionsJSON)
// at `origin`.
// Returns { passkey, response } with the passkey to save and the RegistrationResponseJSON.
export function createPasskey(options, origin) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const credentialId = crypto.randomBytes(32);
  const rpId = options.rp.id ?? new URL(origin).hostname;

  const authenticatorData = Buffer.concat([
    sha256(rpId),
    Buffer.from([flagsByte(true, true)]),
    counterBytes(0),
    Buffer.alloc(16), // AAGUID: all zero for "none" attestation
    Buffer.from([credentialId.length >> 8, credentialId.length & 0xff]),
    credentialId,
    coseKey(publicKey),
  ]);
  const attestationObject = cborEncode(new Map([
    ['fmt', 'none'],
    ['attStmt', new Map()],
    ['authData', authenticatorData],
  ]));

  const id = credentialId.toString('base64url');
  return {
    passkey: {
      rpId,
      origin,
      credentialId: id,
      userHandle: options.user.id,
      privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64url'),
      signCount: 0,
    },
    response: {
      id,
      rawId: id,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: clientData('webauthn.create', options.challenge, origin).toString('base64url'),
        attestationObject: attestationObject.toString('base64url'),
        transports: ['internal'],
      },
    },
  };
}

// Sign request `options` (PublicKeyCredentialRequestOptionsJSON) with `passkey`, which
// gets its counter raised. Without `userVerified` the UV flag stays clear, as from an
// authenticator that only checked presence. Returns the AuthenticationResponseJSON.
export function signAssertion(passkey, options, { userVerified = true } = {}) {
  passkey.signCount += 1;
  const authenticatorData = Buffer.concat([
    sha256(passkey.rpId),
    Buffer.from([flagsByte(userVerified, false)]),
    counterBytes(passkey.signCount),
  ]);
  const clientDataJSON = clientData('webauthn.get', options.challenge, passkey.origin);
  const privateKey = crypto.createPrivateKey({ key: Buffer.from(passkey.privateKey, 'base64url'), format: 'der', type: 'pkcs8' });
  const signature = crypto.sign('sha256', Buffer.concat([authenticatorData, sha256(clientDataJSON)]), privateKey);

  return {
    id: passkey.credentialId,
    rawId: passkey.credentialId,
    type: 'public-key',
    authenticatorAttachment: 'platform',
    clientExtensionResults: {},
    response: {
      clientDataJSON: clientDataJSON.toString('base64url'),
      authenticatorData: authenticatorData.toString('base64url'),
      signature: signature.toString('base64url'),
      userHandle: passkey.userHandle,
    },
  };
}

export function loadPasskey(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

export function savePasskey(file, passkey) {
  fs.writeFileSync(file, JSON.stringify(passkey, null, 2), { mode: 0o600 });
}
