import { describe, expect, it } from 'vitest';
import { withSummary } from '../../bench/lib/summary.mjs';

/** The summary at the top of bench/RESULTS.md is made from the blocks below it, never by hand. */
const results = [
  '# Bench results',
  '',
  '<!-- machine:start -->',
  '- nproc: 2',
  '<!-- machine:end -->',
  '',
  '## Executor (bench/executor)',
  '',
  '<!-- executor:latest:start -->',
  'Latest run: 2026-12-04T19:21:24.897Z — 2 × CPU, node v20, 100 `/bin/true` from bash in 92 ms; total 11 s.',
  '',
  '| figure | target | measured | met | baseline (same run) | ratio |',
  '|---|---|---|---|---|---|',
  '| (a) first step, p50 | ≤ 1.5× floor | 16.9 ms | yes | 17.7 ms | 0.95× |',
  '| (a) same, p99 | — | 22.4 ms | — | 20.4 ms | 1.10× |',
  '| (b) log capture | > 100 MB/s | 87 MB/s | **no** | 1382 MB/s | 16× slower |',
  '<!-- executor:latest:end -->',
  '',
  'A hand-written note: | figure | target | met | is not a table here.',
  '',
  '## Outbox (bench/outbox)',
  '',
  '<!-- outbox:latest:start -->',
  'Latest run: 2026-12-04T20:06:00.000Z — 2 × CPU.',
  '',
  '| | figure | measured | baseline (same run) | target | |',
  '|---|---|---|---|---|---|',
  '| (a) | events → RabbitMQ | 10802/s | raw: 21059/s | > 1,000/s | met |',
  '| (b) | finished → CloudEvent | p99 7 ms | raw p99 0.7 ms | p99 < 50 ms | not met |',
  '<!-- outbox:latest:end -->',
  '',
].join('\n');

describe('bench/RESULTS.md summary', () => {
  it('counts every target of every block, whatever its table calls the columns, and lists the misses', () => {
    const text = withSummary(results);
    const summary = text.slice(text.indexOf('<!-- summary:start -->'), text.indexOf('## Executor'));
    expect(summary).toContain('**2 of 4 met**');
    expect(summary).toContain(
      '| Executor (bench/executor) | `executor` | 2026-12-04 19:21 UTC | 92 ms | 2 | **1** |',
    );
    expect(summary).toContain(
      '| Outbox (bench/outbox) | `outbox` | 2026-12-04 20:06 UTC | — | 2 | **1** |',
    );
    expect(summary).toContain(
      '- Executor (bench/executor): (b) log capture — target > 100 MB/s, measured 87 MB/s',
    );
    expect(summary).toContain(
      '- Outbox (bench/outbox): (b) finished → CloudEvent — target p99 < 50 ms, measured p99 7 ms',
    );
  });

  it('goes after the machine block the first time, and is replaced in place after that', () => {
    const once = withSummary(results);
    expect(once.indexOf('<!-- machine:end -->')).toBeLessThan(
      once.indexOf('<!-- summary:start -->'),
    );
    expect(once.indexOf('<!-- summary:end -->')).toBeLessThan(once.indexOf('## Executor'));
    expect(withSummary(once)).toBe(once);
    const fixed = once.replace('| 87 MB/s | **no** |', '| 187 MB/s | yes |');
    const again = withSummary(fixed);
    expect(again).toContain('**3 of 4 met**');
    expect(again.match(/summary:start/g)).toHaveLength(1);
  });
});
