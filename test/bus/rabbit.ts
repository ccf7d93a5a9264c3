import { Socket } from 'node:net';

/** The RabbitMQ of this machine (CONVENTIONS §14: real services). */
export const AMQP_URL = process.env.NIGHTLESS_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Why RabbitMQ cannot be used by these tests, or null when it answers on its port (1 s bound). */
export function rabbitUnavailable(): Promise<string | null> {
  const broker = new URL(AMQP_URL);
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(1_000);
    const no = () => (s.destroy(), resolve(`RabbitMQ is not reachable at ${broker.host}`));
    s.once('connect', () => (s.destroy(), resolve(null)));
    s.once('timeout', no);
    s.once('error', no);
    s.connect(Number(broker.port || 5672), broker.hostname);
  });
}

/** Under CI a missing service fails the suite; elsewhere the suite is skipped, loudly. */
export function skipOrFail(what: string, why: string): void {
  if (process.env.CI === 'true') throw new Error(`${why}: ${what} need it under CI`);
  console.warn(`\n*** SKIPPING ${what}: ${why} ***\n`);
}
