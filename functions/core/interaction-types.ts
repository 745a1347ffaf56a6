// Apart from the request schemas, so that what only needs the types (the figures, the snapshot) bundles without zod.

/**
 * The types that count as real engagement unless INTERACTION_TYPES says otherwise: every type the seed named but a
 * landing-page visit (`page_view`). Any other well-formed type is accepted and kept; it counts only when configured.
 */
export const DEFAULT_COUNTING_TYPES = ['signup', 'login', 'coach_call', 'agent_run', 'decision', 'export', 'feedback', 'payment'] as const;

/** What an interaction type may be: a name of 1 to 50 characters from a-z, 0-9 and `_ . : -`. */
export const INTERACTION_TYPE = /^[a-z0-9_.:-]{1,50}$/;

/** The type whose real users are the paying users of the `paying_users` milestone measure. */
export const PAYMENT_TYPE = 'payment';
