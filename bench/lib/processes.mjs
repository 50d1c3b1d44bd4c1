// Starting, sampling and stopping the processes a benchmark part needs: a provider, the
// daemon, the echo server, helper commands. Every wait here is bounded.

import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';

export const CLOCK_TICKS_PER_SEC = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Resolves with `null` after `ms` without keeping the process alive: the losing side of
// a Promise.race.
export function deadline(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms, null).unref());
}

// Waits until `condition()` is true, checking every 50 ms, and throws after `timeoutMs`.
export async function waitUntil(what, condition, timeoutMs = START_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    }
    await sleep(50);
  }
}

// A child process whose stderr (and stdout, unless `readyLine` is wanted) goes to `logPath`.
class Child {
  constructor(name, command, args, { logPath, env = {}, readyLine = false }) {
    this.name = name;
    this.logPath = logPath;
    const log = fs.openSync(logPath, 'a');
    this.process = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', readyLine ? 'pipe' : log, log],
    });
    fs.closeSync(log);
    this.pid = this.process.pid;
    this.exited = new Promise((resolve) => this.process.on('exit', (code, signal) => resolve({ code, signal })));
    this.exitStatus = null;
    this.exited.then((status) => { this.exitStatus = status; });
  }

  // Resolves with the first stdout line, which must start with `prefix`.
  async readyLine(prefix) {
    const lines = readline.createInterface({ input: this.process.stdout });
    const first = await Promise.race([
      new Promise((resolve) => lines.once('line', resolve)),
      this.exited.then(() => null),
      deadline(START_TIMEOUT_MS),
    ]);
    lines.on('line', () => {});
    if (first === null || !first.startsWith(prefix)) {
      throw new Error(`${this.name} did not start (first line ${JSON.stringify(first)}); see ${this.logPath}`);
    }
    return first.slice(prefix.length).trim();
  }

  async stop() {
    if (this.exitStatus !== null) {
      return this.exitStatus;
    }
    this.process.kill('SIGTERM');
    const stopped = await Promise.race([this.exited, deadline(STOP_TIMEOUT_MS)]);
    if (stopped === null) {
      this.process.kill('SIGKILL');
      return this.exited;
    }
    return stopped;
  }
}

// Starts the bundled oidc-provider (tests/provider/server.js) or bench/scripted_provider.mjs.
export async function startProvider(kind, { repo, logPath, env = {}, args = [] }) {
  const script = kind === 'bundled' ? path.join(repo, 'tests/provider/server.js') : path.join(repo, 'bench/scripted_provider.mjs');
  const child = new Child(`${kind} provider`, 'node', [script, ...args], { logPath, env: { OP_PORT: '0', ...env }, readyLine: true });
  child.issuer = await child.readyLine('READY ');
  return child;
}

// Writes a configuration for one daemon in `dir` and starts it with --no-syslog, so its
// audit lines go to `logPath`. `settings` sets default_interval_secs, lifetime_secs and
// wait_secs.
export async function startDaemon({ binary, issuer, dir, name, settings, logPath, providerLogPath }) {
  fs.mkdirSync(dir, { recursive: true });
  const secretPath = path.join(dir, `${name}.secret`);
  fs.writeFileSync(secretPath, 'test-secret-change-me\n', { mode: 0o600 });
  const socketPath = path.join(dir, `${name}.sock`);
  const configPath = path.join(dir, `${name}.toml`);
  fs.writeFileSync(configPath, `[provider]
issuer = "${issuer}"
client_id = "ultraauth-test"
client_secret_file = "${secretPath}"
default_interval_secs = ${settings.intervalSecs}

[socket]
path = "${socketPath}"

[sessions]
lifetime_secs = ${settings.lifetimeSecs}

[login]
wait_secs = ${settings.waitSecs}
`);

  const child = new Child(`ultraauthd (${name})`, binary, ['--config', configPath, '--no-syslog'], { logPath });
  child.socketPath = socketPath;
  await waitUntil(`${child.name} logs event=daemon_started`, () => {
    if (child.exitStatus !== null) {
      throw new Error(`${child.name} exited at start; see ${logPath}`);
    }
    return fs.existsSync(logPath) && fs.readFileSync(logPath, 'utf8').includes('event=daemon_started');
  });
  // The daemon fetches discovery right after it starts; wait for that request, so it is
  // not taken for part of the first login.
  await waitUntil(`${child.name} fetches discovery`, () => (countRequests(providerLogPath)['GET /op/.well-known/openid-configuration'] ?? 0) > 0);
  return child;
}

export function startEchoServer(binary, socketPath, logPath) {
  const child = new Child('echo server', binary, ['echo-server', socketPath], { logPath, readyLine: true });
  return child.readyLine('READY').then(() => child);
}

// Memory, threads, CPU time and open files of a process, from /proc.
export function sampleProcess(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number((new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status) ?? [])[1]);
  // Fields after the command name, which is in parentheses and may contain spaces:
  // utime and stime are fields 14 and 15 of proc_pid_stat(5).
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(afterName[11]) + Number(afterName[12]);
  return {
    rssKb: field('VmRSS'),
    hwmKb: field('VmHWM'),
    threads: field('Threads'),
    cpuSecs: cpuTicks / CLOCK_TICKS_PER_SEC,
    openFiles: fs.readdirSync(`/proc/${pid}/fd`).length,
  };
}

// Samples a process every `intervalMs` and keeps the largest RSS, thread count and open
// files seen in each named phase.
export class PeakSampler {
  constructor(pid, intervalMs) {
    this.pid = pid;
    this.peaks = {};
    this.current = 'start';
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  phase(name) {
    this.sample();
    this.current = name;
    this.sample();
  }

  sample() {
    let sample;
    try {
      sample = sampleProcess(this.pid);
    } catch {
      return; // the process has exited
    }
    const peak = this.peaks[this.current] ?? { rssKb: 0, threads: 0, openFiles: 0 };
    this.peaks[this.current] = {
      rssKb: Math.max(peak.rssKb, sample.rssKb),
      threads: Math.max(peak.threads, sample.threads),
      openFiles: Math.max(peak.openFiles, sample.openFiles),
    };
  }

  stop() {
    this.sample();
    clearInterval(this.timer);
    return this.peaks;
  }
}

// Counts the provider's request log lines ("METHOD PATH STATUS ...") by "METHOD PATH",
// starting at byte `fromByte`. A request never made has no key in the returned object.
export function countRequests(logPath, fromByte = 0) {
  const counts = {};
  const text = fs.readFileSync(logPath).subarray(fromByte).toString('utf8');
  for (const line of text.split('\n')) {
    const match = /^(GET|POST|PUT|DELETE|HEAD|OPTIONS) (\S+) \d{3}\b/.exec(line);
    if (match) {
      const key = `${match[1]} ${match[2]}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}

export function fileSize(filePath) {
  return fs.statSync(filePath).size;
}

// Runs a command to its end and resolves with { code, stdout, stderr }. A command still
// running after `timeoutMs` is killed.
export function runCommand(command, args, { env = {}, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// Runs `task(item)` for every item with at most `limit` running at once.
export async function forEachLimited(items, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
