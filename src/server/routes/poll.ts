import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../../api/errors.js';
import { didYouMean } from '../../config/names.js';

/** Checking sources now (`FallbackPoller` in the embedded deployment). */
export interface SourcePolls {
  /** Checks every source that has a fallback poll; one outcome per source. */
  pollAll(): Promise<Array<{ readonly source: string }>>;
  pollNow(name: string): Promise<unknown>;
  canPoll(name: string): true | 'missing' | 'not-pollable';
  sourceNames(): Iterable<string>;
}

/**
 * `POST /api/sources/:name/poll`: check one source now (`nightless poll SOURCE`);
 * `POST /api/sources/poll`: check every source that has a fallback poll (`nightless poll --all`).
 */
export function pollRoutes(poller: SourcePolls) {
  return function routes(app: FastifyInstance): Promise<void> {
    app.post('/api/sources/poll', async () => {
      const polls = await poller.pollAll();
      return { polls: polls.sort((a, b) => a.source.localeCompare(b.source)) };
    });
    app.post<{ Params: { name: string } }>(
      '/api/sources/:name/poll',
      {
        // A zod schema: the server compiles schemas with zod's validator (a JSON schema here
        // made every call a 500).
        schema: { params: z.object({ name: z.string().min(1) }) },
      },
      async (req, reply) => {
        const { name } = req.params;
        const exists = poller.canPoll(name);
        if (exists === 'missing')
          throw ApiError.notFound(`no source "${name}"${didYouMean(name, poller.sourceNames())}`);
        if (exists !== true)
          throw new ApiError(
            'NL_CONFLICT',
            `source "${name}" cannot be polled (only git and http sources can)`,
          );
        const outcome = await poller.pollNow(req.params.name);
        return reply.send({ poll: outcome });
      },
    );
    return Promise.resolve();
  };
}
