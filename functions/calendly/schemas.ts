/**
 * zod schemas for every Calendly response the client reads. Lenient where the facts sheet says
 * a field is optional, nullable or UNSURE (older payload shapes, 200 vs 201, signing_key echoed
 * or not); strict on what the flows rely on (URIs, states, times).
 */
import * as z from 'zod';

const nullableString = z.string().nullable().optional();

export const tokenResponseSchema = z.object({
  token_type: z.string().optional(),
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  scope: z.string().nullable().optional(),
  /** UNIX seconds per the docs; tolerate ms (see client) and absence (then: our clock). */
  created_at: z.number().optional(),
  expires_in: z.number().positive(),
  owner: z.string().min(1),
  organization: z.string().min(1),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

export const oauthErrorSchema = z.object({
  error: z.string(),
  error_description: z.string().optional(),
});

export const apiErrorSchema = z.object({
  title: z.string().optional(),
  message: z.string().optional(),
  details: z.array(z.object({ parameter: z.string().optional(), message: z.string().optional(), code: z.string().optional() })).optional(),
});

export const userSchema = z.object({
  uri: z.string().min(1),
  name: z.string(),
  email: z.string(),
  current_organization: z.string().min(1),
  timezone: z.string().nullable().optional(),
});
export const userResourceSchema = z.object({ resource: userSchema });

export const paginationSchema = z.object({
  count: z.number().optional(),
  next_page: nullableString,
  previous_page: nullableString,
  next_page_token: nullableString,
  previous_page_token: nullableString,
});

export const webhookSubscriptionSchema = z.object({
  uri: z.string().min(1),
  callback_url: z.string(),
  created_at: z.string(),
  updated_at: z.string().optional(),
  retry_started_at: z.string().nullable().optional(),
  state: z.enum(['active', 'disabled']),
  events: z.array(z.string()),
  scope: z.enum(['user', 'organization', 'group']),
  organization: z.string(),
  user: z.string().nullable().optional(),
  group: z.string().nullable().optional(),
  creator: z.string().nullable().optional(),
});
export const webhookResourceSchema = z.object({ resource: webhookSubscriptionSchema });
export const webhookListSchema = z.object({ collection: z.array(webhookSubscriptionSchema), pagination: paginationSchema });

export const cancellationSchema = z.object({
  canceled_by: z.string().nullable().optional(),
  reason: z.string().nullable().optional(),
  canceler_type: z.string().nullable().optional(),
  created_at: z.string().nullable().optional(),
});

export const locationSchema = z
  .object({
    type: z.string(),
    location: z.string().nullable().optional(),
    join_url: z.string().nullable().optional(),
  })
  .loose();

export const scheduledEventSchema = z.object({
  uri: z.string().min(1),
  name: z.string().nullable().optional(),
  status: z.enum(['active', 'canceled']),
  start_time: z.string(),
  end_time: z.string(),
  location: locationSchema.nullable().optional(),
  created_at: z.string(),
  updated_at: z.string(),
  cancellation: cancellationSchema.nullable().optional(),
  invitees_counter: z.object({ total: z.number().int(), active: z.number().int() }).loose().nullable().optional(),
});
export const scheduledEventListSchema = z.object({ collection: z.array(scheduledEventSchema), pagination: paginationSchema });

export const inviteeSchema = z.object({
  uri: z.string().min(1),
  event: z.string().min(1),
  email: z.string(),
  name: z.string().nullable().optional(),
  status: z.enum(['active', 'canceled']),
  rescheduled: z.boolean().nullable().optional(),
  old_invitee: nullableString,
  new_invitee: nullableString,
  cancel_url: nullableString,
  reschedule_url: nullableString,
  no_show: z.object({ uri: z.string(), created_at: z.string() }).nullable().optional(),
  cancellation: cancellationSchema.nullable().optional(),
  created_at: z.string(),
  updated_at: z.string(),
});
export const inviteeListSchema = z.object({ collection: z.array(inviteeSchema), pagination: paginationSchema });
