import type { MetaPort } from './ports.js';

/** The `meta` row holding this installation's id (written once, by migration 0003). */
export const INSTALLATION_ID_KEY = 'installation_id';

/**
 * This installation's id: random, made once when the database is created or upgraded, and the
 * same for every server that uses the database (replicas of one installation share it, so they
 * share its bus queues and compete for their messages, as intended). It names what nightless
 * owns on shared infrastructure — AMQP source queues — so that two unrelated installations
 * never consume from one queue because their pipelines have the same name.
 */
export async function readInstallationId(meta: Pick<MetaPort, 'get'>): Promise<string> {
  const id = await meta.get(INSTALLATION_ID_KEY);
  if (id === null || id === '')
    throw new Error(
      `the store has no ${INSTALLATION_ID_KEY} (meta table): its migrations did not run completely`,
    );
  return id;
}
