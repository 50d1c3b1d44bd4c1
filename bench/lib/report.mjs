// Formats the benchmark results as one Markdown table with the machine and command above it.

const OVERHEAD_TARGET = 2.0;
const PENDING_RSS_TARGET_MB = 64;

function micros(value) {
  return `${value.toFixed(value < 100 ? 1 : 0)} µs`;
}

function megabytes(kb) {
  return `${(kb / 1024).toFixed(1)} MB`;
}

function count(value) {
  return value.toLocaleString('en-US');
}

function verdict(met) {
  return met ? 'met' : 'NOT met';
}

function tallyText(tally) {
  return Object.entries(tally).map(([key, n]) => `${n} ${key}`).join(', ') || 'none';
}

function cachedRows({ cached }) {
  const { floor, permit, module, daemon } = cached.series;
  const rows = [
    ['1', 'Cached login through pam_permit alone (median / p99)', `${micros(permit.median_us)} / ${micros(permit.p99_us)}`, ''],
    ['1', 'Cached login through pam_ultraauth (median / p99)', `${micros(module.median_us)} / ${micros(module.p99_us)}`, ''],
    ['1', 'Floor: Unix-socket round trip, 256 bytes each way (median / p99)', `${micros(floor.median_us)} / ${micros(floor.p99_us)}`, ''],
    ['1', 'Overhead ratio (ultraauth − permit) / floor, of medians', cached.ratio.toFixed(2), `≤ ${OVERHEAD_TARGET.toFixed(1)}: ${verdict(cached.ratio <= OVERHEAD_TARGET)}`],
    ['1', 'Logins per series; failed logins', `${count(permit.count)}; ${cached.failures}`, 'none failed: ' + verdict(cached.failures === 0)],
  ];
  rows.push(['1', 'Part of it: the daemon answering a cached begin_login over a bare socket (median / p99)', `${micros(daemon.median_us)} / ${micros(daemon.p99_us)}`, '']);
  if (cached.moduleLoad) {
    rows.push(['1', 'Part of it: dlopen + dlclose of the module alone (median)', `${micros(cached.moduleLoad.median_us)}${cached.moduleLoad.mapped_after_dlclose ? ' (stays mapped after dlclose)' : ''}`, '']);
  }
  return rows;
}

function pendingRows(pending) {
  const rows = [];
  for (const scenario of pending) {
    const label = `${count(scenario.count)} pending, ${scenario.kind} provider`;
    const { waiting } = scenario;
    const memoryTarget = scenario.count >= 10_000 && scenario.kind === 'scripted'
      ? `≤ ${PENDING_RSS_TARGET_MB} MB: ${verdict(waiting.rssKb / 1024 <= PENDING_RSS_TARGET_MB)}`
      : '';
    rows.push(['2', `${label}: daemon RSS while waiting (max); peak of the run (idle ${megabytes(scenario.idle.rssKb)})`, `${megabytes(waiting.rssKb)}; ${megabytes(scenario.peakRssKb)}`, memoryTarget]);
    rows.push(['2', `${label}: daemon threads; open files while waiting (max)`, `${waiting.threads}; ${count(waiting.openFiles)}`, '']);
    rows.push(['2', `${label}: daemon CPU per second of waiting`, `${(scenario.cpuPerSec * 1000).toFixed(0)} ms/s at ${scenario.pollsPerSec.toFixed(0)} polls/s (provider: ${(scenario.providerCpuPerSec * 1000).toFixed(0)} ms/s)`, '']);
    if (scenario.kind === 'scripted') {
      rows.push(['2', `${label}: completed correctly after approval`, `${count(scenario.approved)} of ${count(scenario.count)} (prompts in ${scenario.rampSecs.toFixed(1)} s; approved at ${scenario.approvalsPerSec}/s, last verdict after ${scenario.approveSecs.toFixed(1)} s)`, `all: ${verdict(scenario.approved === scenario.count)}`]);
    } else {
      rows.push(['2', `${label}: still pending after the window; ended early`, `${count(scenario.stillPendingAfterWindow)} of ${count(scenario.count)}; ${tallyText(scenario.endedEarly)}${reasonsText(scenario.denialReasons)}`, '']);
      rows.push(['2', `${label}: sample approved with approve.js`, `${scenario.approved} of ${scenario.approvedSample}`, '']);
    }
  }
  return rows;
}

function reasonsText(reasons) {
  const entries = Object.entries(reasons);
  return entries.length ? ` (${entries.map(([reason, n]) => `${n}× ${reason}`).join(', ')})` : '';
}

