// Test harness for the JupyterHub end-to-end tests: starts the bundled provider, ultraauthd
// and a real JupyterHub with configurable-http-proxy, all on free loopback ports, with
// every file in a temporary directory, and stops them again.
//
// JupyterHub runs PAMAuthenticator through pam_wrapper (see pam_wrapper_site/), with a PAM
// service file made from pam.d/jupyterhub, so /etc/pam.d stays untouched. The local users
// alice and bob must exist (setup.sh adds them).

import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');

const VENV = process.env.JUPYTERHUB_VENV ?? path.join(REPO, 'target/jupyterhub-venv');
const TARGET_DIR = process.env.ULTRAAUTH_TARGET_DIR ?? path.join(REPO, 'target/debug');
const PROVIDER_DIR = path.join(REPO, 'tests/provider');
const CONFIGURABLE_HTTP_PROXY = path.join(HERE, 'node_modules/.bin/configurable-http-proxy');

// Upper bound for one process to start or one log line to appear. Nothing asserts speed
// with it: the provider is ready in about 0.6 s and the hub in about 3 s on 2 cores.
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 60_000;

// The alphabet and form of ultraauthd's one-time codes: XXXX-XXXX.
export const CODE_PATTERN = /^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$/;

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------
// Processes

// A child process whose stdout and stderr are collected into `output`.
export class TestProcess {
  constructor(name, command, args, options = {}) {
    this.name = name;
    this.detached = Boolean(options.detached);
    this.output = '';
    this.listeners = new Set();
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => resolve({ code, signal }));
      this.child.on('error', (err) => {
        this.append(`${name}: cannot start ${command}: ${err.message}\n`);
        resolve({ code: null, signal: null, error: err });
      });
    });
    this.exitStatus = undefined;
    this.exited.then((status) => {
      this.exitStatus = status;
      this.notify();
    });
    this.child.stdout.on('data', (chunk) => this.append(chunk.toString('utf8')));
    this.child.stderr.on('data', (chunk) => this.append(chunk.toString('utf8')));
  }

  append(text) {
    this.output += text;
    this.notify();
  }

  notify() {
    for (const listener of this.listeners) {
      listener();
    }
  }

  // Wait until the output matches `pattern` and return the match. Rejects with the output
  // when the process exits first or after `timeoutMs`.
  waitFor(pattern, timeoutMs = START_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const finish = (error, match) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error) {
          reject(error);
        } else {
          resolve(match);
        }
      };
      const check = () => {
        const match = pattern.exec(this.output);
        if (match) {
          finish(undefined, match);
        } else if (this.exitStatus) {
          finish(new Error(`${this.name} exited (${JSON.stringify(this.exitStatus)}) before printing ${pattern}:\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        finish(new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.tail()}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  tail(lines = 40) {
    return this.output.split('\n').slice(-lines).map((line) => `  ${this.name}| ${line}`).join('\n');
  }

  // Stop with SIGTERM, then SIGKILL after STOP_TIMEOUT_MS. A process started with
  // `detached: true` leads its own process group, which gets the signals as a whole, so
  // children such as the hub's proxy stop too.
  async stop() {
    if (this.exitStatus || this.child.pid === undefined) {
      return;
    }
    const target = this.detached ? -this.child.pid : this.child.pid;
    const signal = (name) => {
      try {
        process.kill(target, name);
      } catch {
        // Already gone.
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
    if (this.detached) {
      // The group's other members may outlive its leader by a moment.
      signal('SIGKILL');
    }
  }
}

// ---------------------------------------------------------------------------
// Ports and files

// The ports the kernel hands out for bind(0) and outgoing connections. Ports below this
// range are taken only by programs that name them. A server started with port 0 (the
// provider here, or any other test on the machine) therefore cannot take a port that
// freePorts() picked while the hub is still starting, which takes seconds.
function ephemeralPortRange() {
  try {
    const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) {
      return { low, high };
    }
  } catch {
    // Not Linux: fall through to the default range of Linux.
  }
  return { low: 32768, high: 60999 };
}

function isPortFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

// Return `count` distinct free TCP ports on 127.0.0.1, drawn at random from 10000 up to
// the start of the ephemeral range. Another program that names the same port can still
// take it before the test binds it; the hub's readiness check in startStack catches that.
export async function freePorts(count) {
  const low = 10_000;
  const high = ephemeralPortRange().low - 1;
  if (high - low < 1000) {
    throw new Error(`the ephemeral port range starts at ${high + 1}, which leaves too few ports below it for the tests`);
  }
  const ports = new Set();
  for (let tries = 0; ports.size < count; tries += 1) {
    if (tries > 1000) {
      throw new Error(`found only ${ports.size} of ${count} free ports between ${low} and ${high}`);
    }
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (!ports.has(port) && await isPortFree(port)) {
      ports.add(port);
    }
  }
  return [...ports];
}

// Find a PAM module shipped by Debian (multiarch path) by file name.
function systemPamModule(name) {
  const candidates = [];
  for (const lib of ['/usr/lib', '/lib']) {
    for (const entry of fs.existsSync(lib) ? fs.readdirSync(lib) : []) {
      candidates.push(path.join(lib, entry, 'security', name));
    }
    candidates.push(path.join(lib, 'security', name));
  }
  const found = candidates.find((candidate) => fs.existsSync(candidate));
  if (!found) {
    throw new Error(`PAM module ${name} not found under /usr/lib or /lib (apt-get install libpam-modules)`);
  }
  return found;
}

// The shipped pam.d/jupyterhub with absolute module paths (pam_wrapper loads modules by
// absolute path) and the test daemon's socket.
function pamServiceFile(socket) {
  const shipped = fs.readFileSync(path.join(REPO, 'pam.d/jupyterhub'), 'utf8');
  const modulePath = path.join(TARGET_DIR, 'libpam_ultraauth.so');
  if (!fs.existsSync(modulePath)) {
    throw new Error(`${modulePath} is missing: run cargo build --workspace first`);
  }
  const text = shipped
    .replace(/\bpam_ultraauth\.so socket=\S+/, `${modulePath} socket=${socket}`)
    .replace(/(\s)pam_unix\.so\b/g, `$1${systemPamModule('pam_unix.so')}`);
  if (!text.includes(`${modulePath} socket=${socket}`)) {
    throw new Error('pam.d/jupyterhub has no "pam_ultraauth.so socket=..." line to point at the test daemon');
  }
  return text;
}

function daemonConfig({ issuer, dir, webPort, hubUrl, flow, codeLifetimeSecs, maxCodeAttempts, sessionLifetimeSecs }) {
  const secretFile = path.join(dir, 'client_secret');
  fs.writeFileSync(secretFile, 'test-secret-change-me\n', { mode: 0o600 });
  return `[provider]
issuer = "${issuer}"
client_id = "ultraauth-test"
client_secret_file = "${secretFile}"
# The test provider sends no poll interval; 1 s keeps push tests short.
default_interval_secs = 1

[socket]
path = "${path.join(dir, 'ultraauthd.sock')}"

[login]
wait_secs = 30

[web]
listen = "127.0.0.1:${webPort}"
public_url = "http://127.0.0.1:${webPort}"
return_url = "${hubUrl}/hub/login"
code_lifetime_secs = ${codeLifetimeSecs}
max_code_attempts = ${maxCodeAttempts}

[push]
login_hint = "{user}"

[services.jupyterhub]
flow = "${flow}"
# docs/jupyterhub.md requires 0: pamela sets no PAM_RHOST, so a verified session would let
# any password in for that user.
session_lifetime_secs = ${sessionLifetimeSecs}
`;
}

// JupyterHub starts configurable-http-proxy in a session of its own, so signals to the
// hub's process group miss it. The hub stops it on SIGTERM, but not when it is killed or
// signalled before its handlers are in place, so the proxy is killed here by its pid,
// after checking that the pid still belongs to a configurable-http-proxy.
function stopOrphanedProxy(pid) {
  if (!Number.isInteger(pid) || pid <= 0) {
    return;
  }
  let commandLine;
  try {
    commandLine = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // Already gone.
  }
  if (commandLine.includes('configurable-http-proxy')) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Exited in the meantime.
    }
  }
}

// ---------------------------------------------------------------------------
// The stack: provider, daemon and hub

// Start the provider, ultraauthd and JupyterHub. `flow` is the daemon's flow for the PAM
// service jupyterhub ("code" or "push"). Call stop() on the result, also after a failure.
export async function startStack({
  flow = 'code', codeLifetimeSecs = 120, maxCodeAttempts = 5, sessionLifetimeSecs = 0,
} = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ultraauth-hub-'));
  const [webPort, hubPort, hubApiPort, proxyApiPort] = await freePorts(4);
  const stack = {
    dir,
    publicUrl: `http://127.0.0.1:${webPort}`,
    hubUrl: `http://127.0.0.1:${hubPort}`,
    processes: [],
    async stop() {
      await Promise.all(this.processes.map((child) => child.stop()));
      stopOrphanedProxy(this.proxyPid);
      fs.rmSync(this.dir, { recursive: true, force: true });
    },
    // The last lines of every process's output, for assertion messages.
    logs() {
      return this.processes.map((child) => child.tail()).join('\n');
    },
  };

  try {
    // WebAuthn needs a host name as relying party ID, so the issuer is on localhost.
    stack.provider = new TestProcess('provider', process.execPath, [path.join(PROVIDER_DIR, 'server.js'), '--issuer-host', 'localhost'], {
      env: { ...process.env, OP_PORT: '0', OP_REDIRECT_URIS: `${stack.publicUrl}/callback` },
    });
    stack.processes.push(stack.provider);
    stack.issuer = (await stack.provider.waitFor(/^READY (\S+)$/m))[1];
    stack.providerOrigin = new URL(stack.issuer).origin;

    const configFile = path.join(dir, 'ultraauthd.toml');
    fs.writeFileSync(configFile, daemonConfig({
      issuer: stack.issuer, dir, webPort, hubUrl: stack.hubUrl, flow, codeLifetimeSecs, maxCodeAttempts, sessionLifetimeSecs,
    }));
    stack.daemon = new TestProcess('ultraauthd', path.join(TARGET_DIR, 'ultraauthd'), ['--config', configFile, '--no-syslog']);
    stack.processes.push(stack.daemon);
    await stack.daemon.waitFor(/event=web_listening/);

    const pamDir = path.join(dir, 'pam.d');
    fs.mkdirSync(pamDir);
    fs.writeFileSync(path.join(pamDir, 'jupyterhub'), pamServiceFile(path.join(dir, 'ultraauthd.sock')));
    fs.writeFileSync(path.join(pamDir, 'other'), `auth required ${systemPamModule('pam_deny.so')}\n`);

    const hub = new TestProcess('jupyterhub', path.join(VENV, 'bin/jupyterhub'), ['-f', path.join(HERE, 'hub_config.py')], {
      cwd: dir,
      detached: true,
      env: {
        ...process.env,
        PYTHONPATH: path.join(HERE, 'pam_wrapper_site'),
        PAM_WRAPPER: '1',
        PAM_WRAPPER_SERVICE_DIR: pamDir,
        ULTRAAUTH_REPO: REPO,
        ULTRAAUTH_START_URL: `${stack.publicUrl}/start`,
        HUB_PUBLIC_PORT: String(hubPort),
        HUB_API_PORT: String(hubApiPort),
        HUB_PROXY_API_PORT: String(proxyApiPort),
        CONFIGURABLE_HTTP_PROXY,
      },
    });
    stack.hub = hub;
    stack.processes.push(hub);
    await hub.waitFor(/JupyterHub is now running at/);
    stack.proxyPid = Number(fs.readFileSync(path.join(dir, 'jupyterhub-proxy.pid'), 'utf8'));

    // JupyterHub takes any server on the proxy's port as its proxy, so check that the port
    // serves this hub's login page with the UltraAuth button.
    const loginPage = await httpRequest('GET', `${stack.hubUrl}/hub/login`);
    if (loginPage.status !== 200 || !loginPage.body.includes('id="ultraauth-start"')) {
      throw new Error(`GET ${stack.hubUrl}/hub/login returned ${loginPage.status} without the UltraAuth button: `
        + 'another program may have taken the port');
    }
    return stack;
  } catch (err) {
    const logs = stack.logs();
    await stack.stop();
    err.message += `\n${logs}`;
    throw err;
  }
}

// ---------------------------------------------------------------------------
// HTTP

// One HTTP request without redirects. Returns { status, headers, body }.
export function httpRequest(method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({
        status: response.statusCode,
        headers: response.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`${method} ${url} timed out after ${REQUEST_TIMEOUT_MS} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

// The name=value pairs of Set-Cookie headers, joined for a Cookie header.
function cookieHeader(response) {
  return (response.headers['set-cookie'] ?? []).map((cookie) => cookie.split(';')[0]).join('; ');
}

// Log in at the hub as a browser does: GET /hub/login for the _xsrf cookie and form field,
// then POST username, password and _xsrf. Returns { status, location, elapsedMs, body }.
export async function hubLogin(hubUrl, username, password) {
  const page = await httpRequest('GET', `${hubUrl}/hub/login`);
  if (page.status !== 200) {
    throw new Error(`GET /hub/login returned ${page.status}: ${page.body.slice(0, 300)}`);
  }
  const xsrf = /name="_xsrf" value="([^"]*)"/.exec(page.body)?.[1];
  if (!xsrf) {
    throw new Error('the hub login page has no _xsrf field');
  }

  const started = performance.now();
  const response = await httpRequest('POST', `${hubUrl}/hub/login`, {
    headers: { cookie: cookieHeader(page), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, _xsrf: xsrf }).toString(),
  });
  return {
    status: response.status,
    location: response.headers.location,
    elapsedMs: performance.now() - started,
    body: response.body,
  };
}

// ---------------------------------------------------------------------------
// The user's browser verification, without a browser

function outputElement(html, id) {
  return new RegExp(`<output id="${id}">([^<]*)</output>`).exec(html)?.[1];
}

// Run the daemon's /start, the provider's password login as `username` (approve.js) and
// the callback. Returns { user, code, response } with the result page's response.
export async function verifyAtProvider(stack, username) {
  const start = await httpRequest('GET', `${stack.publicUrl}/start`);
  if (start.status !== 302 || !start.headers.location) {
    throw new Error(`GET /start returned ${start.status} without a redirect:\n${start.body}`);
  }

  const { stdout } = await execFileAsync(process.execPath, [
    path.join(PROVIDER_DIR, 'approve.js'), 'code', '--url', start.headers.location, '--username', username,
  ], { timeout: REQUEST_TIMEOUT_MS });
  const callbackUrl = stdout.trim();
  if (!callbackUrl.startsWith(`${stack.publicUrl}/callback?`)) {
    throw new Error(`the provider did not redirect to the daemon's callback: ${callbackUrl}`);
  }

  const response = await httpRequest('GET', callbackUrl);
  return {
    user: outputElement(response.body, 'ultraauth-user'),
    code: outputElement(response.body, 'ultraauth-code'),
    response,
  };
}

// Wait for a pending CIBA request for `username` and approve or deny it (approve.js push).
// Returns { result, bindingMessage }: approve.js's result line ("approved ID" or
// "denied ID") and the request's binding_message.
export async function answerPush(stack, username, { deny = false } = {}) {
  const args = [path.join(PROVIDER_DIR, 'approve.js'), 'push', '--base', stack.providerOrigin, '--username', username, '--wait', '20'];
  if (deny) {
    args.push('--deny');
  }
  const { stdout, stderr } = await execFileAsync(process.execPath, args, { timeout: REQUEST_TIMEOUT_MS });
  return {
    result: stdout.trim(),
    bindingMessage: /\(binding message "([^"]*)"\)/.exec(stderr)?.[1],
  };
}
