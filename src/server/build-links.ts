import { buildApiUrl, buildPageUrl } from '../api/urls.js';
import type { TraceNode } from '../core/trace.js';

/** What every build the API sends carries besides its own fields (`BuildSchema`). */
export interface BuildLinks {
  /** The build's page in the dashboard: the link reports and `NIGHTLESS_BUILD_URL` use too. */
  readonly url: string;
  /** The build as JSON (`GET /api/builds/:id`). */
  readonly apiUrl: string;
}

export type Linked<B> = B & BuildLinks;

type LinkedTraceNode = Omit<TraceNode, 'build' | 'children'> & {
  readonly build: Linked<TraceNode['build']>;
  readonly children: readonly LinkedTraceNode[];
};

/**
 * Adds its links to each build an answer or event holds. Every route and the event stream go
 * through this one object, so the links are the same everywhere; the response schemas require
 * `url` and `apiUrl`, so a build sent without them fails the type check and the serializer.
 * Plain functions, safe to pass around unbound (`builds.map(links.build)`).
 */
export interface BuildLinker {
  readonly build: <B extends { readonly id: number }>(build: B) => Linked<B>;
  readonly maybe: <B extends { readonly id: number }>(build: B | null) => Linked<B> | null;
  /** Trace nodes with every build in the tree linked, children included. */
  readonly trace: (nodes: readonly TraceNode[]) => LinkedTraceNode[];
}

/**
 * `publicUrl` is read at each call: `nightless serve --port 0` learns its address only after the
 * server was built, and builds sent later must carry the real one.
 */
export function buildLinker(publicUrl: () => string): BuildLinker {
  const build = <B extends { readonly id: number }>(b: B): Linked<B> => {
    const base = publicUrl();
    return { ...b, url: buildPageUrl(base, b.id), apiUrl: buildApiUrl(base, b.id) };
  };
  const trace = (nodes: readonly TraceNode[]): LinkedTraceNode[] =>
    nodes.map((n) => ({ ...n, build: build(n.build), children: trace(n.children) }));
  return { build, maybe: (b) => (b === null ? null : build(b)), trace };
}
