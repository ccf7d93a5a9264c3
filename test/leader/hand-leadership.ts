import type { Leadership } from '../../src/leader/port.js';

/** A leadership the test hands out and takes back, as a lock's election would. */
export class HandLeadership implements Leadership {
  private onChange: ((leading: boolean) => void) | null = null;
  private isLeading = false;

  get leading(): boolean {
    return this.isLeading;
  }

  start(onChange: (leading: boolean) => void): void {
    this.onChange = onChange;
  }

  grant(): void {
    if (this.isLeading) return;
    this.isLeading = true;
    this.onChange?.(true);
  }

  revoke(): void {
    if (!this.isLeading) return;
    this.isLeading = false;
    this.onChange?.(false);
  }

  stop(): Promise<void> {
    this.revoke();
    this.onChange = null;
    return Promise.resolve();
  }
}
