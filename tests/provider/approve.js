#!/usr/bin/env node
// Plays the user in a browser against the test provider's real pages, over HTTP.
//
// It uses fetch with redirect: 'manual' and its own small cookie jar, reads the HTML forms
// (hidden fields such as `xsrf` included) and submits them as a browser would. Progress
// goes to stderr, the result to stdout. Passwords are never printed.
//
// Usage:
//   node approve.js device --issuer URL --user-code CODE --username NAME
//                          [--password P] [--amr fpt] [--abort] [--jar FILE]
//   node approve.js device --uri VERIFICATION_URI_COMPLETE --username NAME [...]
//       Enters the user code, signs in and confirms. Prints "success", or "aborted" with
//       --abort (the user presses Abort on the login page).
//   node approve.js code --url AUTHORIZE_URL --username NAME [--password P] [--amr fpt]
//                        [--abort] [--jar FILE]
//       Follows an authorization URL through the login page. Prints the final redirect to
//       the client's redirect_uri (with code or error) and does not fetch it.
//       With --passkey FILE it signs in with that passkey ("Sign in with fingerprint /
//       security key") instead of the password; --no-user-verification leaves the UV flag
//       clear, which the provider must reject.
//   node approve.js register-passkey --base http://HOST:PORT --username NAME
//                                    --passkey FILE [--password P]
//       Registers a new passkey for the account on /webauthn/register, as a software
//       authenticator, and saves it in FILE. Prints the credential ID.
//   node approve.js push --base http://127.0.0.1:PORT --username NAME [--amr fpt]
//                        [--deny] [--wait SECONDS] [--binding-message TEXT]
//       Waits for a pending CIBA request for that user and approves or denies it.
//       Prints "approved AUTH_REQ_ID" or "denied AUTH_REQ_ID".
//
// The password defaults to "<username>-pass", as in accounts.json. --jar FILE keeps the
// cookies in FILE between runs, so a second run reuses the provider session.
//
// Exit status: 0 when the expected outcome was reached, 1 when the flow failed, 2 on a
// usage error.

import * as fs from 'node:fs';
import { parseArgs } from 'node:util';

import { createPasskey, loadPasskey, savePasskey, signAssertion } from './soft-authenticator.js';

const MAX_STEPS = 25;
const REQUEST_TIMEOUT_MS = 10_000;

// A flow that did not reach the expected outcome (exit status 1).
class FlowError extends Error {}

// A bad command line (exit status 2).
class UsageError extends Error {}

function log(message) {
  process.stderr.write(`approve: ${message}\n`);
}

// ---------------------------------------------------------------------------
// Cookie jar: host-only cookies with path matching and expiry, as a browser keeps them.

class CookieJar {
  constructor(file) {
    this.file = file;
    this.cookies = [];
    if (file && fs.existsSync(file)) {
      this.cookies = JSON.parse(fs.readFileSync(file, 'utf8'));
    }
  }

  save() {
    if (this.file) {
      fs.writeFileSync(this.file, JSON.stringify(this.cookies, null, 2), { mode: 0o600 });
    }
  }

