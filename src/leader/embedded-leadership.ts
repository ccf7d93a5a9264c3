import type { Leadership } from './port.js';

/**
 * The embedded deployment's leadership: the one server of a data directory (the data-dir lock
 * already refuses a second one) leads from `start` to `stop`.
 */
export class EmbeddedLeadership implements Leadership {
  private onChange: ((leading: boolean) => void) | null = null;
  private stopped = false;

  get leading(): boolean {
    return this.onChange !== null;
  }

  start(onChange: (leading: boolean) => void): void {
    if (this.onChange !== null || this.stopped) return;
    this.onChange = onChange;
    onChange(true);
  }

  stop(): Promise<void> {
    this.stopped = true;
    const onChange = this.onChange;
    this.onChange = null;
    onChange?.(false);
    return Promise.resolve();
  }
}
