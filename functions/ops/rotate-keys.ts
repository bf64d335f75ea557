/**
 * Token key rotation, the operator's steps (scripts/rotate-keys.ts is the command line):
 *
 *   add <kid>      a new random key joins the keyring, not yet used to seal: every reader learns it
 *                  first (Lambdas re-read the keyring within KEYRING_MAX_AGE_MS), so nothing sealed
 *                  with it can reach a reader that cannot open it;
 *   promote <kid>  it becomes the key new seals use (again, wait for readers to pick it up);
 *   reseal         every stored token, signing key and PKCE verifier is re-sealed with the current
 *                  key, page by page, printing a cursor to resume from; conditional per item, so it
 *                  is safe while connections refresh and deliveries arrive;
 *   drop <kid>     the old key leaves the keyring, refused while any stored value still needs it.
 *
 * The same code runs against AWS (the keyring secret, the deployed tables) and the local runtime
 * (DATA_DIR/local-keys.json and its store).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createSecretBox, KeyringError, withLegacyKey, withNewKey, type Keyring, type SecretBox } from '../shared/crypto.js';
import { countKeyIds, resealPage, SEALED_TABLES, type SealedTable } from '../store/reseal.js';

/** Where the keyring is kept: the keyring secret in AWS, local-keys.json locally. */
export interface KeyringStore {
  read(): Promise<Keyring>;
  write(ring: Keyring): Promise<void>;
}

export interface RotationTarget {
  doc: DynamoDBDocumentClient;
  /** Physical table names of the tables that hold sealed values. */
  tables: Record<SealedTable['table'], string>;
  keyring: KeyringStore;
  /** The key `v1` values (sealed before key ids) open with, when it is not in the keyring itself. */
  legacyKey?: Buffer;
}

/** The box the stores would use: the keyring, plus the legacy key as `v1`. */
export function boxFor(ring: Keyring, legacyKey?: Buffer): SecretBox {
  return createSecretBox(withLegacyKey(ring, legacyKey));
}

export async function addKey(t: RotationTarget, kid: string): Promise<void> {
  await t.keyring.write(withNewKey(await t.keyring.read(), kid));
}

export async function promoteKey(t: RotationTarget, kid: string): Promise<void> {
  const ring = await t.keyring.read();
  if (!ring.keys.some((k) => k.kid === kid)) throw new KeyringError(`the keyring has no key ${kid}`);
  await t.keyring.write({ ...ring, current: kid });
}

export interface ResealProgress {
  table: SealedTable['table'];
  scanned: number;
  resealed: number;
  skipped: number;
  /** Resume point: `<table>:<cursor>`, or the next table's name; undefined when all is done. */
  resumeFrom?: string;
}

/**
 * Re-seals every sealed value not under the current key. `from` is a `resumeFrom` printed by an
 * earlier, interrupted run. `onPage` sees every page (the command prints it).
 */
export async function resealAll(
  t: RotationTarget,
  opts: { from?: string; pageSize?: number; onPage?: (p: ResealProgress) => void } = {},
): Promise<{ scanned: number; resealed: number; skipped: number }> {
  const box = boxFor(await t.keyring.read(), t.legacyKey);
  const [fromTable, fromCursor] = opts.from ? (opts.from.split(':', 2) as [string, string | undefined]) : [undefined, undefined];
  let startAt = fromTable ? SEALED_TABLES.findIndex((d) => d.table === fromTable) : 0;
  if (startAt < 0) throw new Error(`--from must start with one of ${SEALED_TABLES.map((d) => d.table).join(', ')}`);
  const total = { scanned: 0, resealed: 0, skipped: 0 };
  for (; startAt < SEALED_TABLES.length; startAt++) {
    const def = SEALED_TABLES[startAt]!;
    let cursor = fromTable === def.table ? fromCursor || undefined : undefined;
    do {
      const page = await resealPage(t.doc, t.tables[def.table], def, box, { ...(cursor ? { cursor } : {}), ...(opts.pageSize ? { pageSize: opts.pageSize } : {}) });
      cursor = page.cursor;
      total.scanned += page.scanned;
      total.resealed += page.resealed;
      total.skipped += page.skipped;
      const next = SEALED_TABLES[startAt + 1]?.table;
      opts.onPage?.({ table: def.table, scanned: page.scanned, resealed: page.resealed, skipped: page.skipped, ...(cursor ? { resumeFrom: `${def.table}:${cursor}` } : next ? { resumeFrom: next } : {}) });
    } while (cursor);
  }
  return total;
}

/** Sealed values per key id, per table. */
export async function keyIdCounts(t: RotationTarget): Promise<Record<string, Record<string, number>>> {
  const box = boxFor(await t.keyring.read(), t.legacyKey);
  const out: Record<string, Record<string, number>> = {};
  for (const def of SEALED_TABLES) out[def.table] = await countKeyIds(t.doc, t.tables[def.table], def, box);
  return out;
}

/** Removes a key no stored value needs any more (`v1` stands for the legacy key's values). */
export async function dropKey(t: RotationTarget, kid: string): Promise<void> {
  const ring = await t.keyring.read();
  if (ring.current === kid) throw new KeyringError(`${kid} is the current key: promote another key first`);
  const first = ring.keys[0]?.kid;
  const counts = await keyIdCounts(t);
  // `v1` values open with the key named v1, else the first key: dropping that key strands them too.
  const needed = (table: Record<string, number>) => (table[kid] ?? 0) + ((kid === first && !ring.keys.some((k) => k.kid === 'v1')) || kid === 'v1' ? (table.v1 ?? 0) : 0);
  const still = Object.entries(counts).filter(([, c]) => needed(c) > 0);
  if (still.length > 0) throw new KeyringError(`key ${kid} still opens stored values (${still.map(([table, c]) => `${table}: ${needed(c)}`).join(', ')}): run reseal first`);
  if (!ring.keys.some((k) => k.kid === kid)) throw new KeyringError(`the keyring has no key ${kid}`);
  await t.keyring.write({ ...ring, keys: ring.keys.filter((k) => k.kid !== kid) });
}
