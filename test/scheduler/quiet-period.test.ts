import { afterEach, describe, expect, it } from 'vitest';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { amqp, job, pipeline } from '../../src/testing/pipeline-builder.js';

const QUIET_MS = 300;
const p = pipeline({
  sources: { glibc: amqp({ quietPeriodMs: QUIET_MS }) },
  jobs: { rpm: job({ inputs: ['glibc'], steps: ['rpmbuild -ba glibc.spec'] }) },
});

/**
 * The engine runs on a manual clock, so "within one second" is exact however slow the machine:
 * a quiet period can only end when the test moves the clock past it. Timers stay real (the
 * scheduler re-checks at most QUIET_MS of real time after the clock moved). The test waits for
 * each version to be decided before moving the clock, as real time would.
 */
describe('engine: quiet period (SQLite, manual clock)', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('turns 200 bus versions within one second into exactly one build of the newest', async () => {
    const clock = new ManualClock();
    h = await startHarness(p, { slots: 2, now: clock.now });
    const started = clock.now();
    for (let i = 0; i < 200; i++) {
      clock.advance(5);
      await h.push('glibc', `2.41-${i}`, { origin: 'bus' });
      await h.decided(); // the clock moves on only after the scheduler saw the version
    }
    expect(clock.now() - started).toBe(1000);
    await h.decided();
    expect(await h.builds()).toEqual([]);

    clock.advance(QUIET_MS);
    await h.settle(5000);
    await h.expectHistory([
      { job: 'rpm', state: 'passed', cause: 'settled', inputs: { glibc: '2.41-199' } },
    ]);
    const why = await h.decisions({ job: 'rpm' });
    expect(why.filter((d) => d.rule === 'deferred')).toHaveLength(200);
    expect(why.at(-1)).toMatchObject({ rule: 'settled' });
    expect(why.at(-1)?.detail).toContain(`quiet period (${QUIET_MS} ms)`);
  });

  it('does not build while versions keep arriving, and builds again after a second burst', async () => {
    const clock = new ManualClock();
    h = await startHarness(p, { slots: 1, now: clock.now });
    for (let i = 0; i < 20; i++) {
      clock.advance(QUIET_MS - 1); // each version arrives just before the quiet period ends
      await h.push('glibc', `a-${i}`, { origin: 'bus' });
      await h.decided();
    }
    await h.decided();
    expect(await h.builds()).toEqual([]);
    clock.advance(QUIET_MS);
    await h.settle(5000);

    for (let i = 0; i < 20; i++) await h.push('glibc', `b-${i}`, { origin: 'bus' });
    await h.decided();
    clock.advance(QUIET_MS);
    await h.settle(5000);
    await h.expectHistory([
      { job: 'rpm', state: 'passed', inputs: { glibc: 'a-19' } },
      { job: 'rpm', state: 'passed', inputs: { glibc: 'b-19' } },
    ]);
  });

  it('a quiet period pushed out past its armed timer still ends (regression)', async () => {
    // The first version arms a timer; later versions push the quiet period out. When that timer
    // fires with nothing due yet, the scheduler must arm another one for the pushed-out time.
    const clock = new ManualClock();
    h = await startHarness(p, { slots: 1, now: clock.now });
    for (let i = 0; i < 5; i++) {
      await h.push('glibc', `2.41-${i}`, { origin: 'bus' });
      await h.decided();
      clock.advance(100);
    }
    await new Promise((r) => setTimeout(r, QUIET_MS + 150)); // every armed timer fired: nothing was due
    expect(await h.builds()).toEqual([]);
    clock.advance(QUIET_MS);
    await h.settle(3000);
    await h.expectHistory([{ job: 'rpm', state: 'passed', inputs: { glibc: '2.41-4' } }]);
  });
});
