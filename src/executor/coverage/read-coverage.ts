import { readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { CoverageDef } from '../../core/pipeline.js';
import { parseCobertura } from './cobertura.js';
import { parseIstanbulSummary } from './istanbul.js';
import { parseLcov } from './lcov.js';
import type { CoverageFigures, ParseResult } from './percent.js';

/** Larger reports are refused rather than read into memory. */
const MAX_REPORT_BYTES = 256 * 1024 * 1024;

export type CoverageRead =
  | { readonly figures: CoverageFigures; readonly warning: null }
  | { readonly figures: null; readonly warning: string };

/**
 * Reads the job's coverage report from the workspace. Never throws: a missing, oversized,
 * escaping or malformed report becomes a warning.
 */
export async function readCoverage(workspace: string, def: CoverageDef): Promise<CoverageRead> {
  const fail = (why: string): CoverageRead => ({ figures: null, warning: `coverage (${def.format}, ${def.path}): ${why}` });
  try {
    const root = await realpath(workspace);
    const real = await realpath(join(root, def.path)).catch(() => null);
    if (real === null) return fail('file not found');
    const rel = relative(root, real);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`)) return fail('path is outside the workspace');
    const st = await stat(real);
    if (!st.isFile()) return fail('not a file');
    if (st.size > MAX_REPORT_BYTES) return fail(`file too large (${st.size} bytes)`);
    const text = await readFile(real, 'utf8');
    const parsed = parse(def.format, text);
    return parsed.ok ? { figures: parsed.figures, warning: null } : fail(parsed.reason);
  } catch (err) {
    return fail((err as Error).message);
  }
}

function parse(format: CoverageDef['format'], text: string): ParseResult {
  switch (format) {
    case 'lcov':
      return parseLcov(text);
    case 'cobertura':
      return parseCobertura(text);
    case 'istanbul':
      return parseIstanbulSummary(text);
  }
}
