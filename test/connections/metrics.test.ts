import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthorizationRequiredError } from '../../functions/domain/errors.js';
import { getAccessToken } from '../../functions/flows/tokens.js';
import { connectViaOAuth, newEmail, newUserId, startHarness, type Harness } from './harness.js';

/** The stack alarms on ConnectionsAuthorizationRequired; these prove the metric is emitted, once. */
describe('ConnectionsAuthorizationRequired metric', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('is emitted as one EMF line when a refused refresh marks the connection, and not again', async () => {
    const userId = newUserId();
    const email = newEmail();
    const { user } = await connectViaOAuth(h, h.deps(), userId, email);
    h.sandbox.revokeAllTokens(user.uri);

    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    try {
      await expect(getAccessToken(h.deps(), userId, { forceRefresh: true })).rejects.toBeInstanceOf(AuthorizationRequiredError);
      // A second caller finds it already marked: no second transition, no second count.
      await expect(getAccessToken(h.deps(), userId, { forceRefresh: true })).rejects.toBeInstanceOf(AuthorizationRequiredError);
    } finally {
      spy.mockRestore();
    }
    const metrics = lines
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((m) => 'ConnectionsAuthorizationRequired' in m);
    expect(metrics).toHaveLength(1);
    expect(metrics[0]).toMatchObject({ service: 'calendly-connector', ConnectionsAuthorizationRequired: 1 });
    expect(JSON.stringify(metrics[0])).toContain('"Namespace":"CalendlyConnector"');
  });
});
