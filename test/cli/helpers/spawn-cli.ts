import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface SpawnOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Working directory; default a fresh empty one (so no stray .nightless/token is read). */
  readonly cwd?: string;
  /** Kill the process after this long (startup under tsx on a busy machine takes seconds). */
  readonly timeoutMs?: number;
  /** Flags for node itself, before the CLI's entry point (`--import` a hook). */
  readonly nodeArgs?: readonly string[];
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'nightless-cli-'));
}

/** Runs `nightless ARGS` as a real process (through tsx, from source) and collects its output. */
export function runCli(args: readonly string[], options: SpawnOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('NIGHTLESS_') && k !== 'NO_COLOR' && k !== 'FORCE_COLOR')
      env[k] = v;
  }
  env['TZ'] = 'UTC';
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', TSX, ...(options.nodeArgs ?? []), MAIN, ...args],
      {
        cwd: options.cwd ?? tempDir(),
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: options.timeoutMs ?? 60_000,
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}
