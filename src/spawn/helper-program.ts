/**
 * The spawn helper's program, run as `node -e` with an IPC channel (see `process-helper.ts`).
 * Plain CommonJS in a string, like the WAL checkpointer's worker: it needs nothing of nightless,
 * and a string runs the same from `dist/`, under tsx and under vitest.
 *
 * Messages in: `{ t: 'run', id, file, args, cwd, env, timeoutMs, stall, maxOut, tailErr }` and
 * `{ t: 'kill', id }`. Message out: `{ t: 'done', id, code, signal, stdout, stderr, timedOut,
 * stalled, error }`, once per run. Each program runs in its own process group (it may start
 * helpers of its own that hold the pipes open: git-remote-http, ssh), killed as a group on
 * timeout, stall, kill, or when the channel to nightless closes (nightless stopped or died).
 */
export const HELPER_PROGRAM = String.raw`
'use strict';
const { spawn } = require('node:child_process');
const running = new Map();

function killGroup(child) {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    try { child.kill('SIGKILL'); } catch {}
  }
}

function run(m) {
  let child;
  try {
    child = spawn(m.file, m.args, {
      cwd: m.cwd === null ? undefined : m.cwd,
      env: m.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (err) {
    process.send({ t: 'done', id: m.id, code: null, signal: null, stdout: '', stderr: '',
      timedOut: false, stalled: false, error: String(err && err.message || err) });
    return;
  }
  const job = { child, timedOut: false, stalled: false, finished: false };
  running.set(m.id, job);
  let stdout = '';
  let stderr = '';
  let watchdog;
  const arm = (ms) => {
    if (m.stall === null) return;
    clearTimeout(watchdog);
    watchdog = setTimeout(() => { job.stalled = true; killGroup(child); }, ms);
  };
  if (m.stall !== null) arm(m.stall.firstMs);
  child.stdout.setEncoding('utf8').on('data', (d) => {
    if (stdout.length < m.maxOut) stdout += d;
    if (m.stall !== null) arm(m.stall.everyMs);
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    if (m.tailErr) {
      stderr += d;
      if (stderr.length > m.maxOut) stderr = stderr.slice(-m.maxOut);
    } else if (stderr.length < m.maxOut) stderr += d;
    if (m.stall !== null) arm(m.stall.everyMs);
  });
  const timer = setTimeout(() => { job.timedOut = true; killGroup(child); }, m.timeoutMs);
  const done = (code, signal, error) => {
    if (job.finished) return;
    job.finished = true;
    clearTimeout(timer);
    clearTimeout(watchdog);
    running.delete(m.id);
    process.send({ t: 'done', id: m.id, code, signal, stdout, stderr, timedOut: job.timedOut,
      stalled: job.stalled, error });
  };
  child.once('error', (err) => done(null, null, err.message));
  child.once('close', (code, signal) => done(code, signal, null));
}

process.on('message', (m) => {
  if (m.t === 'run') run(m);
  else if (m.t === 'kill') {
    const job = running.get(m.id);
    if (job) killGroup(job.child);
  }
});
// Nightless stopped or died: nothing will read the answers, and nothing else would end these.
process.on('disconnect', () => {
  for (const job of running.values()) killGroup(job.child);
  process.exit(0);
});
`;
