#!/usr/bin/env node
// Runs the ultraauth benchmark and prints one table. bench/run.sh starts it after building
// the release binaries and bench/pam_bench. docs/benchmarks.md describes each part.
//
// Usage: node bench/bench.mjs --target-dir DIR --pam-bench PATH [--quick] [--results FILE]
//
// Exit status: 0 when every login that must succeed did and cached logins made no
// provider request; 1 otherwise; 2 on a usage error. No timing is asserted.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { Login, loginRequest, startLogins, tallyOutcomes } from './lib/daemon_client.mjs';
import {
  countRequests, deadline, fileSize, forEachLimited, PeakSampler, runCommand, sampleProcess, sleep, startDaemon, startEchoServer,
  startProvider,
} from './lib/processes.mjs';
import { formatReport } from './lib/report.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Sizes of each part. docs/benchmarks.md records a full run, and --quick checks in about
// a minute that everything works.
const SIZES = {
  full: {
    cachedLogins: 20_000,
    cachedRounds: 20,
    freshDeviceLogins: 10,
    pendingCounts: [1_000, 10_000],
    pendingWindowSecs: 30,
    freshPerCpuLogins: 3_000,
    bundledPendingCount: 1_000,
  },
  quick: {
    cachedLogins: 50,
    cachedRounds: 5,
    freshDeviceLogins: 3,
    pendingCounts: [100],
    pendingWindowSecs: 10,
    freshPerCpuLogins: 200,
    bundledPendingCount: 0,
  },
};

// RFC 8628's default poll interval, which the daemon also uses by default.
const POLL_INTERVAL_SECS = 5;
// Logins waiting for their device prompt at once while pending logins are opened.
const MAX_STARTING = 200;
// Logins in progress at once when measuring fresh logins per CPU second.
const FRESH_CONCURRENCY = 250;
// approve.js runs at once against the bundled provider.
const APPROVE_JS_CONCURRENCY = 4;
// Approvals per request to the scripted provider, and the pace of a mass approval. The
// scripted provider signs each ID token when it is approved, and signing 10,000 at once
// would stall its token endpoint for the daemon's polls. Real users approve over time
// anyway.
const APPROVE_BATCH = 50;
const APPROVALS_PER_SEC = 250;
const DISCOVERY = 'GET /op/.well-known/openid-configuration';
// PAM_RHOST of the cached logins. The daemon keeps a verified session only for a login
// with a remote host or a terminal, and sshd sets the client's address. It is only a
// string in the session key: nothing connects to it.
const CACHED_RHOST = '127.0.0.1';
// dlopen and dlclose cycles timed for the module alone.
const MODULE_LOADS = 500;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      'target-dir': { type: 'string' },
      'pam-bench': { type: 'string' },
      quick: { type: 'boolean', default: false },
      results: { type: 'string' },
    },
  });
  if (!values['target-dir'] || !values['pam-bench']) {
    process.stderr.write('Usage: node bench/bench.mjs --target-dir DIR --pam-bench PATH [--quick] [--results FILE]\n');
    process.exit(2);
  }
  const targetDir = path.resolve(values['target-dir']);
  return {
    quick: values.quick,
    sizes: values.quick ? SIZES.quick : SIZES.full,
    daemonBinary: path.join(targetDir, 'release/ultraauthd'),
    modulePath: path.join(targetDir, 'release/libpam_ultraauth.so'),
    pamBench: path.resolve(values['pam-bench']),
    logDir: path.join(targetDir, 'bench-logs'),
    results: values.results ?? path.join(targetDir, 'bench-results.json'),
  };
}

function progress(message) {
  process.stderr.write(`bench: ${message}\n`);
}

// Every child started here, so a failure or a signal stops them all.
const children = new Set();

async function started(childPromise) {
  const child = await childPromise;
  children.add(child);
  return child;
}

async function stopped(child) {
  children.delete(child);
  return child.stop();
}

function machineDescription() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const meminfo = fs.readFileSync('/proc/meminfo', 'utf8');
  return {
    nproc: os.availableParallelism(),
    cpuModel: (/^model name\s*:\s*(.+)$/m.exec(cpuinfo) ?? [])[1] ?? 'unknown',
    memTotalGiB: Number((/^MemTotal:\s+(\d+)/m.exec(meminfo) ?? [])[1]) / 1024 / 1024,
    kernel: os.release(),
    node: process.version,
  };
}

