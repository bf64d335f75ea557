/**
 * Reads the Embedded Metric Format lines code writes to stdout while `fn` runs: what CloudWatch
 * Logs would extract in Lambda. Powertools Metrics writes through its own Console on
 * process.stdout, so the capture is on the stream, not on console.log.
 */
export interface EmfLine {
  namespace: string;
  /** The dimension set, names in order. */
  dimensions: string[];
  metrics: Array<{ name: string; unit: string }>;
  /** The whole line, parsed (dimension and metric values are top-level keys). */
  raw: Record<string, unknown>;
}

interface RawEmf {
  _aws?: { CloudWatchMetrics?: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> };
}

export function parseEmf(text: string): EmfLine[] {
  const out: EmfLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"_aws"')) continue;
    const raw = JSON.parse(line) as RawEmf & Record<string, unknown>;
    for (const d of raw._aws?.CloudWatchMetrics ?? []) {
      for (const set of d.Dimensions) out.push({ namespace: d.Namespace, dimensions: set, metrics: d.Metrics.map((m) => ({ name: m.Name, unit: m.Unit })), raw });
    }
  }
  return out;
}

export async function captureEmf<T>(fn: () => Promise<T>): Promise<{ result: T; lines: EmfLine[] }> {
  const chunks: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (text.includes('"_aws"')) {
      chunks.push(text);
      return true;
    }
    return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    const result = await fn();
    return { result, lines: parseEmf(chunks.join('')) };
  } finally {
    process.stdout.write = original;
  }
}
