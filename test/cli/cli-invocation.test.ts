import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliInvocation, shellWord } from '../../src/cli/cli-invocation.js';

/** How commands printed by the server name the CLI, so they run as printed. */
describe('cliInvocation', () => {
  const root = join(import.meta.dirname, '..', '..');
  const elsewhere = mkdtempSync(join(tmpdir(), 'nightless-invocation-'));

  it('is `nightless` when an executable of that name is on PATH', () => {
    const binDir = mkdtempSync(join(tmpdir(), 'nightless-path-'));
    writeFileSync(join(binDir, 'nightless'), '#!/bin/sh\n');
    chmodSync(join(binDir, 'nightless'), 0o755);
    expect(cliInvocation({ cwd: elsewhere, path: `/nonexistent:${binDir}` })).toBe('nightless');
  });

  it('ignores a non-executable file on PATH', () => {
    const binDir = mkdtempSync(join(tmpdir(), 'nightless-path-'));
    writeFileSync(join(binDir, 'nightless'), 'not a program\n', { mode: 0o644 });
    expect(cliInvocation({ cwd: elsewhere, path: binDir })).toBe(
      `node ${join(root, 'bin', 'nightless.js')}`,
    );
  });

  it('is `npx nightless` inside the nightless checkout (npx runs the project bin)', () => {
    expect(cliInvocation({ cwd: root, path: '' })).toBe('npx nightless');
    expect(cliInvocation({ cwd: join(root, '.nightless', 'demo', 'app'), path: '' })).toBe(
      'npx nightless',
    );
  });

  it('is the absolute entry point elsewhere, quoted when the path needs it', () => {
    expect(cliInvocation({ cwd: elsewhere, path: '' })).toBe(
      `node ${join(root, 'bin', 'nightless.js')}`,
    );
    expect(cliInvocation({ cwd: elsewhere, path: '', packageRoot: "/opt/it's here" })).toBe(
      `node '/opt/it'\\''s here/bin/nightless.js'`,
    );
    expect(shellWord('/plain/path-1.2')).toBe('/plain/path-1.2');
  });
});
