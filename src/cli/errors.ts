/**
 * Errors the CLI reports to people. `run.ts` prints `nightless: <message>` and exits with
 * `exitCode`; anything else thrown is unexpected (exit 1, stack only with NIGHTLESS_DEBUG=1).
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** Wrong arguments: exit code 2, like commander's own usage errors. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** The server answered with an error status; `message` is `404 NL_NOT_FOUND: no build 42`. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly serverMessage: string,
    readonly details: unknown = undefined,
  ) {
    super(`${status} ${code}: ${serverMessage}`);
    this.name = 'ApiError';
  }
}

/** The server could not be reached or did not answer in time (never an HTTP status). */
export class ConnectionError extends CliError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 1, options);
    this.name = 'ConnectionError';
  }
}

/** Ends the command with an exit code and no message (the command already said why). */
export class ExitCode extends CliError {
  constructor(exitCode: number) {
    super('', exitCode);
    this.name = 'ExitCode';
  }
}
