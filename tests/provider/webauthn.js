// WebAuthn for the test provider: passkey registration and "Sign in with fingerprint /
// security key" on the login page, built on @simplewebauthn/server.
//
// The relying party ID is the issuer's host name and the expected origin is the issuer's
// origin. Browsers reject an IP address as relying party ID, so a provider meant for
// WebAuthn is started with OP_ISSUER_HOST=localhost (the issuer then is
// http://localhost:PORT/op, a secure context for browsers although it is plain http).
//
// Credentials and challenges are kept in memory only, like the rest of the provider.
// Registration needs the account's password. Sign-in requires user verification (the UV
// flag in the authenticator data) and finishes the interaction with amr ["hwk", "user"]
// (RFC 8176: a hardware key, unlocked by a user-verification gesture) and the biometric acr.

import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';

export const WEBAUTHN_AMR = ['hwk', 'user'];

// Lifetime of a challenge, in milliseconds. A challenge is also dropped at its first use.
const CHALLENGE_TTL_MS = 120_000;

// Upper bound of pending registration challenges, so a loop of option requests cannot grow
// the map without bound.
const MAX_PENDING_REGISTRATIONS = 1000;

// Decode the challenge from a response's base64url clientDataJSON, or return undefined.
function challengeOf(response) {
  try {
    const clientData = JSON.parse(Buffer.from(String(response?.response?.clientDataJSON ?? ''), 'base64url').toString('utf8'));
    return typeof clientData.challenge === 'string' ? clientData.challenge : undefined;
  } catch {
    return undefined;
  }
}

function dropExpired(map) {
  const now = Date.now();
  for (const [key, entry] of map) {
    if (entry.expiresAt <= now) {
      map.delete(key);
    }
  }
}

// An error whose message may be shown to the user; status is the HTTP status to send.
export class WebAuthnError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class WebAuthnStore {
  // `issuer` is the provider's issuer URL; `accounts` has findAccountBySub(sub).
  constructor(issuer, { findAccountBySub }) {
    const url = new URL(issuer);
    this.rpId = url.hostname;
    this.origin = url.origin;
    this.findAccountBySub = findAccountBySub;
    // Registered credentials by credential ID (base64url):
    // { id, publicKey (Uint8Array), counter, transports, accountId }.
    this.credentials = new Map();
    // Registration challenges by challenge: { accountId, expiresAt }.
    this.pendingRegistrations = new Map();
    // Sign-in challenges by interaction uid: { challenge, expiresAt }.
    this.pendingSignIns = new Map();
  }

  // Whether browsers accept this provider's host as a relying party ID (not an IP address).
  get rpIdUsable() {
    return !/^[\d.]+$/.test(this.rpId) && !this.rpId.includes(':') && !this.rpId.startsWith('[');
  }

  listCredentials() {
    return [...this.credentials.values()].map((credential) => ({
      id: credential.id,
      username: this.findAccountBySub(credential.accountId)?.username,
      counter: credential.counter,
    }));
  }

  // Registration, step 1: creation options for an account whose password was checked.
  async registrationOptions(account) {
    dropExpired(this.pendingRegistrations);
    if (this.pendingRegistrations.size >= MAX_PENDING_REGISTRATIONS) {
      throw new WebAuthnError(429, 'too_many_requests', 'Too many registrations are pending. Try again in two minutes.');
    }

    const existing = [...this.credentials.values()].filter((credential) => credential.accountId === account.sub);
    const options = await generateRegistrationOptions({
      rpName: 'UltraAuth test provider',
      rpID: this.rpId,
      userName: account.username,
      userDisplayName: account.claims.name ?? account.username,
      userID: new TextEncoder().encode(account.sub),
      attestationType: 'none',
      excludeCredentials: existing.map(({ id, transports }) => ({ id, transports })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    });
    this.pendingRegistrations.set(options.challenge, { accountId: account.sub, expiresAt: Date.now() + CHALLENGE_TTL_MS });
    return options;
  }

  // Registration, step 2: verify the attestation and store the credential.
  async register(response) {
    dropExpired(this.pendingRegistrations);
    const challenge = challengeOf(response);
    const pending = challenge && this.pendingRegistrations.get(challenge);
    if (!pending) {
      throw new WebAuthnError(400, 'invalid_challenge', 'The registration request is unknown or expired. Start again.');
    }
    this.pendingRegistrations.delete(challenge);

    let verification;
    try {
      verification = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId,
        requireUserVerification: true,
      });
    } catch (err) {
      throw new WebAuthnError(400, 'invalid_attestation', `The registration was rejected: ${err.message}`);
    }
    if (!verification.verified) {
      throw new WebAuthnError(400, 'invalid_attestation', 'The registration could not be verified.');
    }

    const { credential } = verification.registrationInfo;
    if (this.credentials.has(credential.id)) {
      throw new WebAuthnError(409, 'already_registered', 'This credential is already registered.');
    }
    this.credentials.set(credential.id, {
      id: credential.id,
      publicKey: credential.publicKey,
      counter: credential.counter,
      transports: credential.transports,
      accountId: pending.accountId,
    });
    return { id: credential.id, accountId: pending.accountId };
  }

  // Sign-in, step 1: request options for one interaction. No allowCredentials, so the
  // authenticator offers its discoverable credentials and the user needs no username.
  async signInOptions(uid) {
    dropExpired(this.pendingSignIns);
    const options = await generateAuthenticationOptions({
      rpID: this.rpId,
      userVerification: 'required',
      allowCredentials: [],
    });
    this.pendingSignIns.set(uid, { challenge: options.challenge, expiresAt: Date.now() + CHALLENGE_TTL_MS });
    return options;
  }

  // Sign-in, step 2: verify the assertion for interaction `uid` and return the account's
  // sub. The challenge is single use, whether the assertion passes or not.
  async signIn(uid, response) {
    dropExpired(this.pendingSignIns);
    const pending = this.pendingSignIns.get(uid);
    this.pendingSignIns.delete(uid);
    if (!pending) {
      throw new WebAuthnError(400, 'invalid_challenge', 'The sign-in request is unknown or expired. Press the button again.');
    }

    const credential = this.credentials.get(String(response?.id ?? ''));
    if (!credential) {
      throw new WebAuthnError(400, 'unknown_credential', 'This credential is not registered here.');
    }

    const userHandle = response?.response?.userHandle;
    if (userHandle && Buffer.from(userHandle, 'base64url').toString('utf8') !== credential.accountId) {
      throw new WebAuthnError(400, 'invalid_assertion', 'The credential belongs to another account.');
    }

    let verification;
    try {
      verification = await verifyAuthenticationResponse({
        response,
        expectedChallenge: pending.challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId,
        credential,
        requireUserVerification: true,
      });
    } catch (err) {
      throw new WebAuthnError(400, 'invalid_assertion', `The sign-in was rejected: ${err.message}`);
    }
    // requireUserVerification already rejects an assertion without the UV flag. The second
    // check keeps the amr claim honest should that option ever change.
    if (!verification.verified || !verification.authenticationInfo.userVerified) {
      throw new WebAuthnError(400, 'invalid_assertion', 'The authenticator did not verify the user.');
    }

    credential.counter = verification.authenticationInfo.newCounter;
    return credential.accountId;
  }
}
