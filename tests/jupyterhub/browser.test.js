// The whole JupyterHub login in headless Chromium, which is Debian's /usr/bin/chromium
// driven by playwright-core. The steps: the hub's "Sign in with UltraAuth" button, the
// provider's login page where the user verifies with a passkey, the way back to the hub
// with the fields filled, one click on Sign in, and /hub/spawn.
//
// The passkey lives in Chromium's virtual WebAuthn authenticator (DevTools protocol), set
// up as a user-verifying platform authenticator: every assertion carries the UV flag, as a
// fingerprint sensor's would. The test registers it on the provider's /webauthn/register
// page first.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { CODE_PATTERN, startStack } from './harness.js';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];
// Upper bound for one page step; the whole login takes a few seconds.
const STEP_TIMEOUT_MS = 20_000;
// When set, the test saves screenshots of the provider's login page and the filled hub
// login page into this directory.
const SCREENSHOT_DIR = process.env.ULTRAAUTH_SCREENSHOTS;

async function screenshot(page, name) {
  if (SCREENSHOT_DIR) {
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  }
}

describe('hub login in Chromium with a passkey', () => {
  let stack;
  let profileDir;
  let context;
  let page;

  before(async () => {
    stack = await startStack({ flow: 'code' });
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ultraauth-chromium-'));
    // launchPersistentContext takes the fresh profile directory (--user-data-dir); headless
    // adds --headless.
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    page = context.pages()[0] ?? await context.newPage();
  });

  after(async () => {
    await context?.close();
    if (profileDir) {
      fs.rmSync(profileDir, { recursive: true, force: true });
    }
    await stack?.stop();
  });

  test('passkey login reaches /hub/spawn', async (t) => {
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    // Every URL the browser requests, to check that the code never is in one.
    const requestedUrls = [];
    page.on('request', (request) => requestedUrls.push(request.url()));

    // Register a passkey for alice, signed in with her password.
    await page.goto(`${stack.providerOrigin}/webauthn/register`);
    await page.fill('#webauthn-register input[name=username]', 'alice');
    await page.fill('#webauthn-register input[name=password]', 'alice-pass');
    await page.click('#webauthn-register button[type=submit]');
    await page.waitForSelector('#webauthn-status[data-state=done], #webauthn-status[data-state=failed]');
    assert.equal(await page.getAttribute('#webauthn-status', 'data-state'), 'done',
      `registration: ${await page.textContent('#webauthn-status')}\n${stack.logs()}`);

    // The hub's login page with the UltraAuth button.
    await page.goto(`${stack.hubUrl}/hub/login`);
    const started = performance.now();
    await page.click('#ultraauth-start');

    // The provider's login page: verify with the passkey.
    await page.waitForURL(`${stack.providerOrigin}/interaction/**`);
    const atProvider = performance.now();
    await screenshot(page, 'provider-login');
    await page.click('#webauthn-login');

    // Back at the hub: the fields are filled, the fragment is gone, Sign in has the focus.
    await page.waitForSelector('#ultraauth-ready:not([hidden])');
    const backAtHub = performance.now();
    await screenshot(page, 'hub-login-filled');
    const filled = await page.evaluate(() => ({
      url: window.location.href,
      username: document.getElementById('username_input').value,
      password: document.getElementById('password_input').value,
      focused: document.activeElement?.id,
    }));
    assert.equal(filled.url, `${stack.hubUrl}/hub/login`, 'the URL must have no fragment left');
    assert.equal(filled.username, 'alice');
    assert.match(filled.password, CODE_PATTERN);
    assert.equal(filled.focused, 'login_submit');

    // One click signs in. The clock stops when the browser commits the navigation to
    // /hub/spawn, before that page loads, because the spawner is not part of this test.
    await page.click('#login_submit');
    await page.waitForURL(`${stack.hubUrl}/hub/spawn**`, { waitUntil: 'commit' });
    const finished = performance.now();
    const ms = (from, to) => Math.round(to - from);
    t.diagnostic(`button to /hub/spawn: ${ms(started, finished)} ms (to the provider's page ${ms(started, atProvider)} ms, `
      + `passkey to the filled hub form ${ms(atProvider, backAtHub)} ms, Sign in to /hub/spawn ${ms(backAtHub, finished)} ms)`);

    const code = filled.password;
    for (const url of requestedUrls) {
      assert.ok(!url.includes(code), `a request URL carries the code: ${url}`);
      assert.ok(!url.includes(code.replace('-', '')), `a request URL carries the code without its dash: ${url}`);
    }
    for (const child of stack.processes) {
      assert.ok(!child.output.includes(code), `${child.name}'s log contains the code`);
    }

    // The provider finished the interaction with the passkey, and the daemon approved
    // the hub's PAM login with the code from that verification.
    assert.match(stack.provider.output, /op: login alice with a passkey amr=hwk,user/);
    assert.match(stack.daemon.output, /event=one_time_code_issued user=alice /);
    assert.match(stack.daemon.output, /event=login_approved user=alice service=jupyterhub \S+ flow=code/);
  });

  test('passkey login keeps the next target', async () => {
    // The first test registered the passkey and logged alice in; log out first.
    await page.goto(`${stack.hubUrl}/hub/logout`);
    await page.goto(`${stack.hubUrl}/hub/login?next=${encodeURIComponent('/hub/home')}`);
    await page.click('#ultraauth-start');
    await page.waitForURL(`${stack.providerOrigin}/interaction/**`);
    await page.click('#webauthn-login');
    await page.waitForSelector('#ultraauth-ready:not([hidden])');

    // The result page returns to return_url without ?next=, so the template restores the
    // form's action from before the button was pressed.
    const action = await page.getAttribute('form[method=post]', 'action');
    assert.match(action ?? '', /next=%2Fhub%2Fhome/);
    await page.click('#login_submit');
    await page.waitForURL(`${stack.hubUrl}/hub/home**`, { waitUntil: 'commit' });
  });

  test('daemon audit names the amr', () => {
    // The ID token from a passkey sign-in carries amr ["hwk", "user"]. The daemon's audit
    // line for the verification must show it, so an admin can tell how the user verified.
    const line = /event=one_time_code_issued user=alice [^\n]*/.exec(stack.daemon.output)?.[0] ?? '';
    assert.match(line, /\bamr=\S*hwk/, `the audit line has no amr: ${line}`);
  });
});
