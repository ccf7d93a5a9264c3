import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { killStepProcesses, PROCESS_COOKIE_ENV, startTicks } from '../../src/executor/kill-tree.js';
import { pidGone } from './helpers.js';

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0))
    try {
      if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
    } catch {
      // gone
    }
});

/** `script` in its own process group with `env` added; its stdout lines as they come. */
function group(
  script: string,
  env: Record<string, string>,
): { child: ChildProcess; lines: string[] } {
  const child = spawn('bash', ['-c', script], {
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  started.push(child);
  const lines: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (d: string) => lines.push(...d.trim().split('\n')));
  return { child, lines };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(10);
  expect(check()).toBe(true);
}

describe('killing what a step left', () => {
  it('finds an escapee by its cookie, and leaves a process older than the step alone', async () => {
    const cookie = 'kill-tree-test-cookie';
    const mark = { [PROCESS_COOKIE_ENV]: cookie };
    // Not the step's: started before it (its own group), though it carries the same marker.
    const older = group('echo $$; exec sleep 30', mark);
    await until(() => older.lines.length === 1);
    await sleep(30); // a later clock tick (USER_HZ 100)
    const step = group('setsid sleep 30 & echo $!; wait', mark);
    await until(() => step.lines.length === 1);
    const leader = step.child.pid!;
    const since = startTicks(leader);
    expect(since).not.toBeNull();
    const olderStart = Number(
      readFileSync(`/proc/${older.lines[0]}/stat`, 'latin1').split(') ')[1]?.split(' ')[19],
    );
    expect(olderStart).toBeLessThan(since!);
    const escapee = Number(step.lines[0]);
    await killStepProcesses(leader, cookie, 1000, since);
    expect(pidGone(escapee)).toBe(true);
    expect(pidGone(leader)).toBe(true);
    expect(pidGone(Number(older.lines[0]))).toBe(false);
    // Without the bound, every process carrying the cookie is the step's.
    await killStepProcesses(leader, cookie, 1000);
    expect(pidGone(Number(older.lines[0]))).toBe(true);
  });
});
