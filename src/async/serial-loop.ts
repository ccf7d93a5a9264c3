/**
 * Runs `work` whenever `wake()` is called, never twice at once: wakes that arrive while it runs
 * cause exactly one more run. `idle()` resolves when no run is in progress or pending.
 */
export class SerialLoop {
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly work: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run();
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private async run(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.work();
        } catch (err) {
          this.onError(err);
        }
      } while (this.again && !this.stopped);
    } finally {
      this.running = null;
    }
  }
}
