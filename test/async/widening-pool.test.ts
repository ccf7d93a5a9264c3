import { describe, expect, it } from 'vitest';
import { runWidening } from '../../src/async/widening-pool.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `durations` (one task each) and reports the most tasks that ran at once. */
async function widthOf(
  durations: readonly number[],
  o: { maxWidth: number; slowAfterMs: number; stopped?: () => boolean },
) {
  let open = 0;
  let most = 0;
  const done: number[] = [];
  await runWidening(
    durations.map((ms, i) => ({ ms, i })),
    async ({ ms, i }) => {
      open += 1;
      most = Math.max(most, open);
      await sleep(ms);
      open -= 1;
      done.push(i);
    },
    o,
  );
  return { most, done, open };
}

describe('runWidening', () => {
  it('runs quick tasks one after the other, in order', async () => {
    const r = await widthOf([5, 5, 5, 5, 5, 5], { maxWidth: 8, slowAfterMs: 200 });
    expect(r.most).toBe(1);
    expect(r.done).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('starts the next beside tasks that have run past slowAfterMs, up to maxWidth', async () => {
    const r = await widthOf(Array<number>(6).fill(300), { maxWidth: 3, slowAfterMs: 30 });
    expect(r.most).toBe(3);
    expect(r.done).toHaveLength(6);
  });

  it('lets quick tasks pass a slow one, which keeps running', async () => {
    const r = await widthOf([400, 5, 5, 5], { maxWidth: 2, slowAfterMs: 50 });
    expect(r.most).toBe(2);
    expect(r.done).toEqual([1, 2, 3, 0]);
  });

  it('settles once every task has, a rejected one included', async () => {
    let ran = 0;
    await runWidening(
      [1, 2, 3],
      async (n) => {
        ran += 1;
        await sleep(5);
        if (n === 2) throw new Error('this task failed');
      },
      { maxWidth: 4, slowAfterMs: 100 },
    );
    expect(ran).toBe(3);
  });

  it('starts nothing more once stopped, and waits for what runs', async () => {
    let stop = false;
    const started: number[] = [];
    let open = 0;
    await runWidening(
      [0, 1, 2, 3],
      async (i) => {
        started.push(i);
        open += 1;
        if (i === 1) stop = true;
        await sleep(20);
        open -= 1;
      },
      { maxWidth: 4, slowAfterMs: 100, stopped: () => stop },
    );
    expect(started).toEqual([0, 1]);
    expect(open).toBe(0);
  });

  it('resolves at once for no items, and treats maxWidth below 1 as 1', async () => {
    await runWidening([], () => Promise.resolve(), { maxWidth: 4, slowAfterMs: 10 });
    const r = await widthOf([40, 40], { maxWidth: 0, slowAfterMs: 5 });
    expect(r.most).toBe(1);
    expect(r.done).toEqual([0, 1]);
  });
});
