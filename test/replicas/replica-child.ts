// One server replica's engine in a process of its own (the test kills it with SIGKILL): the
// store opened by URL (a SQLite file, or PostgreSQL once that store exists), the AMQP bus, the
// PostgreSQL leader lock, scripted builds. Reads `push SOURCE VERSION` lines on stdin; prints
// JSON lines: {"leading": bool, "at"} on every change of leadership, {"ready": true} once started.
import { createInterface } from 'node:readline';
import pino from 'pino';
import { Engine } from '../../src/app/engine.js';
import { AmqpBus } from '../../src/bus/amqp/amqp-bus.js';
import { PgAdvisoryLeadership } from '../../src/leader/pg-advisory-leadership.js';
import { ScriptedExecutor } from '../../src/testing/scripted-executor.js';
import { openStoreByUrl, replicaPipeline } from './replica-setup.js';

interface ChildConfig {
  readonly name: string;
  readonly storeUrl: string;
  readonly busUrl: string;
  readonly scope: string;
  readonly databaseUrl: string;
  readonly lockName: string;
  readonly slots: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const logger = pino({ level: 'warn' }, pino.destination(2));
const say = (line: object) =>
  process.stdout.write(`${JSON.stringify({ ...line, at: Date.now() })}\n`);

/** Says which builds this replica ran: the test checks that a `--slots 0` replica ran none. */
class ReportingExecutor extends ScriptedExecutor {
  override run(...args: Parameters<ScriptedExecutor['run']>) {
    say({ ran: args[0].buildId });
    return super.run(...args);
  }
}

const store = await openStoreByUrl(config.storeUrl);
const bus = AmqpBus.start({ url: config.busUrl, scope: config.scope, name: config.name, logger });
const leadership = new PgAdvisoryLeadership({
  url: config.databaseUrl,
  lockName: config.lockName,
  name: config.name,
  logger,
});
const engine = await Engine.start({
  store,
  bus,
  executor: new ReportingExecutor(),
  pipeline: replicaPipeline(),
  logger,
  slots: config.slots,
  worker: config.name,
  replication: {
    leadership,
    onLeading: (leading) => {
      say({ leading });
      return Promise.resolve();
    },
  },
});
say({ ready: true });

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [verb, source, version] = line.trim().split(/\s+/);
  if (verb !== 'push' || source === undefined || version === undefined) return;
  void engine
    .ingest({
      kind: 'source',
      source,
      version,
      ref: null,
      origin: 'webhook',
      deliveryId: `test:${source}:${version}`,
      changedPaths: null,
      producedBy: null,
      receivedAt: Date.now(),
    })
    .then(({ id }) => say({ pushed: version, eventId: id }));
});
process.on('SIGTERM', () => {
  void engine
    .stop()
    .then(() => Promise.all([bus.close(), store.close()]))
    .then(() => process.exit(0));
});
// Bounded: an orphaned replica (the test runner died) gives up after three minutes.
setTimeout(() => process.exit(3), 180_000).unref();
