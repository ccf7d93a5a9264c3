export interface WideningOptions {
  /** At most this many tasks at once. */
  readonly maxWidth: number;
  /** A task running this long counts as waiting (on a peer, a timeout), not working. */
  readonly slowAfterMs: number;
  /** Checked before each start: once true, nothing more starts (running tasks finish). */
  readonly stopped?: () => boolean;
}

/**
 * Runs `task` for every item, one at a time while the tasks are quick, and another beside them
 * only while every running one has run for `slowAfterMs`: at most one task younger than that
 * runs at any moment, and at most `maxWidth` in all. Quick tasks are CPU work (a local
 * `git ls-remote`), which only costs more when overlapped; slow ones are waits on a network
 * peer, which must not hold the rest back. Resolves once every started task has settled;
 * a task's rejection is its own business (the caller's `task` handles it).
 */
export function runWidening<T>(
  items: readonly T[],
  task: (item: T) => Promise<void>,
  o: WideningOptions,
): Promise<void> {
  const waiting = [...items];
  const maxWidth = Math.max(1, o.maxWidth);
  let running = 0;
  let young = 0;
  return new Promise<void>((resolve) => {
    const pump = (): void => {
      while (waiting.length > 0 && young === 0 && running < maxWidth && !o.stopped?.()) {
        const item = waiting.shift() as T;
        running += 1;
        young += 1;
        let isYoung = true;
        const grownUp = (): void => {
          if (!isYoung) return;
          isYoung = false;
          young -= 1;
        };
        const timer = setTimeout(() => {
          grownUp();
          pump();
        }, o.slowAfterMs);
        void task(item)
          .catch(() => undefined)
          .finally(() => {
            clearTimeout(timer);
            grownUp();
            running -= 1;
            pump();
          });
      }
      if (running === 0) resolve();
    };
    pump();
  });
}