  // Return the Cookie header value for `url`, or undefined when no cookie applies.
  headerFor(url) {
    const now = Date.now();
    this.cookies = this.cookies.filter((cookie) => cookie.expires === null || cookie.expires > now);
    const matching = this.cookies.filter((cookie) => cookie.host === url.host
      && (url.pathname === cookie.path
        || url.pathname.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`)));
    if (matching.length === 0) {
      return undefined;
    }
    return matching.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
  }

  storeFrom(url, setCookieHeaders) {
    for (const header of setCookieHeaders) {
      const [pair, ...attributes] = header.split(';');
      const separator = pair.indexOf('=');
      if (separator <= 0) {
        continue;
      }
      const cookie = {
        name: pair.slice(0, separator).trim(),
        value: pair.slice(separator + 1).trim(),
        host: url.host,
        path: defaultCookiePath(url.pathname),
        expires: null,
      };

      for (const attribute of attributes) {
        const [key, ...rest] = attribute.split('=');
        const value = rest.join('=').trim();
        switch (key.trim().toLowerCase()) {
          case 'path':
            if (value.startsWith('/')) cookie.path = value;
            break;
          case 'max-age':
            cookie.expires = Date.now() + Number(value) * 1000;
            break;
          case 'expires':
            if (cookie.expires === null) cookie.expires = Date.parse(value);
            break;
          default:
            break;
        }
      }

      this.cookies = this.cookies.filter((old) => !(old.name === cookie.name
        && old.host === cookie.host && old.path === cookie.path));
      if (cookie.expires === null || cookie.expires > Date.now()) {
        this.cookies.push(cookie);
      }
    }
  }
}

// Default cookie path (RFC 6265 section 5.1.4): the request path up to its last slash.
function defaultCookiePath(pathname) {
  const lastSlash = pathname.lastIndexOf('/');
  return lastSlash <= 0 ? '/' : pathname.slice(0, lastSlash);
}

// ---------------------------------------------------------------------------
// Browser: one request at a time, redirects returned to the caller, cookies kept.

class Browser {
  constructor(jar) {
    this.jar = jar;
  }

  // Send `form` as a urlencoded body, or with { json: value } a JSON body.
  async request(method, url, form, { json } = {}) {
    const target = new URL(url);
    const headers = { accept: 'text/html,application/json;q=0.9', 'user-agent': 'ultraauth-approve/1' };
    const cookie = this.jar.headerFor(target);
    if (cookie) {
      headers.cookie = cookie;
    }
    let body;
    if (json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }

    let response;
    try {
      response = await fetch(target, {
        method,
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new FlowError(`${method} ${target.origin}${target.pathname} failed: ${err.cause?.message ?? err.message}`);
    }
    this.jar.storeFrom(target, response.headers.getSetCookie());

    const text = await response.text();
    const location = response.headers.get('location');
    const result = {
      url: target,
      status: response.status,
      location: location ? new URL(location, target) : undefined,
      contentType: response.headers.get('content-type') ?? '',
      text,
      pageResult: pageResultOf(text),
    };
    // Only the path is logged, because query strings carry codes and state.
    const resultSuffix = result.pageResult ? ` (${result.pageResult})` : '';
    log(`${method} ${target.pathname} -> ${response.status}${resultSuffix}`);
    return result;
  }
}

// ---------------------------------------------------------------------------
// HTML reading. The provider's pages are small and regular, so a few regular
// expressions stand in for an HTML parser.

function decodeEntities(text) {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, decimal) => String.fromCodePoint(Number(decimal)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function parseAttributes(tagText) {
  const attributes = {};
  const pattern = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  for (const match of tagText.matchAll(pattern)) {
    attributes[match[1].toLowerCase()] = decodeEntities(match[2] ?? match[3] ?? match[4] ?? '');
  }
  return attributes;
}

// The data-result value of the provider's pages (input, confirm, login, success, ...).
function pageResultOf(html) {
  return /data-result="([^"]*)"/.exec(html)?.[1];
}

// Return the forms on a page as { id, action, method, fields } with the values a browser
// would send: named inputs (buttons excluded) and the selected option of each select.
function parseForms(html) {
  const forms = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attributes = parseAttributes(match[1]);
    const fields = {};
    for (const input of match[2].matchAll(/<input\b([^>]*)>/gi)) {
      const field = parseAttributes(input[1]);
      if (field.name && !['submit', 'button', 'image'].includes(field.type)) {
        fields[field.name] = field.value ?? '';
      }
    }
    for (const select of match[2].matchAll(/<select\b([^>]*)>([\s\S]*?)<\/select>/gi)) {
      const { name } = parseAttributes(select[1]);
      const options = [...select[2].matchAll(/<option\b([^>]*)>/gi)].map((option) => parseAttributes(option[1]));
      const chosen = options.find((option) => 'selected' in option) ?? options[0];
      if (name && chosen) {
        fields[name] = chosen.value ?? '';
      }
    }
    forms.push({
      id: attributes.id,
      action: attributes.action ?? '',
      method: (attributes.method ?? 'get').toUpperCase(),
      fields,
    });
  }
  return forms;
}

function findForm(response, id) {
  const forms = parseForms(response.text);
  const form = id ? forms.find((candidate) => candidate.id === id) : forms[0];
  if (!form) {
    throw new FlowError(`expected a form${id ? ` with id ${id}` : ''} on ${response.url.pathname}, found none`);
  }
  return form;
}

// Return the visible text of the page's main element, for error messages.
function pageText(html) {
  const main = /<main\b[^>]*>([\s\S]*?)<\/main>/i.exec(html)?.[1] ?? html;
  const content = main
    .replace(/<(h1|form|button)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ');
  return decodeEntities(content)
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

// A page from oidc-provider that a browser submits by script as soon as it loads (used
// for a user code given in the URL and for signing out a different user).
function isAutoSubmitPage(response) {
  return response.pageResult === undefined
    && /document\.forms\[0\]\.submit\(\)/.test(response.text)
    && parseForms(response.text).length === 1;
}

function submit(browser, response, form, extraFields = {}) {
  const action = new URL(form.action || response.url.href, response.url);
  return browser.request(form.method === 'POST' ? 'POST' : 'GET', action, { ...form.fields, ...extraFields });
}

// ---------------------------------------------------------------------------
// The user's side of a flow: a loop over the pages the provider returns.

// Drive the browser from `response` until the flow ends. `user` has username, password,
// amr and abort; `userCode` is entered on the code input page when it appears.
// `isClientRedirect(url)` returns true for a redirect that leaves the provider for the client.
// Returns { outcome: 'success' | 'aborted' | 'redirect', location? }.
async function runFlow(browser, response, { user, userCode, isClientRedirect }) {
  let codeSubmitted = false;
  let loginSubmitted = false;

  for (let step = 0; step < MAX_STEPS; step += 1) {
    if (response.status >= 300 && response.status < 400) {
      if (!response.location) {
        throw new FlowError(`redirect ${response.status} from ${response.url.pathname} has no Location header`);
      }
      if (isClientRedirect?.(response.location)) {
        return { outcome: 'redirect', location: response.location };
      }
      response = await browser.request('GET', response.location);
      continue;
    }

    if (!response.contentType.includes('html')) {
      throw new FlowError(`expected an HTML page from ${response.url.pathname}, got ${response.status} ${response.contentType}: ${response.text.slice(0, 300)}`);
    }

    if (isAutoSubmitPage(response)) {
      response = await submit(browser, response, findForm(response));
      continue;
    }

    switch (response.pageResult) {
      case 'input':
        if (codeSubmitted || !userCode) {
          throw new FlowError('the provider asks for the user code again: give --user-code or a --uri with user_code');
        }
        codeSubmitted = true;
        log('entering the user code');
        response = await submit(browser, response, findForm(response, 'op.deviceInputForm'), { user_code: userCode });
        break;

      case 'confirm':
        log('confirming the device');
        response = await submit(browser, response, findForm(response, 'op.deviceConfirmForm'));
        break;

      case 'login':
        if (loginSubmitted) {
          throw new FlowError('the provider shows the login page again after the login was submitted');
        }
        loginSubmitted = true;
        response = await submitLogin(browser, response, user);
        break;

      case 'login-failed':
        throw new FlowError(`login as "${user.username}" failed: ${pageText(response.text)}`);

      case 'success':
        return { outcome: 'success' };

      case 'aborted':
        return { outcome: 'aborted' };

      case 'invalid-code':
      case 'expired':
      case 'already-used':
      case 'error':
        throw new FlowError(`the provider rejected the request (${response.pageResult}): ${pageText(response.text)}`);

      default:
        throw new FlowError(`unexpected page from ${response.url.pathname} (status ${response.status}, `
          + `result ${response.pageResult ?? 'none'}): ${pageText(response.text)}`);
    }
  }
  throw new FlowError(`the flow did not finish within ${MAX_STEPS} requests`);
}

// POST `value` as JSON and return the parsed answer, throwing on an error status.
async function postJson(browser, url, value, step) {
  const response = await browser.request('POST', url, undefined, { json: value });
  let parsed;
  try {
    parsed = JSON.parse(response.text);
  } catch {
    throw new FlowError(`${step}: the provider returned ${response.status} with a body that is not JSON`);
  }
  if (response.status !== 200) {
    throw new FlowError(`${step}: the provider returned ${response.status}: ${parsed.error_description ?? parsed.error}`);
  }
  return parsed;
}

// Press "Sign in with fingerprint / security key" on the login page: fetch the request
// options, sign them with the passkey and follow the provider's redirect.
async function signInWithPasskey(browser, response, user) {
  const button = /<button\b[^>]*id="webauthn-login"[^>]*>/.exec(response.text);
  if (!button) {
    throw new FlowError('the login page has no passkey button (#webauthn-login)');
  }
  const attributes = parseAttributes(button[0].slice('<button'.length, -1));
  const passkey = loadPasskey(user.passkey);

  log(`signing in with the passkey in ${user.passkey}${user.userVerified ? '' : ' without user verification'}`);
  const options = await postJson(browser, new URL(attributes['data-options-url'], response.url), {}, 'passkey options');
  const assertion = signAssertion(passkey, options, { userVerified: user.userVerified });
  savePasskey(user.passkey, passkey);
  const result = await postJson(browser, new URL(attributes['data-verify-url'], response.url), assertion, 'passkey sign-in');
  return browser.request('GET', new URL(result.redirect, response.url));
}

function submitLogin(browser, response, user) {
  if (user.passkey && !user.abort) {
    return signInWithPasskey(browser, response, user);
  }
  const form = findForm(response);
  if (user.abort) {
    log('pressing Abort on the login page');
    return submit(browser, response, form, { abort: 'yes' });
  }
  log(`signing in as ${user.username} with amr=${user.amr}`);
  return submit(browser, response, form, {
    username: user.username,
    password: user.password,
    amr: user.amr,
  });
}

// ---------------------------------------------------------------------------
// Commands

async function runDevice(options, user, browser) {
  let startUrl;
  if (options.uri) {
    startUrl = new URL(options.uri);
  } else {
    if (!options.issuer || !options['user-code']) {
      throw new UsageError('device needs --uri URL, or --issuer URL with --user-code CODE');
    }
    startUrl = new URL(`${options.issuer.replace(/\/+$/, '')}/device`);
  }

  // With --uri the provider fills in the code from the URL. The code is kept here as well,
  // because the provider may still show the input page.
  const userCode = options['user-code'] ?? startUrl.searchParams.get('user_code') ?? undefined;
  const first = await browser.request('GET', startUrl);
  const { outcome } = await runFlow(browser, first, { user, userCode });

  const expected = user.abort ? 'aborted' : 'success';
  if (outcome !== expected) {
    throw new FlowError(`the device flow ended with "${outcome}", expected "${expected}"`);
  }
  log(user.abort ? 'the provider reports the request as aborted' : 'the provider reports success');
  process.stdout.write(`${outcome}\n`);
}

async function runCode(options, user, browser) {
  if (!options.url) {
    throw new UsageError('code needs --url AUTHORIZE_URL');
  }
  const authorizeUrl = new URL(options.url);
  const redirectUri = authorizeUrl.searchParams.get('redirect_uri');

  // A redirect ends the flow when it goes to the client's redirect_uri, or leaves the
  // provider's origin when the request names no redirect_uri.
  const isClientRedirect = (location) => {
    if (redirectUri) {
      const target = new URL(redirectUri);
      return location.origin === target.origin && location.pathname === target.pathname;
    }
    return location.origin !== authorizeUrl.origin;
  };

  const first = await browser.request('GET', authorizeUrl);
  const result = await runFlow(browser, first, { user, isClientRedirect });
  if (result.outcome !== 'redirect') {
    throw new FlowError(`the code flow ended with "${result.outcome}" instead of a redirect to the client`);
  }

  process.stdout.write(`${result.location.href}\n`);
  const error = result.location.searchParams.get('error');
  if (user.abort) {
    if (error !== 'access_denied') {
      throw new FlowError(`expected error=access_denied in the redirect after Abort, got ${error ?? 'no error'}`);
    }
    log('the provider redirected with error=access_denied');
  } else if (error || !result.location.searchParams.get('code')) {
    throw new FlowError(`the redirect to the client carries no code (error=${error ?? 'none'}, `
      + `error_description=${result.location.searchParams.get('error_description') ?? 'none'})`);
  } else {
    log('the provider redirected to the client with a code');
  }
}

async function fetchJson(method, url, body) {
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new FlowError(`${method} ${url.pathname} failed: ${err.cause?.message ?? err.message}`);
  }
  const text = await response.text();
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FlowError(`${method} ${url.pathname} returned ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    throw new FlowError(`${method} ${url.pathname} returned ${response.status}: ${value.error_description ?? text}`);
  }
  return value;
}

async function runRegisterPasskey(options, user) {
  if (!options.base || !options.passkey) {
    throw new UsageError('register-passkey needs --base http://HOST:PORT and --passkey FILE');
  }
  const origin = new URL(options.base).origin;
  const browser = new Browser(new CookieJar());

  log(`registering a passkey for ${user.username}`);
  const creationOptions = await postJson(browser, new URL('/webauthn/register/options', origin),
    { username: user.username, password: user.password }, 'passkey registration options');
  const { passkey, response } = createPasskey(creationOptions, origin);
  const result = await postJson(browser, new URL('/webauthn/register/verify', origin), response, 'passkey registration');
  savePasskey(options.passkey, passkey);
  process.stdout.write(`${result.id}\n`);
}

async function runPush(options, user) {
  const base = options.base ?? options.issuer;
  if (!base) {
    throw new UsageError('push needs --base http://127.0.0.1:PORT');
  }
  const origin = new URL(base).origin;
  const waitSeconds = Number(options.wait ?? 30);
  if (!(waitSeconds > 0)) {
    throw new UsageError(`--wait must be a positive number of seconds, got "${options.wait}"`);
  }

  const listUrl = new URL('/test-device/requests', origin);
  const deadline = Date.now() + waitSeconds * 1000;
  const expectedUsername = user.username.toLowerCase();
  log(`waiting up to ${waitSeconds} s for a CIBA request for ${user.username}`);

  let pending;
  while (!pending) {
    const requests = await fetchJson('GET', listUrl);
    pending = requests.find((request) => (request.username?.toLowerCase() === expectedUsername || request.accountId === user.username)
      && (options['binding-message'] === undefined || request.bindingMessage === options['binding-message']));
    if (pending) {
      break;
    }
    if (Date.now() > deadline) {
      throw new FlowError(`no pending CIBA request for ${user.username} within ${waitSeconds} s`);
    }
    await new Promise((resolve) => { setTimeout(resolve, 200); });
  }

  const action = options.deny ? 'deny' : 'approve';
  log(`${action === 'deny' ? 'denying' : 'approving'} CIBA request for ${user.username}`
    + `${pending.bindingMessage ? ` (binding message "${pending.bindingMessage}")` : ''}`);
  const actionUrl = new URL(`/test-device/requests/${encodeURIComponent(pending.id)}/${action}`, origin);
  const result = await fetchJson('POST', actionUrl, action === 'approve' ? { amr: user.amr } : {});
  process.stdout.write(`${result.result} ${pending.id}\n`);
}

// ---------------------------------------------------------------------------
// Command line

const USAGE = `usage:
  approve.js device (--issuer URL --user-code CODE | --uri URL) --username NAME [--password P] [--amr fpt] [--abort] [--jar FILE]
  approve.js code --url AUTHORIZE_URL --username NAME [--password P] [--amr fpt] [--abort] [--jar FILE]
                  [--passkey FILE [--no-user-verification]]
  approve.js register-passkey --base http://HOST:PORT --username NAME --passkey FILE [--password P]
  approve.js push --base http://127.0.0.1:PORT --username NAME [--amr fpt] [--deny] [--wait SECONDS] [--binding-message TEXT]`;

const OPTIONS = {
  issuer: { type: 'string' },
  'user-code': { type: 'string' },
  uri: { type: 'string' },
  url: { type: 'string' },
  base: { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  amr: { type: 'string', default: 'fpt' },
  abort: { type: 'boolean', default: false },
  deny: { type: 'boolean', default: false },
  wait: { type: 'string' },
  'binding-message': { type: 'string' },
  passkey: { type: 'string' },
  'no-user-verification': { type: 'boolean', default: false },
  jar: { type: 'string' },
  help: { type: 'boolean', default: false },
};

function parseCommandLine() {
  try {
    return parseArgs({ allowPositionals: true, options: OPTIONS });
  } catch (err) {
    throw new UsageError(err.message);
  }
}

async function main() {
  const { values: options, positionals } = parseCommandLine();

  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const [command] = positionals;
  if (positionals.length !== 1 || !['device', 'code', 'push', 'register-passkey'].includes(command)) {
    throw new UsageError('give exactly one command: device, code, push or register-passkey');
  }
  if (!options.username) {
    throw new UsageError('--username is required');
  }

  const user = {
    username: options.username,
    password: options.password ?? `${options.username}-pass`,
    amr: options.amr,
    abort: options.abort,
    passkey: options.passkey,
    userVerified: !options['no-user-verification'],
  };

  if (command === 'push') {
    await runPush(options, user);
    return;
  }
  if (command === 'register-passkey') {
    await runRegisterPasskey(options, user);
    return;
  }

  const jar = new CookieJar(options.jar);
  const browser = new Browser(jar);
  try {
    if (command === 'device') {
      await runDevice(options, user, browser);
    } else {
      await runCode(options, user, browser);
    }
  } finally {
    jar.save();
  }
}

main().catch((err) => {
  if (err instanceof UsageError) {
    process.stderr.write(`approve: ${err.message}\n${USAGE}\n`);
    process.exitCode = 2;
  } else if (err instanceof FlowError) {
    process.stderr.write(`approve: FAILED: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`approve: FAILED: ${err.stack ?? err}\n`);
    process.exitCode = 1;
  }
});
