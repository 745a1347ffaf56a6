import type { ExclusionReason } from './classify.js';
import type { MetricSettings } from './config.js';
import { daysBetween, statusFor, type MetricStatus } from './metric.js';

export interface SummaryInputs {
  pulse: {
    lastRealInteractionAt: Date | null;
    totalRealUsers: number;
    dau: number;
    wau: number;
    mau: number;
  };
  /** Each type's last real interaction: every counting type, then each other type a real client sent (it does not count). */
  lastByType: ReadonlyMap<string, { at: Date | null; counts: boolean }>;
  exclusions: {
    last: { eventId: string; interactionType: string; occurredAt: Date; reason: ExclusionReason } | null;
    countsSince: Record<ExclusionReason, number>;
  };
}

export interface Since {
  days_since: number | null;
  last_interaction: string | null;
}

const since = (at: Date | null, now: Date): Since => ({
  days_since: at === null ? null : daysBetween(at, now),
  last_interaction: at?.toISOString() ?? null,
});

/** The seed's "Current State" table as data, plus what did not count so it can never hide an empty week. */
export interface SummaryResponse {
  generated_at: string;
  days_since_last_real_interaction: Since & { status: MetricStatus };
  /** Counting types first, in INTERACTION_TYPES order; a type that does not count (a page view) says so. */
  by_type: Record<string, Since & { counts: boolean }>;
  active_users: {
    dau: { value: number; target: number; window: '24h' };
    wau: { value: number; window: '7d' };
    mau: { value: number; target: number; window: '30d' };
  };
  total_users: number;
  excluded: {
    last: { event_id: string; interaction_type: string; occurred_at: string; days_since: number; reason: ExclusionReason } | null;
    last_7_days: Record<ExclusionReason, number>;
  };
}

export function summaryResponse(inputs: SummaryInputs, now: Date, settings: MetricSettings): SummaryResponse {
  const { pulse, exclusions } = inputs;
  const headline = since(pulse.lastRealInteractionAt, now);
  return {
    generated_at: now.toISOString(),
    days_since_last_real_interaction: { ...headline, status: statusFor(headline.days_since, settings) },
    by_type: Object.fromEntries([...inputs.lastByType].map(([type, { at, counts }]) => [type, { ...since(at, now), counts }])),
    active_users: {
      dau: { value: pulse.dau, target: settings.dauTarget, window: '24h' },
      wau: { value: pulse.wau, window: '7d' },
      mau: { value: pulse.mau, target: settings.mauTarget, window: '30d' },
    },
    total_users: pulse.totalRealUsers,
    excluded: {
      last:
        exclusions.last === null
          ? null
          : {
              event_id: exclusions.last.eventId,
              interaction_type: exclusions.last.interactionType,
              occurred_at: exclusions.last.occurredAt.toISOString(),
              days_since: daysBetween(exclusions.last.occurredAt, now),
              reason: exclusions.last.reason,
            },
      last_7_days: exclusions.countsSince,
    },
  };
}
