import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/index.js';
import { parsePipeline } from '../../src/config/index.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1h30m15s', 5_415_000],
    ['2d', 172_800_000],
    ['0s', 0],
    ['45', 45_000],
    [30, 30_000],
    [0, 0],
  ] as const)('%s → %d ms', (input, ms) => {
    expect(parseDuration(input)).toEqual({ ok: true, ms });
  });

  it.each(['', '1.5h', '10 m', 'ten', '5x', 'm10', '1h 30m', '-0'])('rejects %j', (input) => {
    expect(parseDuration(input).ok).toBe(false);
  });

  it('names negative durations', () => {
    expect(parseDuration('-5s')).toEqual({ ok: false, reason: 'a duration cannot be negative' });
    expect(parseDuration(-5)).toEqual({ ok: false, reason: 'a duration cannot be negative' });
    expect(parseDuration(1.5)).toMatchObject({ ok: false });
  });

  it('refuses durations a timer cannot hold', () => {
    expect(parseDuration('30d')).toMatchObject({ ok: false });
  });

  it('formats back', () => {
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(500)).toBe('500ms');
    expect(formatDuration(0)).toBe('0s');
  });
});

describe('durations in the file', () => {
  const job = (extra: string) =>
    parsePipeline(`jobs:\n  j:\n    steps: [x]\n${extra}`, 'p.yaml', { env: {} }).jobs.get('j')!;

  it('applies defaults: timeout 1h, no_output_timeout off, quiet_period off', () => {
    const j = job('');
    expect(j.timeoutMs).toBe(3_600_000);
    expect(j.noOutputTimeoutMs).toBeNull();
    expect(j.quietPeriodMs).toBeNull();
  });

  it('accepts off and false where allowed', () => {
    expect(job('    timeout: off\n').timeoutMs).toBeNull();
    expect(job('    timeout: false\n').timeoutMs).toBeNull();
    expect(job('    no_output_timeout: 90\n').noOutputTimeoutMs).toBe(90_000);
  });

  it('rejects off where a duration is required', () => {
    const text =
      'jobs:\n  j:\n    steps: [x]\nreports:\n  - webhook: { url: "https://x.example", timeout: off }\n';
    expect(() => parsePipeline(text, 'p.yaml', { env: {} })).toThrow(
      'p.yaml:5:51: reports[0].webhook.timeout: invalid duration "off": use e.g. 500ms, 90s, 10m, 1h, 1h30m or a number of seconds',
    );
  });

  it('takes durations from env references', () => {
    const p = parsePipeline('jobs:\n  j:\n    steps: [x]\n    timeout: ${env:T}\n', 'p.yaml', {
      env: { T: '90s' },
    });
    expect(p.jobs.get('j')!.timeoutMs).toBe(90_000);
  });
});
