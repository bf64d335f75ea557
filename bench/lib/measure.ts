/**
 * Small measuring tools shared by the benchmark sections: a DynamoDB request counter (an SDK
 * middleware, so it sees exactly what the stores send), Calendly call diffs from the sandbox's
 * own counters, percentiles, a bounded-concurrency pool and an RSS sampler.
 */
import v8 from 'node:v8';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Commands that change the table (a BatchWrite is one request, however many items). */
const WRITE_COMMANDS = /^(Put|Update|Delete|BatchWrite|TransactWrite)/;

export interface DdbCounts {
  reads: number;
  writes: number;
  /** Requests by command name, e.g. { GetItemCommand: 2, PutItemCommand: 1 }. */
  byCommand: Record<string, number>;
}

export interface DdbCounter {
  snapshot(): DdbCounts;
  /** Counts between `before` and now. */
  since(before: DdbCounts): DdbCounts;
}

/**
 * Counts every request a DynamoDB client sends (a document client built from it shares its
 * middleware stack). Counted once per SDK call at the `initialize` step, so an SDK retry of the
 * same call is not counted twice; the stores' own retries are separate calls and are counted.
 */
export function countDynamoRequests(client: DynamoDBClient): DdbCounter {
  const counts: DdbCounts = { reads: 0, writes: 0, byCommand: {} };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String((context as { commandName?: string }).commandName ?? 'Unknown');
      counts.byCommand[name] = (counts.byCommand[name] ?? 0) + 1;
      if (WRITE_COMMANDS.test(name)) counts.writes += 1;
      else counts.reads += 1;
      return next(args);
    },
    { step: 'initialize', name: 'benchRequestCounter' },
  );
  const snapshot = (): DdbCounts => ({ reads: counts.reads, writes: counts.writes, byCommand: { ...counts.byCommand } });
  return {
    snapshot,
    since(before) {
      const now = snapshot();
      const byCommand: Record<string, number> = {};
      for (const [k, v] of Object.entries(now.byCommand)) {
        const d = v - (before.byCommand[k] ?? 0);
        if (d) byCommand[k] = d;
      }
      return { reads: now.reads - before.reads, writes: now.writes - before.writes, byCommand };
    },
  };
}

/** Difference of two sandbox `calls()` snapshots ("METHOD /template" → count), zeros dropped. */
export function callsDiff(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

export const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** Nearest-rank percentile of an unsorted sample. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const s = [...sample].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))] as number;
}

/** Runs `fn` over `items`, `width` at a time. */
export async function pool<T>(items: readonly T[], width: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}

/** Samples process RSS every `everyMs` until stopped; answers the peak (bytes). */
export function sampleRss(everyMs = 10): { stop(): { peak: number; samples: number } } {
  let peak = process.memoryUsage.rss();
  let samples = 1;
  const timer = setInterval(() => {
    const rss = process.memoryUsage.rss();
    samples += 1;
    if (rss > peak) peak = rss;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const rss = process.memoryUsage.rss();
      return { peak: Math.max(peak, rss), samples: samples + 1 };
    },
  };
}

/** A full GC when the process runs with --expose-gc (twice: finalizers free more on the second). */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

export const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

/** Process memory by where it lives: V8's heap spaces, memory outside the heap, and the rest. */
export interface MemoryBreakdown {
  rss: number;
  heapUsed: number;
  /** V8 heap reserved (all spaces, used or not). */
  heapTotal: number;
  /** Reserved by V8's young generation (new space): grows under sustained allocation, shrinks rarely. */
  newSpace: number;
  oldSpace: number;
  /** Of which in use (live objects, and garbage no major GC has collected yet). */
  oldSpaceUsed: number;
  /** Large-object and code spaces. */
  otherSpaces: number;
  /** Memory of C++ objects bound to JS (buffers, sockets), arrayBuffers included. */
  external: number;
  arrayBuffers: number;
  /** RSS not accounted for by the V8 heap or external memory: the binary, native allocations, fragmentation. */
  outsideHeap: number;
}

export function memoryBreakdown(): MemoryBreakdown {
  const m = process.memoryUsage();
  const spaces = v8.getHeapSpaceStatistics();
  const size = (name: string) => spaces.find((s) => s.space_name === name)?.space_size ?? 0;
  const newSpace = size('new_space');
  const oldSpace = size('old_space');
  const oldSpaceUsed = spaces.find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    newSpace,
    oldSpace,
    oldSpaceUsed,
    otherSpaces: m.heapTotal - newSpace - oldSpace,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    outsideHeap: m.rss - m.heapTotal - m.external,
  };
}

/** Samples memory every `everyMs`; answers the breakdown at the sample with the highest RSS. */
export function sampleMemory(everyMs = 5): { stop(): { peak: MemoryBreakdown; samples: number } } {
  let peak = memoryBreakdown();
  let samples = 1;
  const take = () => {
    const m = memoryBreakdown();
    samples += 1;
    if (m.rss > peak.rss) peak = m;
  };
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { peak, samples };
    },
  };
}
