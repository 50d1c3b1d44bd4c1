// JupyterHub logins through pam_ultraauth.so and ultraauthd over HTTP, without a browser:
// the one-time code flow (the code is the form's password) and push (CIBA).
//
// Each describe block starts its own provider, daemon and hub (harness.js) and stops them
// at the end. Run with: node --test tests/jupyterhub/

import assert from 'node:assert/strict';
import * as os from 'node:os';
import { after, before, describe, test } from 'node:test';

import { CODE_PATTERN, answerPush, httpRequest, hubLogin, startStack, verifyAtProvider } from './harness.js';

// A code of the right form that differs from `code` in its first character.
function wrongCodeFor(code) {
  const replacement = code[0] === '2' ? '3' : '2';
  return `${replacement}${code.slice(1)}`;
}

describe('hub login with one-time codes', () => {
  let stack;
  // Every code issued in this block, to check that none reaches a log.
  const issuedCodes = [];

  before(async () => {
    stack = await startStack({ flow: 'code', maxCodeAttempts: 5 });
  });

  after(async () => {
    await stack?.stop();
  });

  async function verify(username) {
    const result = await verifyAtProvider(stack, username);
    assert.equal(result.response.status, 200, `callback page for ${username}:\n${result.response.body}\n${stack.logs()}`);
    assert.match(result.code ?? '', CODE_PATTERN, `no code on the result page:\n${result.response.body}`);
    issuedCodes.push(result.code);
    return result;
  }

  test('login page offers the UltraAuth button', async () => {
    const { status, body } = await httpRequest('GET', `${stack.hubUrl}/hub/login`);
    assert.equal(status, 200);
    assert.match(body, new RegExp(`id="ultraauth-start"[^>]*href="${stack.publicUrl}/start"`));
    assert.match(body, /id="username_input"/, 'the password form must stay');
    assert.match(body, /id="password_input"/);
    assert.match(body, /id="login_submit"/);
  });

  test('result page carries the code in the fragment only', async () => {
    const { user, code, response } = await verify('alice');
    assert.equal(user, 'alice');
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.headers['referrer-policy'], 'no-referrer');
    assert.match(response.headers['content-security-policy'] ?? '', /default-src 'none'/);
    assert.equal(response.headers.location, undefined, 'the result page must not redirect with a Location header');

    const href = /<a id="ultraauth-continue" href="([^"]*)"/.exec(response.body)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(href, `no Continue link:\n${response.body}`);
    const target = new URL(href);
    assert.equal(`${target.origin}${target.pathname}`, `${stack.hubUrl}/hub/login`);
    assert.equal(target.search, '', 'the code must not be in a query string');
    const fragment = new URLSearchParams(target.hash.slice(1));
    assert.equal(fragment.get('ultraauth_user'), 'alice');
    assert.equal(fragment.get('ultraauth_code'), code);
  });

  test('code login redirects to /hub/spawn', async () => {
    const { code } = await verify('alice');
    const login = await hubLogin(stack.hubUrl, 'alice', code);
    assert.equal(login.status, 302, `hub login with a fresh code:\n${stack.logs()}`);
    assert.equal(login.location, '/hub/spawn');
    assert.match(stack.daemon.output, /event=login_approved user=alice service=jupyterhub \S+ flow=code/);
  });

  test('code is case-insensitive and ignores the dash', async () => {
    const { code } = await verify('alice');
    const typed = code.toLowerCase().replace('-', ' ');
    const login = await hubLogin(stack.hubUrl, 'alice', typed);
    assert.equal(login.status, 302, `hub login with "${typed}":\n${stack.logs()}`);
  });

  test('wrong code gives 403', async () => {
    const { code } = await verify('alice');
    const wrong = await hubLogin(stack.hubUrl, 'alice', wrongCodeFor(code));
    assert.equal(wrong.status, 403);

    // One wrong try leaves the real code valid.
    const right = await hubLogin(stack.hubUrl, 'alice', code);
    assert.equal(right.status, 302, `the real code after one wrong try:\n${stack.logs()}`);
  });

  test('used code gives 403', async () => {
    const { code } = await verify('alice');
    const first = await hubLogin(stack.hubUrl, 'alice', code);
    assert.equal(first.status, 302);

    const second = await hubLogin(stack.hubUrl, 'alice', code);
    assert.equal(second.status, 403, 'a used code was accepted again');
  });

  test("another user's code gives 403", async () => {
    const { user, code } = await verify('bob');
    assert.equal(user, 'bob');
    const login = await hubLogin(stack.hubUrl, 'alice', code);
    assert.equal(login.status, 403, "alice logged in with bob's code");
  });

  test('too many wrong codes void the real one', async () => {
    const { code } = await verify('bob');
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const wrong = await hubLogin(stack.hubUrl, 'bob', wrongCodeFor(code));
      assert.equal(wrong.status, 403, `wrong code, attempt ${attempt}`);
    }
    const voided = await hubLogin(stack.hubUrl, 'bob', code);
    assert.equal(voided.status, 403, 'the real code still worked after max_code_attempts wrong tries');

    // A new browser verification issues a working code again.
    const fresh = await verify('bob');
    const login = await hubLogin(stack.hubUrl, 'bob', fresh.code);
    assert.equal(login.status, 302, `a new code after the lockout:\n${stack.logs()}`);
  });

  test('codes never reach a log', () => {
    assert.ok(issuedCodes.length > 0);
    const normalized = (code) => code.replace('-', '');
    for (const child of stack.processes) {
      const log = child.output.toUpperCase();
      for (const code of issuedCodes) {
        assert.ok(!log.includes(code), `${child.name}'s log contains the code ${code}`);
        assert.ok(!log.includes(normalized(code)), `${child.name}'s log contains the code ${code} without its dash`);
      }
    }
  });
});

