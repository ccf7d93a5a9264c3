import type { Document, Node } from 'yaml';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Path } from './paths.js';

/**
 * The YAML layer: parses with the options that keep a hostile file harmless (unique keys,
 * bounded alias expansion) and maps a data path back to a 1-based line and column.
 */

export const MAX_ALIAS_COUNT = 100;

export interface Position {
  readonly line: number;
  readonly column: number;
}

export interface YamlIssue {
  readonly position: Position;
  readonly code: string;
  readonly message: string;
  /** For duplicate keys: the path of the duplicated key and where its first definition is. */
  readonly duplicate?: Duplicate;
}

export interface Duplicate {
  readonly path: Path;
  readonly key: string;
  readonly firstLine: number;
}

export class YamlFile {
  readonly doc: Document;
  private readonly lines = new LineCounter();

  constructor(text: string) {
    this.doc = parseDocument(text, {
      lineCounter: this.lines,
      prettyErrors: false,
      uniqueKeys: true,
      merge: true,
    });
  }

  positionOf(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /** Syntax errors and duplicate keys, with positions. */
  issues(): YamlIssue[] {
    return this.doc.errors.map((e): YamlIssue => {
      const position = this.positionOf(e.pos[0]);
      if (e.code === 'DUPLICATE_KEY') {
        const duplicate = this.findDuplicate(e.pos[0]);
        if (duplicate !== null) return { position, code: e.code, message: e.message, duplicate };
      }
      return { position, code: e.code, message: firstLine(e.message) };
    });
  }

  /** True when the only errors are duplicate keys: the tree is still sound enough to validate. */
  onlyDuplicateKeys(): boolean {
    return this.doc.errors.every((e) => e.code === 'DUPLICATE_KEY');
  }

  /** Where the first alias is, for the alias-bomb message. */
  firstAliasPosition(): Position {
    let offset = 0;
    visit(this.doc, {
      Alias(_key, node) {
        offset = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    return this.positionOf(offset);
  }

  /** The position of the value at `path`, or of its nearest existing ancestor. */
  locate(path: Path): Position {
    const node = this.nodeAt(path);
    return this.positionOf(node?.range?.[0] ?? 0);
  }

  /** The position of the key node `key` inside the mapping at `path` (unknown keys point there). */
  locateKey(path: Path, key: string): Position {
    const map = this.nodeAt(path);
    if (isMap(map)) {
      const pair = map.items.findLast((p) => isScalar(p.key) && String(p.key.value) === key);
      if (pair && isScalar(pair.key) && pair.key.range) return this.positionOf(pair.key.range[0]);
    }
    return this.locate(path);
  }

  private nodeAt(path: Path): Node | null {
    let node = this.resolve(this.doc.contents);
    for (const seg of path) {
      let next: unknown = undefined;
      if (isMap(node)) {
        // The last of duplicate keys: it is the one whose value the parsed tree holds.
        next = node.items.findLast(
          (p) => isScalar(p.key) && String(p.key.value) === String(seg),
        )?.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        next = node.items[seg];
      }
      const resolved = this.resolve(next);
      // A path through a merge key (`<<: *base`) has no node of its own: stop at the ancestor.
      if (resolved === null) return node;
      node = resolved;
    }
    return node;
  }

  private resolve(value: unknown): Node | null {
    if (isAlias(value)) return (value.resolve(this.doc) as Node | undefined) ?? null;
    if (isMap(value) || isSeq(value) || isScalar(value)) return value;
    return null;
  }

  private findDuplicate(offset: number): Duplicate | null {
    let found: Duplicate | null = null;
    visit(this.doc, {
      Map: (_key, map, ancestry) => {
        const seen = new Map<string, number>();
        for (const pair of map.items) {
          if (!isScalar(pair.key) || !pair.key.range) continue;
          const name = String(pair.key.value);
          const first = seen.get(name);
          if (pair.key.range[0] === offset && first !== undefined) {
            found = {
              path: [...pathOf([...ancestry, map]), name],
              key: name,
              firstLine: this.positionOf(first).line,
            };
            return visit.BREAK;
          }
          if (first === undefined) seen.set(name, pair.key.range[0]);
        }
        return undefined;
      },
    });
    return found;
  }
}

/** The data path of a visited node from its ancestry (pairs give keys, sequences indices). */
function pathOf(ancestry: readonly unknown[]): (string | number)[] {
  const path: (string | number)[] = [];
  for (let i = 0; i < ancestry.length; i++) {
    const a = ancestry[i];
    const child = ancestry[i + 1];
    if (isSeq(a) && child !== undefined) path.push(a.items.indexOf(child));
    if (a !== null && typeof a === 'object' && 'key' in a && 'value' in a) {
      const key = (a as { key: unknown }).key;
      if (isScalar(key)) path.push(String(key.value));
    }
  }
  return path;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}
