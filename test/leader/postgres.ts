import { Socket } from 'node:net';

/** The PostgreSQL of this machine (trust auth, database `test`). */
export const DATABASE_URL =
  process.env.NIGHTLESS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Why PostgreSQL cannot be used by these tests, or null when it answers on its port (1 s bound). */
export function postgresUnavailable(): Promise<string | null> {
  const db = new URL(DATABASE_URL);
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(1_000);
    const no = () => (s.destroy(), resolve(`PostgreSQL is not reachable at ${db.host}`));
    s.once('connect', () => (s.destroy(), resolve(null)));
    s.once('timeout', no);
    s.once('error', no);
    s.connect(Number(db.port || 5432), db.hostname);
  });
}
