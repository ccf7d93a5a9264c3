import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logPath, parseLogLine, readLog } from '../../src/executor/log-reader.js';
import { LogWriter, MAX_LINE_BYTES } from '../../src/executor/log-writer.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'nightless-log-'));
});
afterEach(() => rm(dataDir, { recursive: true, force: true, maxRetries: 5 }));

async function writer(
  extra: { maxBytes?: number; secrets?: string[] } = {},
  advances: number[] = [],
): Promise<LogWriter> {
  return LogWriter.open(logPath(dataDir, 1), {
    maxBytes: extra.maxBytes ?? 1 << 20,
    secrets: extra.secrets ?? [],
    onAdvance: (n) => advances.push(n),
  });
}

describe('log writer and reader', () => {
  it('writes `<ms> <o|e|s> <text>` lines, splits on \\n, flushes the partial last line at the end', async () => {
    const log = await writer();
    const out = new PassThrough();
    const err = new PassThrough();
    const done = Promise.all([log.attach(out, 'o'), log.attach(err, 'e')]);
    log.system('==> step "test" (1/1)');
    out.write('hel');
    out.write('lo\nwor');
    err.end('\u001b[31mred\u001b[0m\n');
    out.end('ld');
    await done;
    await log.close();
    const raw = await readFile(logPath(dataDir, 1), 'utf8');
    for (const line of raw.trimEnd().split('\n')) expect(line).toMatch(/^\d{13} [oes] /);
    const { lines, nextOffset, size } = await readLog(dataDir, 1, 0, 1 << 20);
    expect(lines.map((l) => [l.stream, l.text])).toEqual([
      ['system', '==> step "test" (1/1)'],
      ['stdout', 'hello'],
      ['stderr', '\u001b[31mred\u001b[0m'],
      ['stdout', 'world'],
    ]);
    expect(nextOffset).toBe(size);
    expect(Math.abs((lines[0]?.ts ?? 0) - Date.now())).toBeLessThan(5000);
  });

  it('reads whole lines only, page by page', async () => {
    const log = await writer();
    for (let i = 0; i < 100; i++) log.system(`line ${i}`);
    await log.close();
    const seen: string[] = [];
    let offset = 0;
    for (;;) {
      const page = await readLog(dataDir, 1, offset, 100);
      seen.push(...page.lines.map((l) => l.text));
      if (page.nextOffset === offset) break;
      offset = page.nextOffset;
    }
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => `line ${i}`));
    expect(await readLog(dataDir, 99, 0, 100)).toEqual({ lines: [], nextOffset: 0, size: 0 });
    expect(parseLogLine('123 o  two spaces')).toEqual({
      ts: 123,
      stream: 'stdout',
      text: ' two spaces',
    });
    expect(parseLogLine('bad')).toBeNull();
  });

  it('cuts a newline-less stretch over 64 KiB and masks secrets split by chunks or by the cut', async () => {
    const log = await writer({ secrets: ['s3cr3t-value'] });
    const out = new PassThrough();
    const done = log.attach(out, 'o');
    out.write('x'.repeat(MAX_LINE_BYTES - 5) + 's3cr3');
    out.write('t-value' + 'y'.repeat(MAX_LINE_BYTES) + 's3c');
    out.end('r3t-value\n');
    await done;
    await log.close();
    const text = await readFile(logPath(dataDir, 1), 'utf8');
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toMatch(/s3c|r3t-v/);
    expect(text.match(/\*\*\*/g)).toHaveLength(2);
    const { lines } = await readLog(dataDir, 1, 0, 1 << 20);
    expect(lines.length).toBeGreaterThan(1);
    expect(
      lines.map((l) => Buffer.byteLength(l.text)).filter((n) => n > 2 * MAX_LINE_BYTES),
    ).toEqual([]);
  });

  it('masks an encoded secret split by chunks inside a newline-less stretch over 64 KiB', async () => {
    const secret = 'an-encoded/secret+value';
    const log = await writer({ secrets: [secret] });
    const out = new PassThrough();
    const done = log.attach(out, 'o');
    const b64 = Buffer.from(`z${secret}`).toString('base64'); // offset 1 in the base64 stream
    const uri = encodeURIComponent(secret);
    out.write('x'.repeat(MAX_LINE_BYTES - 10) + b64.slice(0, 12));
    out.write(b64.slice(12) + 'y'.repeat(MAX_LINE_BYTES) + uri.slice(0, 9));
    out.end(uri.slice(9) + '\n');
    await done;
    await log.close();
    const text = await readFile(logPath(dataDir, 1), 'utf8');
    expect(text).not.toContain(b64.slice(4, -4));
    expect(text).not.toContain(uri);
    expect(text.match(/\*\*\*/g)).toHaveLength(2);
  });

  it('notifies followers throttled while output flows and once at the end', async () => {
    const advances: number[] = [];
    const log = await writer({}, advances);
    const out = new PassThrough();
    const done = log.attach(out, 'o');
    for (let i = 0; i < 20; i++) {
      out.write(`line ${i}\n`);
      await new Promise((r) => setTimeout(r, 10));
    }
    out.end();
    await done;
    await log.close();
    expect(advances.length).toBeGreaterThan(1);
    expect(advances.length).toBeLessThan(10);
    expect(advances.at(-1)).toBe(log.size);
  });
});
