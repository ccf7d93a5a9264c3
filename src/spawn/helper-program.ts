/**
 * The spawn helper's program, run as `node -e` with an IPC channel (see `process-helper.ts`).
 * Plain CommonJS in a string, like the WAL checkpointer's worker: it needs nothing of nightless,
 * and a string runs the same from `dist/`, under tsx and under vitest.
 *
 * Messages in: `{ t: 'run', id, file, args, cwd, env, timeoutMs, stall, maxOut, tailErr, after,
 * held }`, `{ t: 'release', id }` and `{ t: 'kill', id }`. Message out: `{ t: 'done', id, code,
 * signal, stdout, stderr, timedOut, stalled, error, held }`, once per run. Each program runs in
 * its own process group (it may start helpers of its own that hold the pipes open:
 * git-remote-http, ssh), killed as a group on timeout, stall, kill, or when the channel to
 * nightless closes (nightless stopped or died).
 * A run with `after` (another run's id) starts the moment that run ends with exit code 0, before
 * its answer is even sent; after any other end, or one this helper does not know (not among the
 * last 64), it is not started and its answer's `error` says so.
 * A run with `held: true` starts its program at once with stdin an open pipe, but its timers
 * only at `{ t: 'release', id }`, which closes that stdin: the program's start-up is done before
 * the run is wanted. A held program that ended before its release (found dead at it, too: its
 * end may not have been read yet) is answered with `held: true`: it never ran.
 *
 * It is also the lifeline of processes nightless started itself (build steps): `{ t: 'watch',
 * id, pgid, mark, graceMs }` until `{ t: 'unwatch', id }`. When the channel closes — nightless
 * exited or was killed, even by SIGKILL, since the kernel closes its end — the helper ends every
 * watched process group and every process whose environment holds `mark` (`NAME=value`):
 * SIGTERM, SIGKILL to what is left after `graceMs`, then it exits.
 */