function pad(number) {
  return String(number).padStart(5, '0');
}

// ---------------------------------------------------------------------------
// Approving logins

// Plays the user for one login at the bundled provider with tests/provider/approve.js.
async function approveWithApproveJs(issuer, login, username) {
  const result = await runCommand('node', [
    path.join(REPO, 'tests/provider/approve.js'), 'device', '--issuer', issuer, '--user-code', login.userCode, '--username', username,
  ], { timeoutMs: 60_000 });
  if (result.code !== 0) {
    progress(`approve.js failed for one login: ${result.stderr.trim().split('\n').pop()}`);
  }
  return result.code === 0;
}

// Approves logins at the scripted provider, each for the user it logs in as, in batches
// of APPROVE_BATCH at most APPROVALS_PER_SEC.
async function approveAtScriptedProvider(issuer, logins) {
  const url = new URL('/bench/approve', issuer);
  const startedAt = performance.now();
  let unknown = 0;
  for (let start = 0; start < logins.length; start += APPROVE_BATCH) {
    const due = startedAt + (start / APPROVALS_PER_SEC) * 1000;
    if (performance.now() < due) {
      await sleep(due - performance.now());
    }
    const batch = logins.slice(start, start + APPROVE_BATCH).map((login) => ({ user_code: login.userCode, username: login.request.user }));
    const response = await postJson(url, batch);
    if (response.status !== 200) {
      throw new Error(`approving at the scripted provider failed: HTTP ${response.status} ${JSON.stringify(response.body)}`);
    }
    unknown += response.body.unknown.length;
  }
  return unknown;
}

// POSTs `value` as JSON on a connection of its own and resolves with { status, body }.
// A fresh connection per request rules out reusing one the server is just closing.
function postJson(url, value) {
  const payload = JSON.stringify(value);
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      agent: false,
      timeout: 60_000,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { text += chunk; });
      response.on('end', () => {
        try {
          resolve({ status: response.statusCode, body: JSON.parse(text) });
        } catch {
          reject(new Error(`POST ${url} returned HTTP ${response.statusCode} with a body that is not JSON`));
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error(`POST ${url} timed out after 60 s`)));
    request.on('error', reject);
    request.end(payload);
  });
}

// Approves logins as their prompts arrive, gathering them for up to 50 ms per request.
class BatchingApprover {
  constructor(issuer) {
    this.issuer = issuer;
    this.queue = [];
    this.timer = null;
    this.inFlight = new Set();
    this.unknown = 0;
  }

  add(login) {
    this.queue.push(login);
    this.timer ??= setTimeout(() => this.flush(), 50);
  }

  flush() {
    this.timer = null;
    const batch = this.queue.splice(0);
    const request = approveAtScriptedProvider(this.issuer, batch).then((unknown) => { this.unknown += unknown; });
    this.inFlight.add(request);
    request.finally(() => this.inFlight.delete(request));
  }

  async drain() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.flush();
    }
    await Promise.all(this.inFlight);
  }
}

// Waits at most `timeoutMs` until every login has ended, then ends the rest with an error.
async function awaitVerdicts(logins, timeoutMs) {
  const all = Promise.all(logins.map((login) => login.finished));
  const done = await Promise.race([all.then(() => true), deadline(timeoutMs)]);
  if (!done) {
    for (const login of logins) {
      login.end(`no verdict within ${timeoutMs} ms after approval`);
    }
  }
}

function countApproved(logins) {
  return logins.filter((login) => login.outcome === 'approved').length;
}

// ---------------------------------------------------------------------------
// Part A: the bundled provider. Fresh device logins (provider requests per login), then
// cached logins against the floor, then the footprint.

