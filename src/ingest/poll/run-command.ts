import { spawn } from 'node:child_process';

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

class CommandTimeoutError extends Error {
  readonly code = 'NL_TIMEOUT';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`${what} timed out after ${timeoutMs} ms`);
  }
}

/**
 * Runs a program with an argument array (never a shell), a hard timeout that kills it, and a
 * cap on captured output.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  opts: {
    timeoutMs: number;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    maxOutputBytes?: number;
    /** How errors name the command (`git ls-remote`); default the program and its first argument. */
    label?: string;
  },
): Promise<CommandResult> {
  const max = opts.maxOutputBytes ?? 8 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < max) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < max) stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new CommandTimeoutError(opts.label ?? `${file} ${args[0] ?? ''}`.trim(), opts.timeoutMs),
      );
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}
