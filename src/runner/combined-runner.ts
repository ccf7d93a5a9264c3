import type { Runner, StopMode } from './port.js';

/**
 * Several runners as one (local slots and agents): woken together, a cancel goes to the one
 * running the build, idle and stop wait for all.
 */
export class CombinedRunner implements Runner {
  constructor(private readonly runners: readonly Runner[]) {}

  wake(): void {
    for (const r of this.runners) r.wake();
  }

  get busySlots(): number {
    return this.runners.reduce((n, r) => n + r.busySlots, 0);
  }

  cancelRunning(id: number, reason: string): boolean {
    return this.runners.some((r) => r.cancelRunning(id, reason));
  }

  async idle(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.idle()));
  }

  async stop(mode: StopMode): Promise<void> {
    await Promise.all(this.runners.map((r) => r.stop(mode)));
  }
}