async function benchBundledProvider(options, workDir) {
  const { sizes } = options;
  const providerLog = path.join(options.logDir, 'bundled-provider.log');
  const provider = await started(startProvider('bundled', { repo: REPO, logPath: providerLog }));
  const daemon = await started(startDaemon({
    binary: options.daemonBinary, issuer: provider.issuer, dir: workDir, name: 'daemon-bundled',
    logPath: path.join(options.logDir, 'bundled-daemon.log'), providerLogPath: providerLog,
    settings: { intervalSecs: POLL_INTERVAL_SECS, lifetimeSecs: 3600, waitSecs: 100 },
  }));
  await sleep(1000);
  const idle = sampleProcess(daemon.pid);

  // Fresh device logins of alice, one per PAM service so no verified session covers the
  // next. The first uses the service of the cached-login series and so primes it.
  progress(`${sizes.freshDeviceLogins} fresh device logins against the bundled provider`);
  const services = Array.from({ length: sizes.freshDeviceLogins }, (_, i) => (i === 0 ? 'bench-ultraauth' : `bench-fresh-${i}`));
  const fromByte = fileSize(providerLog);
  const approvals = [];
  const logins = await startLogins(daemon.socketPath, services.length, {
    makeRequest: (i) => loginRequest('alice', services[i], 110, CACHED_RHOST),
    maxStarting: services.length,
    timeoutMs: 110_000,
  });
  await forEachLimited(logins.filter((login) => login.userCode), APPROVE_JS_CONCURRENCY, async (login) => {
    approvals.push(await approveWithApproveJs(provider.issuer, login, 'alice'));
  });
  await awaitVerdicts(logins, 60_000);
  // The provider logs a request once its response is sent, which can be a moment after
  // the daemon has already used it.
  await sleep(500);
  const freshCounts = countRequests(providerLog, fromByte);
  const fresh = {
    logins: logins.length,
    approved: countApproved(logins),
    outcomes: tallyOutcomes(logins),
    discoveryAtStart: 1,
    discovery: freshCounts[DISCOVERY] ?? 0,
    jwks: freshCounts['GET /op/jwks'] ?? 0,
    deviceAuthorizations: freshCounts['POST /op/device/auth'] ?? 0,
    tokenPolls: freshCounts['POST /op/token'] ?? 0,
    userinfo: freshCounts['GET /op/me'] ?? 0,
  };

  const cached = await benchCachedLogins(options, workDir, daemon, providerLog);
  const footprint = await benchFootprint(options, workDir, idle);

  await stopped(daemon);
  await stopped(provider);
  return { fresh, cached, footprint };
}

function pamWrapperEnv(serviceDir) {
  return { LD_PRELOAD: 'libpam_wrapper.so', PAM_WRAPPER: '1', PAM_WRAPPER_SERVICE_DIR: serviceDir };
}

function writePamServices(workDir, options, socketPath) {
  const serviceDir = path.join(workDir, 'pam.d');
  fs.mkdirSync(serviceDir, { recursive: true });
  fs.writeFileSync(path.join(serviceDir, 'bench-permit'), 'auth required pam_permit.so\n');
  fs.writeFileSync(path.join(serviceDir, 'bench-ultraauth'), `auth required ${options.modulePath} socket=${socketPath} timeout=10\n`);
  fs.writeFileSync(path.join(serviceDir, 'other'), 'auth required pam_deny.so\n');
  return serviceDir;
}

