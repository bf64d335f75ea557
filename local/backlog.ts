/**
 * What the queues still hold at a graceful stop, kept in `$DATA_DIR/queue-backlog.json` and
 * sent back at the next start: fauxqs keeps messages in memory only.
 */
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import type { LocalQueues } from './queues.js';

export const BACKLOG_FILE = 'queue-backlog.json';

const backlogSchema = z.record(z.string(), z.array(z.object({ body: z.string(), delaySeconds: z.number().int().min(0).max(900).optional() })));

export async function saveBacklog(dataDir: string, queues: LocalQueues): Promise<void> {
  if (dataDir === ':memory:') return;
  const backlog = queues.backlog();
  const path = join(dataDir, BACKLOG_FILE);
  if (Object.keys(backlog).length === 0) return;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(backlog), { mode: 0o600 });
  await rename(tmp, path);
}

/** Sends the saved messages back; returns how many. */
export async function restoreBacklog(dataDir: string, queues: LocalQueues): Promise<number> {
  if (dataDir === ':memory:') return 0;
  const path = join(dataDir, BACKLOG_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const parsed = backlogSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path} is damaged; move it away to start without the saved queue messages`);
  const n = await queues.restore(parsed.data);
  // At least once, as SQS: a crash between the two lines would deliver these again.
  await unlink(path);
  return n;
}
