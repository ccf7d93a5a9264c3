import { ENV_NAME_PATTERN } from './names.js';
import type { Path } from './paths.js';
import { pathKey } from './paths.js';

/**
 * `${env:NAME}` references in string values, resolved at load time. `$${env:NAME}` is the
 * escape for a literal `${env:NAME}`; every other `$` (shell variables in `run`) is left alone.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** How a string value was written, kept for strings that contained a reference or an escape. */
export interface Provenance {
  /** The text as written in the file. */
  readonly template: string;
  /** True when at least one `${env:...}` was substituted: the value is then secret. */
  readonly fromEnv: boolean;
}

export interface EnvProblem {
  readonly path: Path;
  readonly message: string;
}

export interface ExpandedTree {
  readonly data: unknown;
  readonly provenance: ReadonlyMap<string, Provenance>;
  /** Paths whose value could not be resolved: later checks skip them to avoid cascades. */
  readonly unresolved: ReadonlySet<string>;
  /** Every substituted environment value (non-empty), for masking. */
  readonly secretValues: readonly string[];
  readonly problems: readonly EnvProblem[];
}

const REF = /(\$?)\$\{env:([^}]*)\}/g;

interface Expansion {
  value: string;
  fromEnv: boolean;
  touched: boolean;
  values: string[];
  errors: string[];
}

export function expandString(text: string, env: Env): Expansion {
  const out: Expansion = { value: '', fromEnv: false, touched: false, values: [], errors: [] };
  out.value = text.replace(REF, (whole, escape: string, name: string) => {
    out.touched = true;
    if (escape === '$') return whole.slice(1);
    if (!ENV_NAME_PATTERN.test(name)) {
      out.errors.push(
        `invalid environment reference "\${env:${name}}" (a variable name uses letters, digits and "_")`,
      );
      return '';
    }
    const value = env[name];
    if (value === undefined) {
      out.errors.push(`environment variable "${name}" is not set`);
      return '';
    }
    out.fromEnv = true;
    if (value !== '') out.values.push(value);
    return value;
  });
  const rest = text.replace(REF, '');
  if (rest.includes('${env:')) {
    out.touched = true;
    out.errors.push('unterminated environment reference "${env:" (missing "}")');
  }
  return out;
}

/** Resolves references in every string value of the parsed YAML (keys are left as written). */
export function expandEnvTree(data: unknown, env: Env): ExpandedTree {
  const provenance = new Map<string, Provenance>();
  const unresolved = new Set<string>();
  const secretValues: string[] = [];
  const problems: EnvProblem[] = [];

  const walk = (value: unknown, path: Path): unknown => {
    if (typeof value === 'string') {
      const e = expandString(value, env);
      if (!e.touched) return value;
      const key = pathKey(path);
      provenance.set(key, { template: value, fromEnv: e.fromEnv });
      secretValues.push(...e.values);
      if (e.errors.length > 0) {
        unresolved.add(key);
        for (const message of e.errors) problems.push({ path, message });
        // Keep the text as written so the rest of validation sees a string, not a hole.
        return value;
      }
      return e.value;
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = walk(v, [...path, k]);
      return out;
    }
    return value;
  };

  return { data: walk(data, []), provenance, unresolved, secretValues, problems };
}