export const HELPER_PROGRAM = String.raw`
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const running = new Map();
const watched = new Map();
// Runs waiting for a running one to succeed (its id -> their messages), and the reverse.
const followers = new Map();
const following = new Map();
// Whether each recently ended run succeeded, for a follower that comes after the end.
const ended = new Map();
const ENDED_KEPT = 64;
// Bounds the lifeline's work after nightless died: longest grace honoured, SIGKILL rounds.
const MAX_GRACE_MS = 60000;
const KILL_ROUNDS = 10;
const POLL_MS = 50;

// Whether a process has exited (a zombie not yet reaped, or gone); false without /proc.
const PROC = fs.existsSync('/proc/self/stat');
function exited(pid) {
  if (!PROC) return false;
  try {
    const stat = fs.readFileSync('/proc/' + pid + '/stat', 'latin1');
    const state = stat[stat.lastIndexOf(')') + 2];
    return state === 'Z' || state === 'X';
  } catch { return true; }
}

function killGroup(child) {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    try { child.kill('SIGKILL'); } catch {}
  }
}

function notStarted(m, why) {
  process.send({ t: 'done', id: m.id, code: null, signal: null, stdout: '', stderr: '',
    timedOut: false, stalled: false, error: 'not started: ' + why });
}

function follow(m) {
  if (running.has(m.after)) {
    const list = followers.get(m.after) || [];
    list.push(m);
    followers.set(m.after, list);
    following.set(m.id, m.after);
    return;
  }
  const ok = ended.get(m.after);
  if (ok === true) run(m);
  else notStarted(m, ok === false ? 'the run it follows failed' : 'the run it follows is unknown');
}

// A follower waiting for its run is dropped; true when there was one.
function dropFollower(id) {
  const after = following.get(id);
  if (after === undefined) return false;
  following.delete(id);
  const rest = (followers.get(after) || []).filter((f) => f.id !== id);
  if (rest.length === 0) followers.delete(after);
  else followers.set(after, rest);
  return true;
}

function run(m) {
  let child;
  try {
    child = spawn(m.file, m.args, {
      cwd: m.cwd === null ? undefined : m.cwd,
      env: m.env,
      stdio: [m.held === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (err) {
    process.send({ t: 'done', id: m.id, code: null, signal: null, stdout: '', stderr: '',
      timedOut: false, stalled: false, error: String(err && err.message || err) });
    return;
  }
  const job = { child, timedOut: false, stalled: false, finished: false, begin: null };
  running.set(m.id, job);
  let stdout = '';
  let stderr = '';
  let watchdog;
  let timer;
  const arm = (ms) => {
    if (m.stall === null || job.begin !== null) return;
    clearTimeout(watchdog);
    watchdog = setTimeout(() => { job.stalled = true; killGroup(child); }, ms);
  };
  child.stdout.setEncoding('utf8').on('data', (d) => {
    if (stdout.length < m.maxOut) stdout += d;
    arm(m.stall && m.stall.everyMs);
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    if (m.tailErr) {
      stderr += d;
      if (stderr.length > m.maxOut) stderr = stderr.slice(-m.maxOut);
    } else if (stderr.length < m.maxOut) stderr += d;
    arm(m.stall && m.stall.everyMs);
  });
  const begin = () => {
    job.begin = null;
    if (child.stdin) child.stdin.end();
    arm(m.stall && m.stall.firstMs);
    timer = setTimeout(() => { job.timedOut = true; killGroup(child); }, m.timeoutMs);
  };
  if (m.held === true) {
    job.begin = begin;
    // A program that ends before its release closes the pipe: nothing to report but its end.
    child.stdin.on('error', () => {});
  } else begin();
  const done = (code, signal, error) => {
    if (job.finished) return;
    job.finished = true;
    clearTimeout(timer);
    clearTimeout(watchdog);
    running.delete(m.id);
    const ok = code === 0 && error === null && !job.timedOut && !job.stalled;
    ended.set(m.id, ok);
    if (ended.size > ENDED_KEPT) ended.delete(ended.keys().next().value);
    // Followers first: their programs start before this answer is even on its way.
    const next = followers.get(m.id) || [];
    followers.delete(m.id);
    for (const f of next) {
      following.delete(f.id);
      if (ok) run(f);
      else notStarted(f, 'the run it follows failed');
    }
    process.send({ t: 'done', id: m.id, code, signal, stdout, stderr, timedOut: job.timedOut,
      stalled: job.stalled, error, held: job.begin !== null });
  };
  child.once('error', (err) => done(null, null, err.message));
  child.once('close', (code, signal) => done(code, signal, null));
}

// Live (non-zombie) processes of the watched steps: group members, or carrying a mark.
function watchedProcesses() {
  const groups = new Set();
  const marks = [];
  for (const w of watched.values()) {
    groups.add(w.pgid);
    marks.push('\0' + w.mark + '\0');
  }
  let names;
  // Without /proc (not Linux): the groups that still exist, by their leader's id.
  try { names = fs.readdirSync('/proc'); } catch { return [...groups].filter(groupExists); }
  const found = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let stat;
    try { stat = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); } catch { continue; }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (f[0] === 'Z' || f[0] === 'X') continue;
    if (groups.has(Number(f[2]))) { found.push(pid); continue; }
    let env;
    try { env = '\0' + fs.readFileSync('/proc/' + pid + '/environ', 'latin1') + '\0'; } catch { continue; }
    if (marks.some((m) => env.includes(m))) found.push(pid);
  }
  return found;
}

function groupExists(pgid) {
  try { process.kill(-pgid, 0); return true; } catch { return false; }
}

function signalWatched(pids, signal) {
  for (const w of watched.values()) { try { process.kill(-w.pgid, signal); } catch {} }
  for (const pid of pids) { try { process.kill(pid, signal); } catch {} }
}

// SIGTERM now, SIGKILL after the longest grace, then exit once nothing is left (bounded).
function endWatched() {
  let alive = watchedProcesses();
  if (alive.length === 0) process.exit(0);
  signalWatched(alive, 'SIGTERM');
  let grace = 0;
  for (const w of watched.values()) grace = Math.max(grace, w.graceMs);
  const killAt = Date.now() + Math.min(grace, MAX_GRACE_MS);
  let rounds = 0;
  const tick = () => {
    alive = watchedProcesses();
    if (alive.length === 0 || rounds >= KILL_ROUNDS) process.exit(0);
    if (Date.now() >= killAt) { rounds++; signalWatched(alive, 'SIGKILL'); }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

process.on('message', (m) => {
  if (m.t === 'run') {
    if (m.after === null || m.after === undefined) run(m);
    else follow(m);
  } else if (m.t === 'release') {
    const job = running.get(m.id);
    if (job && job.begin !== null && !exited(job.child.pid)) job.begin();
  } else if (m.t === 'kill') {
    const job = running.get(m.id);
    if (job) killGroup(job.child);
    else if (dropFollower(m.id)) notStarted(m, 'killed before it started');
  } else if (m.t === 'watch') watched.set(m.id, m);
  else if (m.t === 'unwatch') watched.delete(m.id);
});
// A terminal's Ctrl-C or hangup reaches the whole foreground group; it is meant for nightless,
// which decides what its builds do. The helper ends when nightless does (the channel closes),
// not before, or its programs and the steps it watches would be left without a lifeline.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
// Nightless stopped or died: nothing will read the answers, and nothing else would end these.
process.on('disconnect', () => {
  for (const job of running.values()) killGroup(job.child);
  if (watched.size === 0) process.exit(0);
  endWatched();
});
`;
