import { z } from 'zod';
import type { OutboxRecord } from '../../store/ports.js';
import type { ApiApp, RouteContext } from '../options.js';
import { eventStreamResponse } from '../openapi-doc.js';
import { commonErrors } from '../schemas/error.js';
import type { SseStream } from '../sse.js';
import type { BuildLinker } from '../build-links.js';
import type { BuildEvent } from '../../api/types.js';

/** At most this many missed events are replayed to a reconnecting client. */
const MAX_REPLAY = 5000;
const PAGE = 500;

/**
 * `GET /api/events`: build lifecycle events as server-sent events. A client reconnecting with
 * `Last-Event-ID` (browsers' EventSource does so by itself) first gets what it missed, from the
 * outbox, then the live stream — without duplicates and in outbox order.
 */
export function eventRoutes(app: ApiApp, ctx: RouteContext): void {
  const { outbox, live } = ctx.opts;

  app.get(
    '/api/events',
    {
      // A HEAD request would hold an event stream open with nothing to send.
      exposeHeadRoute: false,
      schema: {
        tags: ['events'],
        summary: 'Build lifecycle events (server-sent events)',
        description:
          'Each event: `event: build.<type>` (queued|started|finished|superseded|cancelled|skipped), ' +
          '`id: <outbox id>`, `data: {"type", "build"}` (the build with its `url` and `apiUrl`). A `: heartbeat` comment every 15 s. ' +
          'Send `Last-Event-ID` to resume after a disconnect.',
        querystring: z.strictObject({
          job: z.string().min(1).optional().meta({ description: 'Only this job’s builds.' }),
        }),
        response: {
          200: eventStreamResponse('`text/event-stream` of `build.<type>` events.'),
          ...commonErrors,
        },
      },
    },
    async (request, reply) => {
      const { job } = request.query;
      const header = Number(request.headers['last-event-id']);
      const resumeAfter = Number.isSafeInteger(header) && header >= 0 ? header : null;
      const stream = ctx.sse.start(request, reply);
      let replayedUpTo = 0;
      const deliver = (r: OutboxRecord) => {
        if (r.id <= replayedUpTo || (job !== undefined && r.build.job !== job)) return;
        send(stream, r, ctx.links);
      };
      // Subscribe before reading the outbox so nothing committed in between is lost.
      let held: OutboxRecord[] | null = resumeAfter === null ? null : [];
      const unsubscribe = live.subscribe('build', (r) => {
        if (held) held.push(r);
        else deliver(r);
      });
      stream.onClose(unsubscribe);
      if (resumeAfter === null) return reply;
      try {
        let after = resumeAfter;
        for (let sent = 0; sent < MAX_REPLAY && !stream.closed; sent += PAGE) {
          const page = await outbox.outboxSince(after, PAGE);
          for (const r of page) deliver(r);
          const last = page[page.length - 1];
          if (last) after = replayedUpTo = last.id;
          if (page.length < PAGE) break;
        }
      } catch (err) {
        request.log.error({ err }, 'replaying events failed');
        stream.close();
      }
      const caughtUp = held ?? [];
      held = null;
      for (const r of caughtUp) deliver(r);
      return reply;
    },
  );
}

function send(stream: SseStream, r: OutboxRecord, links: BuildLinker): void {
  const data: BuildEvent = { type: r.type, build: links.build(r.build) };
  stream.send(`build.${r.type}`, data, r.id);
}
