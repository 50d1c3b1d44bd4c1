// A load client that speaks ultraauthd's socket protocol directly, as pam_ultraauth.so
// does: frames of a 4-byte big-endian length and a JSON body (proto/src/frame.rs), with
// the messages of proto/src/messages.rs.

import * as net from 'node:net';

const HEADER_LEN = 4;
const MAX_FRAME_LEN = 64 * 1024;

function encodeFrame(message) {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const header = Buffer.alloc(HEADER_LEN);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

// Returns the user code from a device prompt: the verification_uri_complete query, else
// the "shows the code X" line.
function userCodeOf(promptText) {
  const match = /user_code=([A-Za-z0-9-]+)/.exec(promptText) ?? /the code ([A-Za-z0-9-]+)/.exec(promptText);
  return match ? match[1] : null;
}

// One login over its own connection. `prompted` resolves with the user code once the
// daemon has sent the device prompt and the answer is on its way; `finished` resolves
// with { outcome, message, error } when the daemon sends its verdict, the connection
// ends or `timeoutMs` passes. Neither promise rejects.
export class Login {
  constructor(socketPath, request, timeoutMs) {
    this.request = request;
    this.userCode = null;
    this.outcome = null;
    this.message = null;
    this.error = null;
    this.promptedAt = null;
    this.finishedAt = null;
    this.buffer = Buffer.alloc(0);

    this.prompted = new Promise((resolve) => { this.resolvePrompted = resolve; });
    this.finished = new Promise((resolve) => { this.resolveFinished = resolve; });

    this.timer = setTimeout(() => this.end(`no verdict within ${timeoutMs} ms`), timeoutMs);
    this.socket = net.createConnection({ path: socketPath });
    this.socket.on('connect', () => this.socket.write(encodeFrame({ type: 'begin_login', ...request })));
    this.socket.on('data', (chunk) => this.receive(chunk));
    this.socket.on('error', (err) => this.end(`socket error: ${err.message}`));
    this.socket.on('close', () => this.end('the daemon closed the connection before sending a verdict'));
  }

  receive(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    while (this.buffer.length >= HEADER_LEN) {
      const length = this.buffer.readUInt32BE(0);
      if (length === 0 || length > MAX_FRAME_LEN) {
        this.end(`invalid frame length ${length}`);
        return;
      }
      if (this.buffer.length < HEADER_LEN + length) {
        return;
      }
      const body = this.buffer.subarray(HEADER_LEN, HEADER_LEN + length);
      this.buffer = this.buffer.subarray(HEADER_LEN + length);
      let message;
      try {
        message = JSON.parse(body.toString('utf8'));
      } catch {
        this.end('the daemon sent a frame that is not JSON');
        return;
      }
      this.handle(message);
    }
  }

  handle(message) {
    if (message.type === 'show_prompt') {
      this.userCode = userCodeOf(message.text);
      this.promptedAt = performance.now();
      this.socket.write(encodeFrame({ type: 'answer_prompt', text: '' }));
      this.resolvePrompted(this.userCode);
    } else if (message.type === 'finish') {
      this.outcome = message.outcome;
      this.message = message.message ?? null;
      this.end(null);
    } else if (message.type !== 'show_message') {
      this.end(`unexpected message type ${JSON.stringify(message.type)}`);
    }
  }

  end(error) {
    if (this.finishedAt !== null) {
      return;
    }
    this.finishedAt = performance.now();
    this.error = this.outcome === null ? error : null;
    clearTimeout(this.timer);
    this.socket.destroy();
    this.resolvePrompted(null);
    this.resolveFinished(this);
  }
}

// Builds the begin_login fields of one device login, as the module sends them with the
// argument flow=device and no PAM_TTY.
export function loginRequest(user, service, waitLimitSecs, rhost = null) {
  return { user, service, rhost, tty: null, flow: 'device', wait_limit_secs: waitLimitSecs, interactive: true };
}

// Starts `count` logins with at most `maxStarting` of them waiting for their prompt at
// once, and resolves with all of them once each has its prompt or has ended. `onPrompt`
// is called with each login as its prompt arrives.
export async function startLogins(socketPath, count, { makeRequest, maxStarting, timeoutMs, onPrompt = () => {} }) {
  const logins = [];
  const starting = new Set();
  let next = 0;

  await new Promise((resolve) => {
    const startMore = () => {
      while (next < count && starting.size < maxStarting) {
        const login = new Login(socketPath, makeRequest(next), timeoutMs);
        next += 1;
        logins.push(login);
        starting.add(login);
        login.prompted.then(() => {
          starting.delete(login);
          if (login.userCode !== null) {
            onPrompt(login);
          }
          if (next === count && starting.size === 0) {
            resolve();
          } else {
            startMore();
          }
        });
      }
    };
    if (count === 0) {
      resolve();
    } else {
      startMore();
    }
  });
  return logins;
}

// Tallies outcomes and errors of finished logins: { approved: 3, "error: ...": 1 }.
export function tallyOutcomes(logins) {
  const tally = {};
  for (const login of logins) {
    const key = login.outcome ?? `error: ${login.error ?? 'still running'}`;
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return tally;
}
