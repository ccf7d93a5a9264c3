import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCheck, runCheck } from '../../src/cli/commands/check.js';
import { FIXTURE_ENV, FIXTURE_SECRETS } from './fixture-env.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: FIXTURE_ENV },
    out,
    err,
  };
}

describe('nightless check', () => {
  it('prints the summary of a valid file', async () => {
    const c = capture();
    expect(await runCheck('test/fixtures/config-valid/design-sketch.yaml', false, c.io)).toBe(0);
    expect(c.out.join('\n')).toContain('app -> build -> integration');
    expect(c.err).toEqual([]);
  });

  it('prints {ok, summary} with --json', async () => {
    const c = capture();
    expect(await runCheck('test/fixtures/config-valid/design-sketch.yaml', true, c.io)).toBe(0);
    const parsed = JSON.parse(c.out.join('')) as { ok: boolean; summary: { order: string[] } };
    expect(parsed.ok).toBe(true);
    expect(parsed.summary.order).toEqual(['build', 'integration']);
    for (const s of FIXTURE_SECRETS) expect(c.out.join('')).not.toContain(s);
  });

  it('prints problems and fails', async () => {
    const c = capture();
    expect(await runCheck('test/fixtures/config-invalid/01-unknown-source.yaml', false, c.io)).toBe(
      1,
    );
    expect(c.err[0]).toBe(
      'test/fixtures/config-invalid/01-unknown-source.yaml:9:14: jobs.build.inputs[0]: unknown source "glibcc" (did you mean "glibc"?)',
    );
    const j = capture();
    expect(await runCheck('test/fixtures/config-invalid/05-cycle.yaml', true, j.io)).toBe(1);
    expect(JSON.parse(j.out.join(''))).toEqual({
      ok: false,
      problems: [
        {
          file: 'test/fixtures/config-invalid/05-cycle.yaml',
          line: 3,
          column: 14,
          path: 'jobs.a.inputs[0]',
          message: 'dependency cycle: a -> b -> a',
        },
      ],
    });
  });

  it('registers with commander, sets the exit code and has examples in --help', async () => {
    const c = capture();
    const program = new Command().exitOverride();
    registerCheck(program, c.io);
    const before = process.exitCode;
    try {
      await program.parseAsync([
        'node',
        'nightless',
        'check',
        'test/fixtures/config-invalid/06-self-cycle.yaml',
      ]);
      expect(process.exitCode).toBe(1);
      await program.parseAsync([
        'node',
        'nightless',
        'check',
        '--json',
        'test/fixtures/config-valid/minimal.yaml',
      ]);
      expect(process.exitCode).toBe(0);
    } finally {
      process.exitCode = before;
    }
    const help = program.commands.find((cmd) => cmd.name() === 'check')!;
    let text = '';
    help.configureOutput({ writeOut: (s) => (text += s) });
    help.outputHelp();
    expect(text).toContain('Usage: nightless check [options] [file]');
    expect(text).toContain('$ nightless check --json');
  });
});
