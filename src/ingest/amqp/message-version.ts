import type { AmqpSource } from '../../core/pipeline.js';
import { parseVersionTemplate, type TemplatePart } from '../../config/version-template.js';

/** What one bus message means for one source. */
export type MessageVerdict =
  | { readonly kind: 'version'; readonly version: string }
  /** Valid, but about something else (another tag, another package): acked silently. */
  | { readonly kind: 'not-for-us' }
  /** Not JSON, not an object, or a match without the fields the version needs: acked, logged, counted. */
  | { readonly kind: 'malformed'; readonly reason: string };

type Scalar = string | number | boolean;

/** The value at a dotted path (`build.nvr`), or `undefined`. */
function valueAt(body: unknown, path: readonly string[]): unknown {
  let v: unknown = body;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, key))
      return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/**
 * Reads messages for one amqp source: `match` (dotted paths → values; `42` matches `"42"`, since
 * YAML and message producers disagree about quoting) selects the messages, the `version`
 * template builds the version from them. Compiled once per source.
 */
export function messageReader(
  source: Pick<AmqpSource, 'match' | 'versionTemplate'>,
): (content: Buffer) => MessageVerdict {
  const template = parseVersionTemplate(source.versionTemplate);
  // The config loader rejects bad templates; a hand-built pipeline might not have.
  if (!template.ok)
    throw new Error(`invalid version template "${source.versionTemplate}": ${template.reason}`);
  const parts: readonly TemplatePart[] = template.parts;
  const match = Object.entries(source.match).map(([path, expected]) => ({
    path: path.split('.'),
    expected,
  }));
  return (content) => {
    let body: unknown;
    try {
      body = JSON.parse(content.toString('utf8'));
    } catch {
      return { kind: 'malformed', reason: 'body is not JSON' };
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return { kind: 'malformed', reason: 'body is not a JSON object' };
    for (const m of match) {
      const v = valueAt(body, m.path);
      if (!isScalar(v) || String(v) !== String(m.expected)) return { kind: 'not-for-us' };
    }
    let version = '';
    for (const p of parts) {
      if ('text' in p) {
        version += p.text;
        continue;
      }
      const v = valueAt(body, p.path);
      if (!isScalar(v) || v === '')
        return { kind: 'malformed', reason: `no value for {${p.path.join('.')}} in the message` };
      version += String(v);
    }
    return { kind: 'version', version };
  };
}
