/**
 * Handler bundles as the CDK stack builds them: minified size and module init time (median of
 * fresh-process imports), from bench/bundles.ts. The webhook handler, the hot path, has targets;
 * the others are reported. A missed target says what the bundle is made of and what the source
 * maps cost, both measured in the same run.
 */
import { BUNDLE_TARGETS, describeComposition, measureBundles } from '../bundles.js';
import { fmt, type Row, type SectionResult } from '../lib/report.js';

const SECTION = 'Handler bundles';

export async function runBundles(): Promise<SectionResult> {
  const t0 = performance.now();
  const measured = await measureBundles();
  // The smallest handler (no SDK, no zod) is the floor of an import on this machine in this run.
  const floor = measured.find((b) => b.handler === 'ping');
  const rows: Row[] = measured.map((b) => {
    const t = BUNDLE_TARGETS[b.handler];
    const met = t ? b.bytes <= t.bytes && b.initMsMedian <= t.initMs : undefined;
    const mapsMs = b.initMsMedian - b.initMsNoSourceMapsMedian;
    const why =
      met === false
        ? ` — made of ${describeComposition(b)}; source maps ${fmt(mapsMs, 1)} ms of the init${floor && floor !== b ? `; the ${fmt(floor.bytes / 1024, 1)} KB ping handler takes ${fmt(floor.initMsMedian, 1)} ms in the same run` : ''}`
        : '';
    return {
      section: SECTION,
      measure: `${b.handler}: minified size, init (median wall; CPU; wall without source maps)`,
      value: `${fmt(b.bytes / 1024, 1)} KB, ${fmt(b.initMsMedian, 1)} ms (${fmt(b.initCpuMsMedian, 1)} ms CPU; ${fmt(b.initMsNoSourceMapsMedian, 1)} ms without maps)${why}`,
      ...(t ? { target: `≤ ${t.bytes / 1024} KB, ≤ ${t.initMs} ms`, met } : {}),
      data: { ...b },
    };
  });
  return {
    section: SECTION,
    rows,
    durationMs: performance.now() - t0,
    method:
      "measureBundles() from bench/bundles.ts: each handler built with the stack's esbuild options (lib/bundling.ts), then imported in fresh node processes with a Lambda-like environment, with --enable-source-maps (as deployed) and without, interleaved; median of 9 each after one warm-up. Composition = esbuild metafile bytes in the output by package. Init is judged on the wall time with source maps.",
  };
}
