// One elector in a process of its own (the test kills it with SIGKILL). Prints one JSON line per
// change of leadership: {"name","leading","at"}; `at` is this machine's clock, like the test's.
import pino from 'pino';
import { PgAdvisoryLeadership } from '../../src/leader/pg-advisory-leadership.js';

const [url, lockName, name] = process.argv.slice(2);
if (url === undefined || lockName === undefined || name === undefined)
  throw new Error('usage: elector-child URL LOCK_NAME NAME');
const leadership = new PgAdvisoryLeadership({
  url,
  lockName,
  name,
  logger: pino({ level: 'warn' }, pino.destination(2)),
});
leadership.start((leading) => {
  process.stdout.write(`${JSON.stringify({ name, leading, at: Date.now() })}\n`);
});
process.stdout.write(`${JSON.stringify({ name, started: true, at: Date.now() })}\n`);
process.on('SIGTERM', () => {
  void leadership.stop().then(() => process.exit(0));
});
// Bounded: an orphaned elector (the test runner died) gives up after two minutes.
setTimeout(() => process.exit(3), 120_000).unref();
setInterval(() => undefined, 1_000);
