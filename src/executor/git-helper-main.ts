/**
 * The git helper process (see `git-helper.ts`): a small node process, forked once by the
 * server, that spawns git on the server's behalf. Forking a process costs time in proportion to
 * its mapped memory (libuv forks, page tables are copied and every page the parent writes next
 * faults): from the ~150 MB server each git process cost several ms more than from this one.
 *
 * Messages in: `{ t: 'run', id, args, options }`, `{ t: 'kill', id }`. Out: `{ id, result }`.
 * The parent going away (the IPC channel closes) kills what is still running and exits.
 */
import { spawnGit, type GitRunOptions } from './git-runner.js';
import type { HelperReply, HelperRequest } from './git-helper.js';

const running = new Map<number, AbortController>();

function reply(msg: HelperReply): void {
  if (process.connected) process.send?.(msg);
}

process.on('message', (raw: HelperRequest) => {
  if (raw.t === 'kill') {
    running.get(raw.id)?.abort();
    return;
  }
  const abort = new AbortController();
  running.set(raw.id, abort);
  const options: GitRunOptions = { ...raw.options, signal: abort.signal };
  void spawnGit(raw.args, options).then((result) => {
    running.delete(raw.id);
    reply({ id: raw.id, result });
  });
});

// Listening: from here on a command sent may start git (the parent must not run it again).
reply({ ready: true });

process.on('disconnect', () => {
  for (const a of running.values()) a.abort();
  // The kills above are synchronous (process.kill of each group); nothing else is pending.
  process.exit(0);
});
