/** An OAuth token pair as Calendly grants it, with the account it belongs to. */
export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms at which the access token stops working ((created_at + expires_in) * 1000). */
  expiresAt: number;
  scope?: string;
  /** User URI (token response `owner`). */
  ownerUri: string;
  /** Organization URI (token response `organization`). */
  organizationUri: string;
}
