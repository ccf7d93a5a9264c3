const s = '{"changedPaths":null,"producedBy":null}';
let t = performance.now(); let x = 0;
for (let i = 0; i < 100000; i++) x += JSON.parse(s).producedBy === null ? 1 : 0;
console.log('JSON.parse µs', ((performance.now() - t) / 100000 * 1000).toFixed(3));
t = performance.now();
for (let i = 0; i < 100000; i++) { const b = { id: i, r: 2 }; const o = { ...b, kind: 'source', a: 1 }; x += o.id; }
console.log('spread µs', ((performance.now() - t) / 100000 * 1000).toFixed(3));
