import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export const SERVE_TOKEN = 'serve-process-token-0123456789';

export interface ServeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then SIGKILL after 15 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

/**
 * `nightless serve` as a real process from source (through tsx, like `runCli`), on a port the
 * OS picks, with `NIGHTLESS_TOKEN` set to {@link SERVE_TOKEN}. Resolves once it printed its URL.
 */
export async function startServeProcess(opts: {
  readonly cwd: string;
  readonly config: string;
  readonly dataDir: string;
  readonly args?: readonly string[];
}): Promise<ServeProcess> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('NIGHTLESS_')) env[k] = v;
  env['NIGHTLESS_TOKEN'] = SERVE_TOKEN;
  const child = spawn(
    process.execPath,
    [
      '--import',
      TSX,
      MAIN,
      'serve',
      '--port',
      '0',
      '--config',
      opts.config,
      '--data-dir',
      opts.dataDir,
      '--log-level',
      'info',
      ...(opts.args ?? []),
    ],
    { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(kill);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const url = /at (http:\/\/\S+)/.exec(out)?.[1];
    if (url !== undefined) return { url, child, stdout: () => out, stderr: () => err, stop };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nightless serve did not start; stderr:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls `probe` every 100 ms until it returns something other than `undefined`, or throws after `ms`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** GET a JSON document from the server, with a timeout. */
export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
