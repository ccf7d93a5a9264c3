import type { z } from 'zod';
import type { Provenance } from './env-refs.js';
import { didYouMean } from './names.js';
import type { Path } from './paths.js';
import { pathKey } from './paths.js';
import { allowedKeysByMessage, kindsByMessage, VALUE } from './schema-helpers.js';

/**
 * Turns zod issues into located, human problems: unknown keys point at the key and suggest the
 * closest allowed one, kind unions (`git`/`http`/`amqp`) report the branch the user meant, and
 * values are quoted as written (`${env:X}`, never the secret behind it).
 */

export interface RawProblem {
  readonly path: Path;
  readonly message: string;
  /** When set, the problem is about this key of the mapping at `path` (located at the key node). */
  readonly key?: string;
}

export interface IssueContext {
  readonly data: unknown;
  readonly provenance: ReadonlyMap<string, Provenance>;
  readonly unresolved: ReadonlySet<string>;
}

type Issue = z.core.$ZodIssue;

export function mapIssues(
  issues: readonly Issue[],
  ctx: IssueContext,
  base: Path = [],
): RawProblem[] {
  const out: RawProblem[] = [];
  for (const issue of issues) out.push(...mapIssue(issue, ctx, base));
  return withoutTypoEchoes(out);
}

/**
 * `stpes:` yields both "unknown key stpes (did you mean steps?)" and "missing required key steps";
 * the second is the same mistake told twice, so it is dropped.
 */
function withoutTypoEchoes(problems: readonly RawProblem[]): RawProblem[] {
  const suggested = new Set<string>();
  for (const p of problems) {
    const m = /^unknown key ".*" \(did you mean "(.*)"\?\)$/.exec(p.message);
    if (m !== null && p.key !== undefined) suggested.add(`${pathKey(p.path)}\0${m[1] ?? ''}`);
  }
  return problems.filter((p) => {
    const m = /^missing required key "(.*)"$/.exec(p.message);
    return m === null || !suggested.has(`${pathKey(p.path)}\0${m[1] ?? ''}`);
  });
}

function mapIssue(issue: Issue, ctx: IssueContext, base: Path): RawProblem[] {
  const path: Path = [...base, ...(issue.path as (string | number)[])];
  // The env reference already produced a precise problem; its placeholder value would only cascade.
  if (ctx.unresolved.has(pathKey(path))) return [];
  const value = valueAt(ctx.data, path);
  const fill = (message: string) => message.split(VALUE).join(asWritten(ctx, path, value));

  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeysByMessage.get(issue.message) ?? [];
      return issue.keys.map((key) => ({
        path,
        key,
        message: `unknown key "${key}"${didYouMean(key, allowed)}`,
      }));
    }
    case 'invalid_union': {
      const kinds = kindsByMessage.get(issue.message);
      if (kinds !== undefined) return mapKindUnion(issue, kinds, value, path, ctx);
      return mapUnion(issue, ctx, path, value, fill);
    }
    case 'invalid_key': {
      const key = String(path[path.length - 1]);
      const parent = path.slice(0, -1);
      const inner = issue.issues[0]?.message ?? 'invalid key';
      return [{ path: parent, key, message: inner.split(VALUE).join(JSON.stringify(key)) }];
    }
    case 'invalid_type': {
      if (value === undefined && path.length > 0) {
        // A schema may explain why the key is required; zod's own message ("Invalid input…") adds nothing.
        const why = issue.message.startsWith('Invalid') ? '' : `: ${issue.message}`;
        return [
          {
            path: path.slice(0, -1),
            message: `missing required key "${String(path[path.length - 1])}"${why}`,
          },
        ];
      }
      return [
        { path, message: `expected ${expectedName(issue.expected)}, got ${describe(value)}` },
      ];
    }
    case 'invalid_value': {
      if (!issue.message.startsWith('Invalid')) return [{ path, message: fill(issue.message) }];
      const options = issue.values.map((v) => JSON.stringify(v));
      const hint = typeof value === 'string' ? didYouMean(value, issue.values.map(String)) : '';
      return [
        {
          path,
          message: `invalid value ${asWritten(ctx, path, value)}: expected ${oneOf(options)}${hint}`,
        },
      ];
    }
    case 'custom':
    case 'invalid_element':
    case 'invalid_format':
    case 'not_multiple_of':
    case 'too_big':
    case 'too_small':
      // Our schema gives these their own messages (with %VALUE% where the value helps).
      return [{ path, message: fill(issue.message) }];
  }
}

