/**
 * Where the allocations of a fixed-rate run come from: a V8 sampling heap profile (collected
 * objects included) summed per allocating frame, per innermost frame of the project's own code
 * (src/), and per package, as bytes per answered request — what sets how often scavenges come.
 *
 *   npx tsx bench/ingest/heap-sites.mts FILE.heapprofile... [--top=12]
 *
 * Profiles: `NL_BENCH_HEAP_PROF=DIR npx tsx bench/ingest/run.mts --rate-only ...`, which writes
 * the run's answered requests to FILE.requests.json next to each profile.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const argv = process.argv.slice(2);
const TOP = Number(argv.find((a) => a.startsWith('--top='))?.split('=')[1] ?? 12);
const files = argv.filter((a) => !a.startsWith('--'));

const fileOf = (url: string): string =>
  url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url;
const frameName = (n: HeapNode): string => {
  const { functionName, url, lineNumber } = n.callFrame;
  const file = fileOf(url);
  return `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
};
/** `src/…` for the project's own code, the package for a dependency, else node's own. */
const packageOf = (url: string): string => {
  const file = fileOf(url);
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (m) return m[1] as string;
  if (file.startsWith('src/')) return file.split('/').slice(0, 2).join('/');
  if (file.startsWith('bench/')) return 'bench (the load generator)';
  return file.startsWith('node:') ? 'node' : file || '(V8 / native)';
};

for (const file of files) {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const reqFile = file.replace(/\.heapprofile$/, '.requests.json');
  const requests = existsSync(reqFile)
    ? (JSON.parse(readFileSync(reqFile, 'utf8')) as { requests: number }).requests
    : 0;
  const bySite = new Map<string, number>();
  const byOwn = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number): void => {
    m.set(k, (m.get(k) ?? 0) + v);
  };
  let total = 0;
  // Depth-first with the innermost src/ frame and the first dependency frame carried down.
  const stack: Array<[HeapNode, string | undefined]> = [[head, undefined]];
  for (let guard = 0; stack.length > 0 && guard < 5_000_000; guard++) {
    const [n, own] = stack.pop() as [HeapNode, string | undefined];
    const here = fileOf(n.callFrame.url).startsWith('src/') ? frameName(n) : own;
    if (n.selfSize > 0) {
      total += n.selfSize;
      add(bySite, frameName(n), n.selfSize);
      add(byOwn, here ?? '(outside src/)', n.selfSize);
      add(byPackage, packageOf(n.callFrame.url), n.selfSize);
    }
    for (const c of n.children) stack.push([c, here]);
  }
  const per = (bytes: number): string =>
    requests > 0
      ? `${(bytes / requests / 1024).toFixed(1).padStart(6)} KiB/req`
      : `${(bytes / 2 ** 20).toFixed(1).padStart(7)} MiB`;
  const show = (m: Map<string, number>): string =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([k, v]) => `    ${per(v)}  ${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`)
      .join('\n');
  console.log(
    `${file}: ${(total / 2 ** 20).toFixed(1)} MiB allocated` +
      (requests > 0 ? ` over ${requests} requests, ${per(total)}` : ' (no request count)'),
  );
  console.log(`  by package:\n${show(byPackage)}`);
  console.log(`  by innermost src/ frame:\n${show(byOwn)}`);
  console.log(`  by allocating frame:\n${show(bySite)}`);
}
