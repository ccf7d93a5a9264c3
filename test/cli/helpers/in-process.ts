import { runCli } from '../../../src/cli/run.js';
import type { CliResult } from './spawn-cli.js';

/**
 * Runs the CLI inside the test process with stdout/stderr captured: the same code path as the
 * real process minus Node start-up, which costs seconds per spawn. Not reentrant: tests using it
 * must run one at a time.
 */
export async function runInProcess(
  args: readonly string[],
  options: { env?: Readonly<Record<string, string | undefined>>; cwd?: string } = {},
): Promise<CliResult> {
  const savedEnv = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(options.env ?? {})) {
    savedEnv.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const savedCwd = process.cwd();
  if (options.cwd !== undefined) process.chdir(options.cwd);
  let stdout = '';
  let stderr = '';
  const capture =
    (append: (text: string) => void) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const callback = rest.find((r): r is () => void => typeof r === 'function');
      if (callback) process.nextTick(callback);
      return true;
    };
  const realOut = process.stdout.write.bind(process.stdout);
  const realErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = capture((t) => (stdout += t));
  process.stderr.write = capture((t) => (stderr += t));
  const started = Date.now();
  const previousExitCode = process.exitCode;
  process.exitCode = undefined;
  try {
    const failed = await runCli(['node', 'nightless', ...args], {});
    const code = failed ?? (typeof process.exitCode === 'number' ? process.exitCode : 0);
    return { code, stdout, stderr, ms: Date.now() - started };
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
    process.exitCode = previousExitCode;
    process.chdir(savedCwd);
    for (const [k, v] of savedEnv) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
