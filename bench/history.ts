import { loadConfig } from '../functions/core/config.js';
import { DEFAULT_COUNTING_TYPES } from '../functions/core/interaction.js';
import { toStore, type InteractionToStore } from '../functions/core/recording.js';

const DAY_MS = 86_400_000;
export const TEAM_SIZE = 5;
export const TEAM_DOMAIN = 'sustainnet.io';

/** One user per 50 interactions, as a product with a year of steady use would have. */
export const usersFor = (interactions: number) => Math.max(100, Math.round(interactions / 50));

export const userId = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** A deterministic generator, so every run stores the same history. */
function random(seed: number) {
  let state = seed;
  // Math.imul keeps the product exact: a plain multiply overflows 2^53 and collapses the sequence.
  return () => (state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
}

/**
 * A year of mixed traffic ending a minute before `now`, about 20 % of it excluded: landing-page visits (10 %),
 * scripts (5 %), test traffic (3 %), and a busy team of five demoing the product (2 %).
 */
export function* history(count: number, now: Date): Generator<InteractionToStore> {
  const settings = loadConfig({});
  const users = usersFor(count);
  const next = random(42);
  for (let i = 0; i < count; i++) {
    const roll = next();
    const team = roll >= 0.18 && roll < 0.2;
    const user = team ? Math.floor(next() * TEAM_SIZE) : TEAM_SIZE + Math.floor(next() * (users - TEAM_SIZE));
    yield toStore(
      {
        event_id: `bench-${i}`,
        user_id: userId(user),
        interaction_type: roll < 0.1 ? 'page_view' : DEFAULT_COUNTING_TYPES[Math.floor(next() * DEFAULT_COUNTING_TYPES.length)]!,
        occurred_at: new Date(now.getTime() - 60_000 - next() * 365 * DAY_MS).toISOString(),
        context: {
          ...(team ? { email: `founder${user}@${TEAM_DOMAIN}` } : {}),
          ...(roll >= 0.1 && roll < 0.15 ? { user_agent: 'python-requests/2.32.3' } : {}),
          ...(roll >= 0.15 && roll < 0.18 ? { test: true } : {}),
        },
      },
      now,
      () => '',
      settings,
    );
  }
}
