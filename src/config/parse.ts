import { basename, dirname } from 'node:path';
import type { Pipeline } from '../core/pipeline.js';
import { DEFAULT_MAX_BYTES, DEFAULTS } from './defaults.js';
import type { Env } from './env-refs.js';
import { expandEnvTree } from './env-refs.js';
import type { ConfigProblem } from './errors.js';
import { ConfigError } from './errors.js';
import { deepFreeze } from './freeze.js';
import { consumersOf, topologicalOrder } from './graph.js';
import { checkReferences, looseGraph, upstreamResolver } from './references.js';
import type { Path } from './paths.js';
import { formatPath } from './paths.js';
import { resolvePipeline } from './resolve.js';
import { pipelineFileSchema } from './schema.js';
import { formatBytes } from './sizes.js';
import { MAX_ALIAS_COUNT, YamlFile } from './yaml-positions.js';
import type { RawProblem } from './zod-issues.js';
import { mapIssues } from './zod-issues.js';

export interface ParseOptions {
  /** Values for `${env:NAME}`; default `process.env`. */
  readonly env?: Env;
  /** Files larger than this are refused before parsing; default 1 MiB. */
  readonly maxBytes?: number;
  /** Pipeline name when the file has no `pipeline:`; default derived from `fileName`'s directory. */
  readonly defaultName?: string;
  /** Directory that relative local git paths are resolved against (the file's); default: left as written. */
  readonly baseDir?: string;
}

/** Directory basename reduced to `[a-z0-9-]`; `nightless` when nothing is left. */
export function defaultPipelineName(dir: string): string {
  const s = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return s === '' ? DEFAULTS.pipelineName : s;
}

/**
 * Parses and resolves a pipeline file's text. Synchronous and free of I/O except reading
 * `process.env` when no `env` is given. Throws `ConfigError` with every problem found.
 * `fileName` is only used in messages (and for the default pipeline name).
 */
export function parsePipeline(text: string, fileName: string, opts: ParseOptions = {}): Pipeline {
  const env = opts.env ?? process.env;
  const fileProblem = (message: string, line = 0, column = 0): ConfigError =>
    new ConfigError([{ file: fileName, line, column, path: '', message }]);

  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw fileProblem(
      `file is too large (${formatBytes(bytes)}; the limit is ${formatBytes(maxBytes)})`,
    );
  }

  const yaml = new YamlFile(text);
  const located = (p: RawProblem): ConfigProblem => {
    const pos = p.key !== undefined ? yaml.locateKey(p.path, p.key) : yaml.locate(p.path);
    return {
      file: fileName,
      line: pos.line,
      column: pos.column,
      path: formatPath(p.path),
      message: p.message,
    };
  };

  const problems: ConfigProblem[] = [];
  for (const issue of yaml.issues()) {
    const d = issue.duplicate;
    if (d !== undefined) {
      const what =
        d.path.length === 2 && d.path[0] === 'jobs'
          ? 'job'
          : d.path.length === 2 && d.path[0] === 'sources'
            ? 'source'
            : 'key';
      const parent: Path = d.path.slice(0, -1);
      problems.push({
        file: fileName,
        ...issue.position,
        path: formatPath(parent),
        message: `duplicate ${what} "${d.key}" (first defined on line ${d.firstLine})`,
      });
    } else {
      problems.push({
        file: fileName,
        ...issue.position,
        path: '',
        message: `YAML syntax error: ${issue.message}`,
      });
    }
  }
  // After a syntax error the tree is a guess; duplicate keys still leave a usable tree.
  if (!yaml.onlyDuplicateKeys()) throw new ConfigError(problems);

  let raw: unknown;
  try {
    raw = yaml.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    const pos = yaml.firstAliasPosition();
    const message =
      e instanceof ReferenceError && /alias/i.test(e.message)
        ? `YAML aliases expand too much (more than ${MAX_ALIAS_COUNT} alias uses): refusing to load`
        : `cannot read the YAML: ${(e as Error).message}`;
    throw new ConfigError([
      ...problems,
      { file: fileName, line: pos.line, column: pos.column, path: '', message },
    ]);
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError([
      ...problems,
      {
        file: fileName,
        line: 1,
        column: 1,
        path: '',
        message: 'the file is empty: it needs at least "jobs:"',
      },
    ]);
  }

  const expanded = expandEnvTree(raw, env);
  problems.push(...expanded.problems.map((p) => located(p)));

  const graph = looseGraph(expanded.data);
  const raws: RawProblem[] = checkReferences(graph);
  const parsed = pipelineFileSchema.safeParse(expanded.data);
  if (!parsed.success) raws.push(...mapIssues(parsed.error.issues, expanded));
  problems.push(...raws.map(located));
  if (problems.length > 0 || !parsed.success) {
    throw new ConfigError(
      redact(problems, [...expanded.secretValues, ...secretFieldValues(expanded.data)]),
    );
  }

  const resolved = resolvePipeline(parsed.data, {
    provenance: expanded.provenance,
    env,
    defaultName: opts.defaultName ?? defaultPipelineName(dirname(fileName)),
    ...(opts.baseDir !== undefined ? { baseDir: opts.baseDir } : {}),
  });
  const graphJobs = [...resolved.jobs.values()];
  const upstreamOf = upstreamResolver(graph);
  const secretValues = [...new Set([...expanded.secretValues, ...resolved.secretValues])]
    .filter((v) => v !== '')
    .sort((a, b) => b.length - a.length || (a < b ? -1 : 1));

  return deepFreeze<Pipeline>({
    name: resolved.name,
    sources: resolved.sources,
    jobs: resolved.jobs,
    reports: resolved.reports,
    retention: resolved.retention,
    network: resolved.network,
    slos: resolved.slos,
    consumers: consumersOf(resolved.sources.keys(), graphJobs),
    order: topologicalOrder(graphJobs, upstreamOf),
    secretValues,
  });
}

const SECRET_KEYS = new Set(['webhook_secret', 'secret', 'token', 'password', 'private_key']);

/** Literal values of secret fields, found without trusting the (invalid) shape. */
function secretFieldValues(data: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (SECRET_KEYS.has(k) && typeof x === 'string') out.push(x);
        walk(x);
      }
    }
  };
  walk(data);
  return out;
}

/**
 * Last line of defence: messages are built to quote values as written, but a secret must never
 * reach a message even through a path we did not foresee. Very short values are skipped: masking
 * every "1" would garble messages and such values protect nothing.
 */
function redact(problems: readonly ConfigProblem[], secrets: readonly string[]): ConfigProblem[] {
  const masks = secrets.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  if (masks.length === 0) return [...problems];
  return problems.map((p) => ({
    ...p,
    message: masks.reduce((m, s) => m.split(s).join('***'), p.message),
  }));
}
