import { createHash } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import type { Bus, BusMessages, Topic } from '../../src/bus/port.js';
import { parsePipeline } from '../../src/config/index.js';
import { Engine } from '../../src/app/engine.js';
import { logPath, readLog } from '../../src/executor/log-reader.js';
import type { CollectedOutput, Executor, RunResult, RunSpec } from '../../src/executor/port.js';
import { buildServer, type ApiApp } from '../../src/server/build-server.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { apiPorts } from '../../src/app/api-ports.js';

export const TOKEN = 'test-token-0123456789';
export const TOKEN_SHA256 = createHash('sha256').update(TOKEN).digest('hex');
export const AUTH = { authorization: `Bearer ${TOKEN}` };
export const GIT_PASSWORD = 'hunter22-secret';

/** Two jobs: `a` builds `app` and outputs `out`; `b` consumes `a.out`. */
export const PIPELINE_YAML = `
sources:
  app:
    git: https://ci:\${env:GIT_PASSWORD}@git.example.com/team/app.git
    branch: main
jobs:
  a:
    inputs: [app]
    steps:
      - run: make
    outputs:
      out: out.txt
  b:
    inputs: [a.out]
    steps:
      - run: ./check
      - run: ./publish
`;

/**
 * A test double for the executor: runs no process, writes a log in the real format and returns
 * what the test configured. `hold(job)` makes the job's next builds wait until `release(job)` or
 * a cancel.
 */
export class FakeExecutor implements Executor {
  readonly outputs = new Map<string, CollectedOutput[]>();
  private readonly gates = new Map<string, { promise: Promise<void>; open: () => void }>();

  constructor(private readonly dataDir: string) {}

  hold(job: string): void {
    let open = () => undefined as void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.gates.set(job, { promise, open });
  }

  release(job: string): void {
    this.gates.get(job)?.open();
    this.gates.delete(job);
  }

  async run(
    spec: RunSpec,
    observer: Parameters<Executor['run']>[1],
    signal: AbortSignal,
  ): Promise<RunResult> {
    const path = logPath(this.dataDir, spec.buildId);
    await mkdir(join(this.dataDir, 'logs'), { recursive: true });
    const line = async (code: 'o' | 'e' | 's', text: string) => {
      await appendFile(path, `${Date.now()} ${code} ${text}\n`);
      observer.logAdvanced((await stat(path)).size);
    };
    await line('s', `build #${spec.buildId} of ${spec.job.name}`);
    await line('o', `hello from ${spec.job.name}`);
    const gate = this.gates.get(spec.job.name);
    if (gate && !signal.aborted) {
      const aborted = new Promise<void>((resolve) =>
        signal.addEventListener('abort', () => resolve()),
      );
      await Promise.race([gate.promise, aborted]);
    }
    if (signal.aborted) {
      await line('s', 'cancelled');
      return { state: 'cancelled', reason: 'aborted', outputs: [], coverage: null, warnings: [] };
    }
    await line('e', 'a warning on stderr');
    await line('s', 'passed');
    return {
      state: 'passed',
      outputs: this.outputs.get(spec.job.name) ?? [],
      coverage: null,
      warnings: [],
    };
  }
}

/** The in-process bus, counting live subscriptions so tests can see streams clean up. */
export class CountingBus implements Bus {
  private readonly inner = new MemoryBus();
  active = 0;

  publish<T extends Topic>(topic: T, message: BusMessages[T]): void {
    this.inner.publish(topic, message);
  }

  subscribe<T extends Topic>(topic: T, handler: (message: BusMessages[T]) => void): () => void {
    const off = this.inner.subscribe(topic, handler);
    this.active++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      off();
    };
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface TestEnv {
  readonly app: ApiApp;
  readonly engine: Engine;
  readonly store: Store;
  readonly bus: CountingBus;
  readonly executor: FakeExecutor;
  readonly content: ContentStore;
  readonly dataDir: string;
  /** Stores `text` as the single file `out.txt` of job `job`'s output `out`; returns its digest. */
  setOutput(job: string, text: string): Promise<string>;
  /** Announces a new commit of `app` on `main` and waits until everything it caused ran. */
  push(sha: string): Promise<void>;
  close(): Promise<void>;
}

export async function startTestEnv(
  overrides: Partial<
    Pick<
      ServerOptions,
      | 'readAuth'
      | 'sseHeartbeatMs'
      | 'extraRoutes'
      | 'extraAccess'
      | 'bodyLimit'
      | 'ready'
      | 'publicUrl'
    >
  > = {},
): Promise<TestEnv> {
  const dataDir = await mkdtemp(join(tmpdir(), 'nightless-server-'));
  const store = await openSqliteStore({ path: join(dataDir, 'state.db') });
  const bus = new CountingBus();
  const executor = new FakeExecutor(dataDir);
  const logger = pino({ level: 'silent' });
  const pipeline = parsePipeline(PIPELINE_YAML, 'nightless.yaml', { env: { GIT_PASSWORD } });
  const engine = await Engine.start({ store, bus, executor, pipeline, logger, slots: 1 });
  const content = new ContentStore(dataDir);
  const app = await buildServer({
    ...apiPorts(engine, store, bus),
    logger,
    dataDir,
    artifacts: content,
    readLog,
    tokenSha256: TOKEN_SHA256,
    readAuth: false,
    publicUrl: 'http://ci.example.test/',
    ...overrides,
  });
  return {
    app,
    engine,
    store,
    bus,
    executor,
    content,
    dataDir,
    async setOutput(job, text) {
      const file = join(dataDir, `${job}-out.txt`);
      await writeFile(file, text);
      const blob = await content.put(file);
      executor.outputs.set(job, [
        {
          name: 'out',
          digest: blob.digest,
          files: [{ path: 'out.txt', digest: blob.digest, size: blob.size }],
        },
      ]);
      return blob.digest;
    },
    async push(sha) {
      await engine.ingest({
        kind: 'source',
        source: 'app',
        version: sha,
        ref: 'main',
        origin: 'webhook',
        deliveryId: null,
        changedPaths: null,
        producedBy: null,
        receivedAt: Date.now(),
      });
      await engine.settled();
    },
    async close() {
      await app.close();
      await engine.stop();
      await bus.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

/** A 40-hex commit id derived from a word, so tests read `sha('first')`. */
export function sha(word: string): string {
  return createHash('sha1').update(word).digest('hex');
}

/** Reads server-sent events from a `fetch` response until `until` says stop (or the stream ends). */
export async function readEvents(
  res: Response,
  until: (events: SseEvent[]) => boolean,
): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return events;
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const ev = parseBlock(block);
        if (ev) events.push(ev);
        if (until(events)) return events;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

export interface SseEvent {
  readonly event: string;
  readonly id: string | null;
  readonly data: unknown;
  /** Comment lines in the block (`: heartbeat`). */
  readonly comments: readonly string[];
}

function parseBlock(block: string): SseEvent | null {
  let event = 'message';
  let id: string | null = null;
  const data: string[] = [];
  const comments: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) comments.push(line.slice(1).trim());
    else if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  if (data.length === 0 && comments.length === 0) return null;
  return { event, id, data: data.length > 0 ? JSON.parse(data.join('\n')) : null, comments };
}

/** `key` of every element of a JSON array (responses are untyped in tests). */
export function pluck(list: unknown, key: string): unknown[] {
  return (list as Array<Record<string, unknown>>).map((item) => item[key]);
}

/** Build ids of a JSON list of builds. */
export function ids(list: unknown): number[] {
  return pluck(list, 'id') as number[];
}