function freshRows({ freshPerCpu }) {
  return [
    ['3', 'Fresh logins per second of daemon CPU (provider approves at once)', `${freshPerCpu.loginsPerCpuSec.toFixed(0)} (${count(freshPerCpu.approved)} logins in ${freshPerCpu.cpuSecs.toFixed(2)} s CPU)`, ''],
    ['3', `Fresh logins per second of wall time (${freshPerCpu.concurrency} at a time, 1 s poll interval)`, freshPerCpu.loginsPerWallSec.toFixed(0), ''],
    ['3', 'Completed correctly', `${count(freshPerCpu.approved)} of ${count(freshPerCpu.logins)}`, `all: ${verdict(freshPerCpu.approved === freshPerCpu.logins)}`],
  ];
}

function requestRows({ bundled, pending, freshPerCpu }) {
  const { fresh, cached } = bundled;
  const rows = [
    ['4', 'Provider requests per cached login', `${cached.providerRequests} for ${count(cached.series.module.count + 5)} logins`, `0: ${verdict(cached.providerRequests === 0)}`],
    ['4', `Fresh device logins, bundled provider (${fresh.logins}, approved by approve.js)`, `${(fresh.deviceAuthorizations / fresh.logins).toFixed(2)} device authorizations + ${(fresh.tokenPolls / fresh.logins).toFixed(2)} token polls per login; ${fresh.approved} of ${fresh.logins} approved`, ''],
    ['4', 'Discovery and JWKS fetches in that daemon run', `discovery ${fresh.discoveryAtStart + fresh.discovery} (at start), JWKS ${fresh.jwks}`, `once per start: ${verdict(fresh.discovery === 0 && fresh.jwks === 1)}`],
  ];
  for (const scenario of pending.filter((entry) => entry.kind === 'scripted')) {
    const { requests } = scenario;
    rows.push(['4', `${count(scenario.count)} pending, scripted provider, whole run`, `${(requests.deviceAuthorizations / scenario.count).toFixed(2)} device authorizations + ${(requests.tokenPolls / scenario.count).toFixed(1)} token polls per login; discovery ${requests.discovery}, JWKS ${requests.jwks}`, `once per start: ${verdict(requests.discovery === 1 && requests.jwks === 1)}`]);
  }
  rows.push(['4', 'Fresh logins approved at once, scripted provider', `${freshPerCpu.deviceAuthorizationsPerLogin.toFixed(2)} device authorizations + ${freshPerCpu.tokenPollsPerLogin.toFixed(2)} token polls per login; discovery ${freshPerCpu.discovery}, JWKS ${freshPerCpu.jwks}`, '']);
  return rows;
}

function footprintRows({ bundled }) {
  const { footprint } = bundled;
  const stripped = footprint.moduleStrippedBytes === null ? '' : `, ${(footprint.moduleStrippedBytes / 1024).toFixed(0)} KiB stripped`;
  return [
    ['5', 'pam_ultraauth.so size', `${(footprint.moduleBytes / 1024).toFixed(0)} KiB as built${stripped}`, ''],
    ['5', 'RSS the module adds to a host process during a login (RSS; private dirty)', `${(footprint.hostRssAddedKb / 1024).toFixed(2)} MB; ${(footprint.hostPrivateDirtyAddedKb / 1024).toFixed(2)} MB`, ''],
    ['5', 'Daemon idle RSS; threads', `${megabytes(footprint.daemonIdle.rssKb)}; ${footprint.daemonIdle.threads}`, ''],
  ];
}

export function formatReport(results) {
  const { machine } = results;
  const rows = [
    ...cachedRows(results.bundled),
    ...pendingRows(results.pending),
    ...freshRows(results),
    ...requestRows(results),
    ...footprintRows(results),
  ];
  const lines = [
    `ultraauth benchmark (${results.mode}), ${results.date}`,
    `Machine: ${machine.nproc} CPUs (${machine.cpuModel}), ${machine.memTotalGiB.toFixed(1)} GiB RAM, Linux ${machine.kernel}, Node ${machine.node}`,
    `Command: ${results.command}; ran ${results.runtimeSecs.toFixed(0)} s`,
    '',
    '| Part | Measure | Result | Target |',
    '| --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
  ];
  if (results.problems.length > 0) {
    lines.push(`FAILED: ${results.problems.join('; ')}`, '');
  }
  return `${lines.join('\n')}\n`;
}
