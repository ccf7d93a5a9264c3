import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logPath, readLog } from '../../src/executor/log-reader.js';
import { ansiSpans } from '../../web/src/log/ansi.js';
import { readChunk } from '../../web/src/log/chunk-lines.js';
import { fastLayout } from '../../web/src/pipeline/fast-layout.js';

/**
 * The log view reads a log by chunks of byte offsets from the real log API's reader: every line
 * must come out exactly once, with its true offset, whatever the chunk size, line lengths and
 * multi-byte characters — or a 100 MB log would show lost or doubled lines at chunk edges.
 */
let dir: string;
const expected: Array<{ offset: number; text: string }> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nightless-logwin-'));
  await mkdir(join(dir, 'logs'));
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const parts: string[] = [];
  let offset = 0;
  for (let i = 0; i < 3000; i++) {
    const text = `${i} ${'é✓x'.repeat(rand(40))}${'y'.repeat(rand(3) === 0 ? rand(2500) : rand(30))}`;
    const line = `${1764000000000 + i} ${'oes'[i % 3]} ${text}\n`;
    expected.push({ offset, text });
    offset += Buffer.byteLength(line);
    parts.push(line);
  }
  await writeFile(logPath(dir, 1), parts.join(''));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

describe('reading a log by chunks of byte offsets', () => {
  it.each([997, 4096, 65_536, 100_000])(
    'returns every line exactly once with its offset (chunks of %i bytes)',
    async (chunk) => {
      const got: Array<{ offset: number; text: string }> = [];
      let end = 0;
      const read = (offset: number, limit: number) => readLog(dir, 1, offset, limit);
      const size = (await readLog(dir, 1, 0, 1)).size;
      // Every chunk read on its own (a jump), and all chunks in order (scrolling down).
      for (let index = 0; index * chunk < size && index < 10_000; index++) {
        const c = await readChunk(index, chunk, read);
        got.push(...c.lines.map((l) => ({ offset: l.offset, text: l.text })));
        end = Math.max(end, c.end);
      }
      expect(got).toEqual(expected);
      const seq: typeof got = [];
      let start: number | undefined;
      for (let index = 0; index * chunk < size && index < 10_000; index++) {
        const c = await readChunk(index, chunk, read, start);
        seq.push(...c.lines.map((l) => ({ offset: l.offset, text: l.text })));
        start = c.lines.length > 0 ? c.end : undefined;
      }
      expect(seq).toEqual(expected);
      expect(got).toEqual(expected);
      expect(end).toBe(expected.length === 0 ? 0 : (await readLog(dir, 1, 0, 1)).size);
    },
  );
});

describe('ANSI colours', () => {
  it('turns SGR codes into styled spans and drops other escapes', () => {
    expect(
      ansiSpans('\x1b[1;31merror\x1b[0m: \x1b[38;5;196mred\x1b[39m \x1b]0;title\x07done\x1b[2K'),
    ).toEqual([
      { text: 'error', cls: 'fg-1 bold', style: '' },
      { text: ': ', cls: '', style: '' },
      { text: 'red', cls: '', style: 'color:rgb(255,0,0)' },
      { text: ' ', cls: '', style: '' },
      { text: 'done', cls: '', style: '' },
    ]);
    expect(ansiSpans('<b>plain</b>')).toEqual([{ text: '<b>plain</b>', cls: '', style: '' }]);
  });
});

describe('the layout of large pipelines', () => {
  it('places 1000 chained jobs left to right without overlaps', () => {
    const nodes = Array.from({ length: 1000 }, (_, i) => ({ id: `j${i}`, width: 190, height: 62 }));
    const edges = nodes.slice(1).map((n, i) => ({ from: `j${Math.floor(i / 2)}`, to: n.id }));
    const { pos } = fastLayout(nodes, edges);
    for (const e of edges) expect(pos.get(e.to)!.x).toBeGreaterThan(pos.get(e.from)!.x);
    const seen = new Set([...pos.values()].map((p) => `${p.x},${p.y}`));
    expect(seen.size).toBe(1000);
  });
});
