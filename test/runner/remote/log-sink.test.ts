import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogSink } from '../../../src/runner/remote/log-sink.js';

/** The server's copy of an agent's log: chunks by offset, resends and holes. */
let dir: string;
let sink: LogSink;
const file = () => join(dir, '7.log');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nightless-log-sink-'));
  sink = new LogSink(() => file());
});
afterEach(async () => rm(dir, { recursive: true, force: true, maxRetries: 5 }));

describe('LogSink', () => {
  it('appends chunks in order and skips what a resend repeats', async () => {
    expect(await sink.append(7, 0, Buffer.from('line 1\n'))).toBe(7);
    // The answer to this one was lost: the agent resends it, then overlapping with the next.
    expect(await sink.append(7, 0, Buffer.from('line 1\n'))).toBe(7);
    expect(await sink.append(7, 0, Buffer.from('line 1\nline 2\n'))).toBe(14);
    expect(await sink.append(7, 7, Buffer.from('line 2\nline 3\n'))).toBe(21);
    expect(await readFile(file(), 'utf8')).toBe('line 1\nline 2\nline 3\n');
  });

  it('refuses a chunk that would leave a hole and names the offset it needs', async () => {
    await sink.append(7, 0, Buffer.from('abc\n'));
    expect(await sink.append(7, 10, Buffer.from('later\n'))).toEqual({ gap: 4 });
    expect(await readFile(file(), 'utf8')).toBe('abc\n');
  });

  it('keeps concurrent chunks of one build in offset order', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i}\n`);
    let offset = 0;
    const sends = lines.map((l) => {
      const at = offset;
      offset += Buffer.byteLength(l);
      return sink.append(7, at, Buffer.from(l));
    });
    await Promise.all(sends);
    expect(await readFile(file(), 'utf8')).toBe(lines.join(''));
  });
});
