/**
 * `fn` (a pure function) with its answers remembered, at most `max` of them: all are forgotten
 * when the map is full. Meant for a few keys asked over and over on a hot path (the URLs of a
 * pipeline's repositories); a map that fills up means the keys keep changing, and starting over
 * is as good as any eviction order there.
 */
export function boundedMemo<K, V>(fn: (key: K) => V, max = 1024): (key: K) => V {
  const known = new Map<K, V>();
  return (key) => {
    const hit = known.get(key);
    if (hit !== undefined || known.has(key)) return hit as V;
    const value = fn(key);
    if (known.size >= max) known.clear();
    known.set(key, value);
    return value;
  };
}
