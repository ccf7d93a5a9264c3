import type { FastifyInstance } from 'fastify';

/** A metrics registry (`NightlessMetrics` in the embedded deployment). */
export interface MetricsScrape {
  scrape(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/**
 * `GET /metrics`: the Prometheus text exposition of one server's registry. A read endpoint: open
 * unless the server runs with `--read-auth` (then scrape with a bearer token). Gauges are read
 * from the store on each scrape, so a scrape costs a few small queries.
 */
export function metricsRoutes(metrics: MetricsScrape) {
  return function routes(app: FastifyInstance): Promise<void> {
    app.get('/metrics', async (_req, reply) => {
      const { contentType, body } = await metrics.scrape();
      return reply
        .header('content-type', contentType)
        .header('cache-control', 'no-store')
        .send(body);
    });
    return Promise.resolve();
  };
}
