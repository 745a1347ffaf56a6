import * as z from 'zod/mini';
import { DAY_MS } from './metric.js';

/** What a milestone counts: real users ever, real users active over the last 30 days, or real users who paid. */
export const MILESTONE_MEASURES = ['total_real_users', 'active_real_users_30d', 'paying_users'] as const;
export type MilestoneMeasure = (typeof MILESTONE_MEASURES)[number];

/** The rolling window of active_real_users_30d, in UTC days (the day itself and the 29 before it). */
export const ACTIVE_WINDOW_DAYS = 30;
export const MAX_MILESTONES = 50;

export const MilestoneSchema = z.strictObject({
  name: z.string({ error: 'must be text' }).check(
    z.trim(),
    z.minLength(1, { error: 'must not be empty' }),
    z.maxLength(100, { error: 'must be at most 100 characters' }),
  ),
  target_date: z.iso.date({ error: 'must be a date like 2026-03-01' }),
  measure: z.enum(MILESTONE_MEASURES, { error: `must be one of ${MILESTONE_MEASURES.join(', ')}` }),
  target: z.int({ error: 'must be a whole number' }).check(z.minimum(1, { error: 'must be at least 1' })),
});
export type Milestone = z.infer<typeof MilestoneSchema>;

const MilestoneListSchema = z.array(MilestoneSchema, { error: 'must be a JSON array of milestones' }).check(
  z.maxLength(MAX_MILESTONES, { error: `must hold at most ${MAX_MILESTONES} milestones` }),
  z.refine((list) => new Set(list.map((milestone) => milestone.name)).size === list.length, {
    error: 'must not repeat a milestone name',
  }),
);

export type MilestoneList = { ok: true; value: readonly Milestone[] } | { ok: false; problem: string };

/**
 * The milestones setting (MILESTONES, or the text of MILESTONES_FILE): a JSON array, or nothing for none. A fresh install
 * has none, rather than targets dated for another product (docs/examples/sn1ma-milestones.json holds the seed's table).
 * The problem names the item, by position and name, and the field at fault (`[1] ("5 active users").target must be at
 * least 1`) so config.ts can report it against the variable.
 */
export function parseMilestones(raw: string | undefined): MilestoneList {
  if (raw === undefined || raw.trim() === '') return { ok: true, value: [] };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return {
      ok: false,
      problem: 'must be a JSON array like [{"name":"10 paying users","target_date":"2026-03-01","measure":"paying_users","target":10}]',
    };
  }
  // reportInput: a present value of the wrong type must not read as "is required".
  const result = z.safeParse(MilestoneListSchema, value, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0]!;
  const nameOf = (index: PropertyKey) => {
    const name = Array.isArray(value) ? (value[index as number] as { name?: unknown } | null)?.name : undefined;
    return typeof name === 'string' && name.trim() !== '' ? ` (${JSON.stringify(name.trim().slice(0, 100))})` : '';
  };
  const where = issue.path.map((key, at) => (typeof key === 'number' ? `[${key}]${at === 0 ? nameOf(key) : ''}` : `.${String(key)}`)).join('');
  const problem =
    issue.code === 'unrecognized_keys'
      ? `unknown field(s): ${issue.keys.join(', ')}`
      : issue.code === 'invalid_type' && issue.input === undefined
        ? 'is required'
        : issue.message;
  return { ok: false, problem: where === '' ? problem : `${where} ${problem}` };
}

export type MilestoneStatus = 'achieved' | 'on_track' | 'missed';

/** Where a milestone's measure stands now, and when it first got to the target (null: never yet). */
export interface MilestoneProgress {
  current: number;
  /** The UTC day it was first reached. */
  reachedOn: string | null;
  /** The exact moment, when the measure knows it (totals and payments; a 30-day window only knows the day). */
  reachedAt: Date | null;
}

export interface MilestoneResult {
  name: string;
  target_date: string;
  measure: MilestoneMeasure;
  target: number;
  current: number;
  reached_on: string | null;
  reached_at: string | null;
  /** Reached by the end of the target date (UTC); null while not reached. */
  on_time: boolean | null;
  status: MilestoneStatus;
}

export interface MilestonesResponse {
  generated_at: string;
  milestones: MilestoneResult[];
}

export const utcDay = (at: Date): string => at.toISOString().slice(0, 10);

/**
 * Reached is achieved for good, even if reached late (on_time says so) or the 30-day count fell back since;
 * not reached is on track until the target date has ended (UTC), missed after.
 */
export function milestoneStatus(milestone: Milestone, reachedOn: string | null, now: Date): MilestoneStatus {
  if (reachedOn !== null) return 'achieved';
  return utcDay(now) <= milestone.target_date ? 'on_track' : 'missed';
}

export function milestonesResponse(
  milestones: readonly Milestone[],
  progress: readonly MilestoneProgress[],
  now: Date,
): MilestonesResponse {
  return {
    generated_at: now.toISOString(),
    milestones: milestones.map((milestone, index) => {
      const { current, reachedOn, reachedAt } = progress[index]!;
      return {
        ...milestone,
        current,
        reached_on: reachedOn,
        reached_at: reachedAt?.toISOString() ?? null,
        on_time: reachedOn === null ? null : reachedOn <= milestone.target_date,
        status: milestoneStatus(milestone, reachedOn, now),
      };
    }),
  };
}

const dayNumber = (day: string): number => Date.parse(`${day}T00:00:00Z`) / DAY_MS;
const dayText = (dayNo: number): string => utcDay(new Date(dayNo * DAY_MS));

/**
 * Finds the first UTC day on which `target` distinct users were active within the 30-day window ending that day.
 * Fed (day, user) pairs in day order, in as many chunks as it takes; remembers only the users inside the window.
 */
export class RollingActiveUsers {
  private readonly lastDayOf = new Map<string, number>();
  private readonly seen: { dayNo: number; userId: string }[] = [];
  private expired = 0;
  private dayNo: number | null = null;
  /** The first day the target was reached; null while it has not been. */
  reachedOn: string | null = null;

  constructor(
    private readonly target: number,
    private readonly windowDays = ACTIVE_WINDOW_DAYS,
  ) {}

  /** Takes the next (day, user) pair; returns true once the target has been reached. */
  add(day: string, userId: string): boolean {
    if (this.reachedOn !== null) return true;
    const dayNo = dayNumber(day);
    if (this.dayNo !== null && dayNo < this.dayNo) throw new Error(`days must come in order: ${day} after ${dayText(this.dayNo)}`);
    if (dayNo !== this.dayNo) {
      this.dayNo = dayNo;
      this.forgetBefore(dayNo - this.windowDays + 1);
    }
    if (this.lastDayOf.get(userId) !== dayNo) {
      this.lastDayOf.set(userId, dayNo);
      this.seen.push({ dayNo, userId });
    }
    // Within a day the count only grows, so the day is known as soon as it gets there.
    if (this.lastDayOf.size >= this.target) this.reachedOn = dayText(dayNo);
    return this.reachedOn !== null;
  }


  private forgetBefore(firstDayNo: number): void {
    while (this.expired < this.seen.length && this.seen[this.expired]!.dayNo < firstDayNo) {
      const { dayNo, userId } = this.seen[this.expired++]!;
      // Only the user's latest day inside the window keeps them counted.
      if (this.lastDayOf.get(userId) === dayNo) this.lastDayOf.delete(userId);
    }
    // Drop the forgotten head now and then, so a long history does not keep every pair in memory.
    if (this.expired > 4096 && this.expired * 2 > this.seen.length) {
      this.seen.splice(0, this.expired);
      this.expired = 0;
    }
  }
}
