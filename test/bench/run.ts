/**
 * `npm run bench [-- name…]`: runs benchmarks from test/bench/<name>.bench.ts (all when none is
 * named). Each benchmark measures its baseline in the same run and prints the ratio; it exports
 * `run(): Promise<BenchResult[]>`. Never part of `npm test`.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BenchResult {
  name: string;
  /** What was measured, e.g. "backup create vs tar -czf". */
  measure: string;
  value: number;
  unit: string;
  /** Baseline measured in the same run (same unit), when the target is a ratio. */
  baseline?: number;
  ratio?: number;
  target: string;
  pass: boolean;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const json = process.argv.includes('--json');
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
const results: BenchResult[] = [];
for (const name of wanted.length ? wanted : available) {
  const mod = (await import(`./${name}.bench.ts`)) as { run: () => Promise<BenchResult[]> };
  if (!json) console.error(`== ${name}`);
  for (const r of await mod.run()) {
    results.push(r);
    if (!json) {
      const ratio =
        r.ratio !== undefined ? `  ratio ${r.ratio.toFixed(2)}× (baseline ${r.baseline?.toFixed(2)} ${r.unit})` : '';
      console.log(
        `${r.pass ? 'PASS' : 'MISS'}  ${r.name}: ${r.measure}: ${r.value.toFixed(2)} ${r.unit}${ratio}  target ${r.target}`,
      );
    }
  }
}
if (json) console.log(JSON.stringify(results, null, 2));
