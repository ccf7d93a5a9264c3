import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockPackage {
  readonly engines?: { readonly node?: string } | string[];
  readonly dev?: boolean;
  readonly optional?: boolean;
}

const root = new URL('../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  engines: { node: string };
};
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, LockPackage>;
};

function nodeRange(pkg: LockPackage): string | undefined {
  return pkg.engines !== undefined && !Array.isArray(pkg.engines) ? pkg.engines.node : undefined;
}

/**
 * `npm ci` on a fresh machine with the Node we support must not warn that a dependency wants a
 * newer Node (a user reads EBADENGINE as "this will break").
 */
describe('the lockfile fits the Node versions we support', () => {
  const minimum = semver.minVersion(manifest.engines.node)!.version;

  it(`every runtime dependency supports the declared minimum (node ${minimum})`, () => {
    const misfits = Object.entries(lock.packages)
      .filter(([, pkg]) => pkg.dev !== true && pkg.optional !== true)
      .filter(([, pkg]) => {
        const range = nodeRange(pkg);
        return range !== undefined && !semver.satisfies(minimum, range);
      })
      .map(([name, pkg]) => `${name} wants node ${nodeRange(pkg)}`);
    expect(misfits).toEqual([]);
  });

  it(`every installed package supports the running node ${process.versions.node}`, () => {
    const misfits = Object.entries(lock.packages)
      .filter(([, pkg]) => pkg.optional !== true)
      .filter(([, pkg]) => {
        const range = nodeRange(pkg);
        return range !== undefined && !semver.satisfies(process.versions.node, range);
      })
      .map(([name, pkg]) => `${name} wants node ${nodeRange(pkg)}`);
    expect(misfits).toEqual([]);
  });
});
