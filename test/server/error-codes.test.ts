import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import {
  ApiError,
  ERROR_CODES,
  PROCESS_ERROR_CODES,
  type ErrorCode,
} from '../../src/api/errors.js';
import { handleError } from '../../src/server/errors.js';

const ROOT = join(import.meta.dirname, '..', '..');

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** `| 404 | \`NL_NOT_FOUND\` | meaning | what to do |` rows of a docs table, by code. */
function tableRows(markdown: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of markdown.split('\n')) {
    const cells = line.split(' | ').map((c) => c.replace(/^\| ?| ?\|$/g, '').trim());
    const code = cells.find((c) => /^`NL_[A-Z_]+`$/.test(c));
    if (code) rows.set(code.slice(1, -1), cells);
  }
  return rows;
}

describe('error code catalogue', () => {
  it('lists every NL_ code the source uses', async () => {
    const known = new Set([...Object.keys(ERROR_CODES), ...Object.keys(PROCESS_ERROR_CODES)]);
    const unknown: string[] = [];
    for (const file of await sourceFiles(join(ROOT, 'src'))) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/['"`](NL_[A-Z][A-Z_]*)['"`]/g)) {
        if (!known.has(m[1]!)) unknown.push(`${relative(ROOT, file)}: ${m[1]}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('is the table in docs/api.md, status, meaning and what to do', async () => {
    const doc = await readFile(join(ROOT, 'docs', 'api.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Errors'), doc.indexOf('## Health'));
    const rows = tableRows(section);
    const expected = new Map<string, string[]>([
      ...Object.entries(ERROR_CODES).map(([code, e]): [string, string[]] => [
        code,
        [String(e.status), `\`${code}\``, e.meaning, e.action],
      ]),
      ...Object.entries(PROCESS_ERROR_CODES).map(([code, e]): [string, string[]] => [
        code,
        [`\`${code}\``, e.meaning, e.action],
      ]),
    ]);
    expect(Object.fromEntries(rows)).toEqual(Object.fromEntries(expected));
  });

  it('answers each code with its status and the one error body, whoever throws it', async () => {
    const app = Fastify({ logger: false });
    app.setErrorHandler(handleError);
    app.get<{ Params: { code: string } }>('/throw/:code', (req) => {
      throw new ApiError(req.params.code as ErrorCode, `thrown as ${req.params.code}`);
    });
    try {
      for (const [code, { status }] of Object.entries(ERROR_CODES)) {
        const res = await app.inject({ method: 'GET', url: `/throw/${code}` });
        expect([res.statusCode, res.json()]).toEqual([
          status,
          { error: { code, message: `thrown as ${code}` } },
        ]);
      }
    } finally {
      await app.close();
    }
  });
});
