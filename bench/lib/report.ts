/**
 * Rows of the one results table, and how they print. Every row says what was measured, the
 * value, the target (when the issue set one) and whether it is met.
 */
export interface Row {
  section: string;
  measure: string;
  value: string;
  /** Human text of the target, e.g. "≤ 2". Absent: measured for information, no target. */
  target?: string;
  met?: boolean;
  /** Machine-readable figures behind the row (results.json). */
  data?: Record<string, unknown>;
}

export interface SectionResult {
  section: string;
  rows: Row[];
  /** How it was measured, for results.json and the README. */
  method: string;
  durationMs: number;
  details?: Record<string, unknown>;
}

const SHORT: Record<string, string> = {
  'POST /oauth/token': 'token',
  'POST /oauth/revoke': 'revoke',
  'GET /users/me': 'users/me',
  'GET /webhook_subscriptions': 'list hooks',
  'POST /webhook_subscriptions': 'create hook',
  'DELETE /webhook_subscriptions/{uuid}': 'delete hook',
  'GET /webhook_subscriptions/{uuid}': 'get hook',
  'GET /scheduled_events': 'events page',
  'GET /scheduled_events/{uuid}/invitees': 'invitees',
};

/** "2 (users/me 1, list hooks 1)" */
export function describeCalls(calls: Record<string, number>): string {
  const entries = Object.entries(calls).filter(([, n]) => n > 0);
  const sum = entries.reduce((a, [, n]) => a + n, 0);
  if (sum === 0) return '0';
  return `${sum} (${entries.map(([k, n]) => `${SHORT[k] ?? k} ${n}`).join(', ')})`;
}

export const mark = (met: boolean | undefined): string => (met === undefined ? '' : met ? '✓' : '✗');

export function formatTable(rows: readonly Row[]): string {
  const lines = ['| Measure | Value | Target | Met |', '|---|---|---|:-:|'];
  let section = '';
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      lines.push(`| **${section}** | | | |`);
    }
    lines.push(`| ${r.measure} | ${r.value} | ${r.target ?? '—'} | ${mark(r.met)} |`);
  }
  return lines.join('\n');
}

export const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
export const mb = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
