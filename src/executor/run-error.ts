import type { RunErrorCode } from './port.js';

/**
 * An infrastructure failure inside `run` with its stable code. Thrown by the helpers (checkout,
 * workspace, outputs) and turned into `{ state: 'error', code }` by the executor; never escapes it.
 */
export class RunError extends Error {
  readonly code: RunErrorCode;
  readonly step: string | null;

  constructor(
    code: RunErrorCode,
    message: string,
    options: { cause?: unknown; step?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RunError';
    this.code = code;
    this.step = options.step ?? null;
  }
}
