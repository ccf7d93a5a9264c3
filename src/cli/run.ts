import { CommanderError } from 'commander';
import { CliError } from './errors.js';
import { createProgram } from './program.js';

/**
 * Runs the CLI and returns the exit code to use when it failed, or `null` when the command
 * finished normally (the command may have set `process.exitCode` itself, as `check` does, or
 * still be running, as `serve` is). Never exits the process: pending output gets written.
 */
export async function runCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number | null> {
  try {
    await (await createProgram(argv)).parseAsync(argv);
    return null;
  } catch (err) {
    return report(err, env['NIGHTLESS_DEBUG'] === '1');
  }
}

/** Prints an error the way people expect from a CLI: one line, no stack unless debugging. */
function report(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // commander printed its message already; help and --version are "errors" with code 0.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof CliError) {
    if (err.message !== '') process.stderr.write(`nightless: ${err.message}\n`);
    if (debug) process.stderr.write(`${stackOf(err)}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`nightless: ${message}\n`);
  if (debug) process.stderr.write(`${stackOf(err)}\n`);
  else process.stderr.write('(set NIGHTLESS_DEBUG=1 for details)\n');
  return 1;
}

function stackOf(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== undefined; depth += 1) {
    parts.push(
      current instanceof Error ? (current.stack ?? current.message) : JSON.stringify(current),
    );
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}
