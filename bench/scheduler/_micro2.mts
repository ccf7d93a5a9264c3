import { performance } from 'node:perf_hooks';
import { toSchedulerEvent } from '../../src/store/sql/rows.js';
const row = { id: 1, kind: 'source', source: 's0', version: 'a'.repeat(40), ref: 'main', origin: 'webhook', delivery_id: null, detail: '{"changedPaths":null,"producedBy":null}', received_at: Date.now(), processed_at: null, outcome: null };
const rows = Array.from({ length: 500 }, (_, i) => ({ ...row, id: i }));
for (let k = 0; k < 3; k++) {
  const t = performance.now();
  let n = 0;
  for (let j = 0; j < 200; j++) n += rows.map(toSchedulerEvent).length;
  console.log('toSchedulerEvent µs', ((performance.now() - t) / n * 1000).toFixed(3));
}
