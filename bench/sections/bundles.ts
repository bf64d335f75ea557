/**
 * Handler bundles as the CDK stack builds them: minified size and module init time (median of
 * fresh-process imports), from bench/bundles.ts (owned by the CDK work; only called here).
 */
import { BUNDLE_BYTES_TARGET, INIT_MS_TARGET, measureBundles } from '../bundles.js';
import { fmt, type Row, type SectionResult } from '../lib/report.js';

const SECTION = 'Handler bundles';

export async function runBundles(): Promise<SectionResult> {
  const t0 = performance.now();
  const measured = await measureBundles();
  const rows: Row[] = measured.map((b) => {
    const cpu = (b as { initCpuMsMedian?: number }).initCpuMsMedian;
    return {
      section: SECTION,
      measure: `${b.handler}: minified size, init (median wall${cpu === undefined ? '' : '; CPU'})`,
      value: `${fmt(b.bytes / 1024, 1)} KB, ${fmt(b.initMsMedian, 1)} ms${cpu === undefined ? '' : ` (${fmt(cpu, 1)} ms CPU)`}`,
      target: `≤ ${BUNDLE_BYTES_TARGET / 1024} KB, ≤ ${INIT_MS_TARGET} ms`,
      met: b.bytes <= BUNDLE_BYTES_TARGET && b.initMsMedian <= INIT_MS_TARGET,
      data: { ...b },
    };
  });
  return {
    section: SECTION,
    rows,
    durationMs: performance.now() - t0,
    method: 'measureBundles() from bench/bundles.ts: each handler built with the stack\'s esbuild options (lib/bundling.ts), then imported in fresh node processes with a Lambda-like environment (--enable-source-maps); median of 9 imports after one warm-up.',
  };
}