async function benchCachedLogins(options, workDir, daemon, providerLog) {
  const { sizes } = options;
  progress(`${sizes.cachedLogins} cached logins per series (floor, pam_permit, pam_ultraauth)`);
  const serviceDir = writePamServices(workDir, options, daemon.socketPath);
  const echoSocket = path.join(workDir, 'echo.sock');
  const echo = await started(startEchoServer(options.pamBench, echoSocket, path.join(options.logDir, 'echo-server.log')));

  const fromByte = fileSize(providerLog);
  const result = await runCommand(options.pamBench,
    ['compare', echoSocket, daemon.socketPath, 'bench-permit', 'bench-ultraauth', 'alice', CACHED_RHOST, String(sizes.cachedLogins), String(sizes.cachedRounds)],
    { env: pamWrapperEnv(serviceDir), timeoutMs: 600_000 });
  await stopped(echo);
  if (result.code !== 0 && !result.stdout.trim()) {
    throw new Error(`pam_bench compare failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
  const series = JSON.parse(result.stdout);
  const providerRequests = Object.values(countRequests(providerLog, fromByte)).reduce((sum, n) => sum + n, 0);

  const load = await runCommand(options.pamBench, ['load', options.modulePath, String(MODULE_LOADS)]);
  return {
    series,
    failures: Object.values(series).reduce((sum, entry) => sum + entry.failures, 0),
    errors: result.stderr.trim().split('\n').filter(Boolean).slice(0, 5),
    ratio: (series.module.median_us - series.permit.median_us) / series.floor.median_us,
    providerRequests,
    moduleLoad: load.code === 0 ? JSON.parse(load.stdout) : null,
  };
}

async function benchFootprint(options, workDir, daemonIdle) {
  const serviceDir = path.join(workDir, 'pam.d');
  const env = pamWrapperEnv(serviceDir);
  const rss = {};
  for (const service of ['bench-permit', 'bench-ultraauth']) {
    const result = await runCommand(options.pamBench, ['rss', service, 'alice', CACHED_RHOST], { env });
    if (result.code !== 0) {
      throw new Error(`pam_bench rss ${service} failed: ${result.stderr.trim()}`);
    }
    rss[service] = JSON.parse(result.stdout);
  }
  const growth = (sample, field) => sample[`${field}_during_kb`] - sample[`${field}_before_kb`];

  const strippedPath = path.join(workDir, 'libpam_ultraauth.stripped.so');
  const strip = await runCommand('strip', ['--strip-unneeded', '-o', strippedPath, options.modulePath]);
  return {
    moduleBytes: fileSize(options.modulePath),
    moduleStrippedBytes: strip.code === 0 ? fileSize(strippedPath) : null,
    hostRssAddedKb: growth(rss['bench-ultraauth'], 'rss') - growth(rss['bench-permit'], 'rss'),
    hostPrivateDirtyAddedKb: growth(rss['bench-ultraauth'], 'private_dirty') - growth(rss['bench-permit'], 'private_dirty'),
    daemonIdle,
  };
}

// ---------------------------------------------------------------------------
// Part B: many device logins pending at once, then approved.

async function benchPending(options, workDir, { kind, count, approveAll }) {
  const { sizes } = options;
  const name = `pending-${kind}-${count}`;
  progress(`${count} pending device logins against the ${kind} provider`);
  const providerLog = path.join(options.logDir, `${name}-provider.log`);
  const daemonLog = path.join(options.logDir, `${name}-daemon.log`);
  // ES256 because the scripted provider signs an RS256 token in about 1.5 ms. On a busy
  // 2-core machine, 250 of those a second on top of 2,000 polls a second delayed polls past
  // the daemon's 10-second request timeout.
  const provider = await started(startProvider(kind, {
    repo: REPO, logPath: providerLog, env: { OP_DEVICE_TTL: '1800' }, args: kind === 'scripted' ? ['--id-token-alg', 'ES256'] : [],
  }));
  const daemon = await started(startDaemon({
    binary: options.daemonBinary, issuer: provider.issuer, dir: workDir, name: `daemon-${name}`, logPath: daemonLog,
    providerLogPath: providerLog, settings: { intervalSecs: POLL_INTERVAL_SECS, lifetimeSecs: 300, waitSecs: 1800 },
  }));
  const idle = sampleProcess(daemon.pid);
  const sampler = new PeakSampler(daemon.pid, 500);

  // The scripted provider issues tokens for any username, but the bundled one has only
  // its four accounts, so there every login is alice's, each through its own PAM service:
  // the daemon joins logins of the same user, service and host to one pending flow.
  const userFor = (i) => (kind === 'scripted' ? `bench${pad(i)}` : 'alice');
  const serviceFor = (i) => (kind === 'scripted' ? 'bench-pending' : `bench-pending-${pad(i)}`);
  sampler.phase('ramp');
  const rampStarted = performance.now();
  const logins = await startLogins(daemon.socketPath, count, {
    makeRequest: (i) => loginRequest(userFor(i), serviceFor(i), 1900),
    maxStarting: MAX_STARTING,
    timeoutMs: 1_800_000,
  });
  const rampSecs = (performance.now() - rampStarted) / 1000;
  const prompted = logins.filter((login) => login.userCode !== null).length;
  progress(`${prompted} of ${count} logins got their prompt in ${rampSecs.toFixed(1)} s; waiting ${2 * POLL_INTERVAL_SECS} s, then measuring for ${sizes.pendingWindowSecs} s`);

  // Two poll intervals after the last prompt every login polls at its steady pace.
  await sleep(2 * POLL_INTERVAL_SECS * 1000);
  sampler.phase('waiting');
  const windowStart = sampleProcess(daemon.pid);
  const providerStart = sampleProcess(provider.pid);
  const fromByte = fileSize(providerLog);
  const windowStartedAt = performance.now();
  await sleep(sizes.pendingWindowSecs * 1000);
  const windowSecs = (performance.now() - windowStartedAt) / 1000;
  const windowEnd = sampleProcess(daemon.pid);
  const providerEnd = sampleProcess(provider.pid);
  const windowCounts = countRequests(providerLog, fromByte);
  const stillPending = logins.filter((login) => login.userCode !== null && login.finishedAt === null);
  const endedEarly = tallyOutcomes(logins.filter((login) => login.finishedAt !== null));

  let toApprove = stillPending;
  if (!approveAll) {
    // approve.js approves only a sample spread over the ramp, and the rest are cancelled.
    const step = Math.max(1, Math.floor(stillPending.length / 10));
    toApprove = stillPending.filter((_, i) => i % step === 0).slice(0, 10);
    for (const login of stillPending) {
      if (!toApprove.includes(login)) {
        login.end('cancelled by the benchmark: not in the approved sample');
      }
    }
  }
  progress(`approving ${toApprove.length} logins`);
  sampler.phase('approval');
  const approveStarted = performance.now();
  if (kind === 'scripted') {
    await approveAtScriptedProvider(provider.issuer, toApprove);
  } else {
    await forEachLimited(toApprove, APPROVE_JS_CONCURRENCY, (login) => approveWithApproveJs(provider.issuer, login, login.request.user));
  }
  await awaitVerdicts(toApprove, (3 * POLL_INTERVAL_SECS + 60) * 1000);
  const approveSecs = (performance.now() - approveStarted) / 1000;
  const peaks = sampler.stop();
  const final = sampleProcess(daemon.pid);
  const totalCounts = countRequests(providerLog);

  await stopped(daemon);
  await stopped(provider);
  return {
    kind,
    count,
    prompted,
    rampSecs,
    idle,
    stillPendingAfterWindow: stillPending.length,
    endedEarly,
    denialReasons: denialReasons(daemonLog),
    windowSecs,
    waiting: peaks.waiting,
    peaks,
    // VmHWM can lag a sampled VmRSS by a page or two, so the peak is the larger of both.
    peakRssKb: Math.max(final.hwmKb, ...Object.values(peaks).map((peak) => peak.rssKb)),
    cpuPerSec: (windowEnd.cpuSecs - windowStart.cpuSecs) / windowSecs,
    providerCpuPerSec: (providerEnd.cpuSecs - providerStart.cpuSecs) / windowSecs,
    pollsPerSec: (windowCounts['POST /op/token'] ?? 0) / windowSecs,
    approvedSample: toApprove.length,
    approved: countApproved(toApprove),
    approvalOutcomes: tallyOutcomes(toApprove),
    approveSecs,
    approvalsPerSec: APPROVALS_PER_SEC,
    requests: {
      discovery: totalCounts[DISCOVERY] ?? 0,
      jwks: totalCounts['GET /op/jwks'] ?? 0,
      deviceAuthorizations: totalCounts['POST /op/device/auth'] ?? 0,
      tokenPolls: totalCounts['POST /op/token'] ?? 0,
    },
  };
}

// Tallies the reasons of the daemon's login_denied audit lines.
function denialReasons(daemonLog) {
  const tally = {};
  for (const match of fs.readFileSync(daemonLog, 'utf8').matchAll(/event=login_denied .*?reason="([^"]*)"/g)) {
    tally[match[1]] = (tally[match[1]] ?? 0) + 1;
  }
  return tally;
}

// ---------------------------------------------------------------------------
// Part C: fresh logins that the provider approves at once, per second of daemon CPU.

async function benchFreshPerCpu(options, workDir) {
  const count = options.sizes.freshPerCpuLogins;
  progress(`${count} fresh logins approved at once, ${FRESH_CONCURRENCY} at a time`);
  const providerLog = path.join(options.logDir, 'fresh-provider.log');
  const provider = await started(startProvider('scripted', { repo: REPO, logPath: providerLog }));
  const daemon = await started(startDaemon({
    binary: options.daemonBinary, issuer: provider.issuer, dir: workDir, name: 'daemon-fresh',
    logPath: path.join(options.logDir, 'fresh-daemon.log'), providerLogPath: providerLog,
    settings: { intervalSecs: 1, lifetimeSecs: 300, waitSecs: 100 },
  }));
  const approver = new BatchingApprover(provider.issuer);

  const before = sampleProcess(daemon.pid);
  const startedAt = performance.now();
  const logins = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const login = new Login(daemon.socketPath, loginRequest(`fresh${pad(next)}`, 'bench-fresh', 110), 110_000);
      next += 1;
      logins.push(login);
      await login.prompted;
      if (login.userCode !== null) {
        approver.add(login);
      }
      await login.finished;
    }
  };
  await Promise.all(Array.from({ length: FRESH_CONCURRENCY }, worker));
  await approver.drain();
  const wallSecs = (performance.now() - startedAt) / 1000;
  const after = sampleProcess(daemon.pid);
  const counts = countRequests(providerLog);

  await stopped(daemon);
  await stopped(provider);
  const approved = countApproved(logins);
  const cpuSecs = after.cpuSecs - before.cpuSecs;
  return {
    logins: count,
    approved,
    outcomes: tallyOutcomes(logins),
    cpuSecs,
    loginsPerCpuSec: approved / cpuSecs,
    loginsPerWallSec: approved / wallSecs,
    concurrency: FRESH_CONCURRENCY,
    deviceAuthorizationsPerLogin: (counts['POST /op/device/auth'] ?? 0) / count,
    tokenPollsPerLogin: (counts['POST /op/token'] ?? 0) / count,
    discovery: counts[DISCOVERY] ?? 0,
    jwks: counts['GET /op/jwks'] ?? 0,
  };
}

// ---------------------------------------------------------------------------

function succeeded(results) {
  const problems = [];
  const { bundled, pending, freshPerCpu } = results;
  if (bundled.fresh.approved !== bundled.fresh.logins) {
    problems.push(`fresh device logins: ${bundled.fresh.approved} of ${bundled.fresh.logins} approved`);
  }
  if (bundled.cached.failures !== 0) {
    problems.push(`cached logins: ${bundled.cached.failures} failed`);
  }
  if (bundled.cached.providerRequests !== 0) {
    problems.push(`cached logins made ${bundled.cached.providerRequests} provider requests`);
  }
  for (const scenario of pending.filter((entry) => entry.kind === 'scripted')) {
    if (scenario.approved !== scenario.count) {
      problems.push(`${scenario.count} pending logins: ${scenario.approved} approved`);
    }
  }
  if (freshPerCpu.approved !== freshPerCpu.logins) {
    problems.push(`fresh logins per CPU second: ${freshPerCpu.approved} of ${freshPerCpu.logins} approved`);
  }
  return problems;
}

async function main() {
  const options = parseOptions();
  fs.rmSync(options.logDir, { recursive: true, force: true });
  fs.mkdirSync(options.logDir, { recursive: true });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ultraauth-bench-'));
  const results = {
    mode: options.quick ? 'quick' : 'full',
    date: new Date().toISOString(),
    machine: machineDescription(),
    command: `bash bench/run.sh${options.quick ? ' --quick' : ''}`,
  };
  const startedAt = performance.now();

  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, async () => {
      await Promise.all([...children].map((child) => child.stop()));
      process.exit(130);
    });
  }

  try {
    results.bundled = await benchBundledProvider(options, workDir);
    results.pending = [];
    for (const count of options.sizes.pendingCounts) {
      results.pending.push(await benchPending(options, workDir, { kind: 'scripted', count, approveAll: true }));
    }
    if (options.sizes.bundledPendingCount > 0) {
      results.pending.push(await benchPending(options, workDir, { kind: 'bundled', count: options.sizes.bundledPendingCount, approveAll: false }));
    }
    results.freshPerCpu = await benchFreshPerCpu(options, workDir);
  } finally {
    await Promise.all([...children].map((child) => stopped(child)));
    fs.rmSync(workDir, { recursive: true, force: true });
  }

  results.runtimeSecs = (performance.now() - startedAt) / 1000;
  results.problems = succeeded(results);
  fs.writeFileSync(options.results, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(formatReport(results));
  progress(`results in ${options.results}, logs in ${options.logDir}`);
  if (results.problems.length > 0) {
    progress(`FAILED: ${results.problems.join('; ')}`);
    process.exit(1);
  }
}

main().catch((err) => {
  progress(`error: ${err.stack ?? err}${err.cause ? `\ncaused by: ${err.cause}` : ''}`);
  process.exit(1);
});
