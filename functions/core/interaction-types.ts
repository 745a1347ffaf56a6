// Apart from the request schemas, so that what only needs the types (the figures, the snapshot) bundles without zod.

/** Every interaction type a product backend may report. */
export const INTERACTION_TYPES = [
  'signup',
  'login',
  'coach_call',
  'agent_run',
  'decision',
  'export',
  'feedback',
  'payment',
  'page_view',
] as const;
export type InteractionType = (typeof INTERACTION_TYPES)[number];

/** The types that can count as real engagement: everything but a landing-page visit. */
export const COUNTING_TYPES = INTERACTION_TYPES.filter(
  (type): type is Exclude<InteractionType, 'page_view'> => type !== 'page_view',
);
export type CountingType = (typeof COUNTING_TYPES)[number];