describe('hub login with an expired code', () => {
  const LIFETIME_SECS = 10; // the smallest code_lifetime_secs ultraauthd accepts
  let stack;

  before(async () => {
    stack = await startStack({ flow: 'code', codeLifetimeSecs: LIFETIME_SECS });
  });

  after(async () => {
    await stack?.stop();
  });

  test('expired code gives 403', async () => {
    const { code } = await verifyAtProvider(stack, 'alice');
    assert.match(code ?? '', CODE_PATTERN);
    await new Promise((resolve) => { setTimeout(resolve, (LIFETIME_SECS + 1) * 1000); });

    const login = await hubLogin(stack.hubUrl, 'alice', code);
    assert.equal(login.status, 403, 'a code was accepted after code_lifetime_secs');
  });
});

describe('hub login with push', () => {
  let stack;

  before(async () => {
    stack = await startStack({ flow: 'push' });
  });

  after(async () => {
    await stack?.stop();
  });

  test('approved push redirects to /hub/spawn', async () => {
    const [login, answer] = await Promise.all([
      hubLogin(stack.hubUrl, 'alice', 'the password is ignored'),
      answerPush(stack, 'alice'),
    ]);
    assert.match(answer.result, /^approved /);
    // ultraauthd keeps at most 64 plain characters of "Login to HOST (SERVICE)".
    const expectedMessage = `Login to ${os.hostname()} (jupyterhub)`;
    if (expectedMessage.length <= 64 && /^[\w .:()-]+$/.test(expectedMessage)) {
      assert.equal(answer.bindingMessage, expectedMessage);
    } else {
      assert.match(answer.bindingMessage ?? '', /^Login to /);
    }
    assert.equal(login.status, 302, `hub login with an approved push:\n${stack.logs()}`);
    assert.equal(login.location, '/hub/spawn');
    assert.match(stack.daemon.output, /event=login_approved user=alice service=jupyterhub \S+ flow=push/);
  });

  test('denied push gives 403 promptly', async (t) => {
    const [login, answer] = await Promise.all([
      hubLogin(stack.hubUrl, 'alice', 'the password is ignored'),
      answerPush(stack, 'alice', { deny: true }),
    ]);
    assert.match(answer.result, /^denied /);
    assert.equal(login.status, 403);
    // The daemon polls every second (default_interval_secs = 1) and waits up to 30 s
    // (wait_secs). A limit of 10 s separates a verdict from a wait that ran into wait_secs.
    assert.ok(login.elapsedMs < 10_000, `the denied login took ${Math.round(login.elapsedMs)} ms`);
    t.diagnostic(`denied push answered with 403 after ${Math.round(login.elapsedMs)} ms`);
  });
});
