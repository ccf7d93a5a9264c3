import { createHash } from 'node:crypto';
import type { ReportDef } from '../core/pipeline.js';

/**
 * `<kind>:<index>:<hash>`: the key of a report's delivery cursor. The hash covers what decides
 * where events go (URL without password, exchange, provider, base URL, context) and never a
 * secret, so rotating a token keeps the cursor and its pending deliveries.
 */
export function targetKey(def: ReportDef, index: number): string {
  const identity =
    def.kind === 'amqp'
      ? { url: withoutPassword(def.url), exchange: def.exchange }
      : def.kind === 'webhook'
        ? { url: def.url }
        : { provider: def.provider, baseUrl: def.baseUrl, context: def.context };
  const hash = createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 12);
  return `${def.kind}:${index}:${hash}`;
}

/** Human description of a report for the CLI and logs (no secrets). */
export function describeTarget(def: ReportDef): string {
  switch (def.kind) {
    case 'amqp':
      return `amqp ${withoutPassword(def.url)} exchange ${def.exchange}`;
    case 'webhook':
      return `webhook ${def.url}`;
    case 'commit_status':
      return `commit_status ${def.provider}${def.baseUrl ? ` ${def.baseUrl}` : ''} (${def.context})`;
  }
}

function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.href;
  } catch {
    return url;
  }
}