/** Exactly one kind key must be present; then the errors are those of the branch it selects. */
function mapKindUnion(
  issue: Extract<Issue, { code: 'invalid_union' }>,
  kinds: readonly string[],
  value: unknown,
  path: Path,
  ctx: IssueContext,
): RawProblem[] {
  const list = kinds.join(', ');
  if (!isPlainObject(value))
    return [{ path, message: `expected a mapping with one of ${list}, got ${describe(value)}` }];
  const keys = Object.keys(value);
  const present = keys.filter((k) => kinds.includes(k));
  if (present.length > 1) {
    const second = present[1] ?? '';
    return [
      {
        path,
        key: second,
        message: `expected exactly one of ${list}, found ${present.map((k) => `"${k}"`).join(' and ')}`,
      },
    ];
  }
  const kind = present[0];
  if (kind === undefined) {
    for (const key of keys) {
      const hint = didYouMean(key, kinds);
      if (hint !== '') return [{ path, key, message: `unknown key "${key}"${hint}` }];
    }
    const only = keys.length === 1 ? keys[0] : undefined;
    if (only !== undefined)
      return [{ path, key: only, message: `unknown kind "${only}" (expected one of ${list})` }];
    return [{ path, message: `missing one of ${list}` }];
  }
  const branch = issue.errors[kinds.indexOf(kind)] ?? [];
  return mapIssues(branch, ctx, path);
}

/** A plain union: report the branch that got furthest, or what was expected if none matched at all. */
function mapUnion(
  issue: Extract<Issue, { code: 'invalid_union' }>,
  ctx: IssueContext,
  path: Path,
  value: unknown,
  fill: (m: string) => string,
): RawProblem[] {
  const rootMismatch = (errs: readonly Issue[]) =>
    errs.every(
      (e) => e.path.length === 0 && (e.code === 'invalid_type' || e.code === 'invalid_value'),
    );
  const candidates = issue.errors.filter((errs) => !rootMismatch(errs));
  const best = candidates.sort((a, b) => a.length - b.length)[0];
  if (best !== undefined) return mapIssues(best, ctx, path);
  if (!issue.message.startsWith('Invalid input')) return [{ path, message: fill(issue.message) }];
  const expected = issue.errors.flatMap((errs) =>
    errs.map((e) =>
      e.code !== 'invalid_type'
        ? 'a valid value'
        : e.expected === 'boolean'
          ? 'a boolean'
          : expectedName(e.expected),
    ),
  );
  return [{ path, message: `expected ${oneOf([...new Set(expected)])}, got ${describe(value)}` }];
}

function valueAt(data: unknown, path: Path): unknown {
  let v = data;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isPlainObject(v)) v = v[String(seg)];
    else return undefined;
  }
  return v;
}

/** The value as the user wrote it: the `${env:...}` text for resolved references. */
function asWritten(ctx: IssueContext, path: Path, value: unknown): string {
  const prov = ctx.provenance.get(pathKey(path));
  const shown = prov !== undefined ? prov.template : value;
  if (typeof shown === 'string')
    return JSON.stringify(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown);
  if (typeof shown === 'number' || typeof shown === 'boolean' || shown === null)
    return String(shown);
  return describe(shown);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function expectedName(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
    array: 'a list',
    object: 'a mapping',
    record: 'a mapping',
  };
  return names[expected] ?? expected;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return `${String(value)}`;
  return typeof value;
}

function oneOf(options: readonly string[]): string {
  if (options.length <= 1) return options[0] ?? 'something else';
  return `${options.slice(0, -1).join(', ')} or ${options[options.length - 1] ?? ''}`;
}
