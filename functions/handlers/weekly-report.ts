import { checkInMessage, latestCheckInSlot, snapshotOf, type CheckInFigures } from '../core/weekly-report.js';
import { readAnnouncementsSince, readReading } from '../db/alerts.js';
import { claimCheckIn, markCheckInPosted, readNewRealUsers, readPreviousCheckIn, releaseCheckIn } from '../db/check-ins.js';
import { readExclusions } from '../db/metrics.js';
import { awsAlertingDeps, type AlertingDeps } from './notify-slack.js';
import { lazyAwsDeps } from './runtime.js';

const WEEK_MS = 7 * 86_400_000;
// The schedule may fire a moment before 09:00:00: that run is still this Friday's check-in, not last Friday's.
const EARLY_FIRE_MS = 10 * 60_000;

/** Longer than a run can take (the Lambda's 90 s timeout), so a live run is never overtaken; short enough for Lambda's retry of a dead one. */
export const CHECK_IN_LEASE_MS = 2 * 60_000;

export type CheckInOutcome = 'posted' | 'already_posted' | 'not_connected';

/** Another run is posting this Friday's check-in: fail, so this one is retried and finds it posted (or the lease lapsed). */
export class CheckInInProgressError extends Error {
  override name = 'CheckInInProgressError';
  constructor(readonly slot: Date) {
    super(`another run is posting the check-in of ${slot.toISOString()}; retry after its lease of ${CHECK_IN_LEASE_MS / 1000} s`);
  }
}

/** Gathers the week's figures for the check-in of `slot`. */
export async function checkInFigures(deps: AlertingDeps, slot: Date, now: Date): Promise<CheckInFigures> {
  const { db, config } = deps;
  // The week's new users and exclusions are read from Aurora: what waits in the buffer goes in first.
  await deps.figures.foldFirst();
  const previous = await readPreviousCheckIn(db, slot);
  const [reading, newRealUsers, exclusions, announcements] = await Promise.all([
    readReading(db, config, deps.baseline, now),
    readNewRealUsers(db, config.internal, now),
    readExclusions(db, config.internal, new Date(now.getTime() - WEEK_MS)),
    readAnnouncementsSince(db, previous?.slot ?? new Date(slot.getTime() - WEEK_MS)),
  ]);
  return { slot, reading, newRealUsers, lastExcluded: exclusions.last, previous, announcements };
}

/**
 * Posts the check-in for the check-in time (Friday 09:00 in the team's time zone unless configured) at or before now, once: the slot is claimed (one run at a
 * time) before posting and marked after, so neither a retried nor a duplicated schedule posts twice, and a
 * failed post is retried with fresh figures.
 */
export async function postWeeklyCheckIn(
  deps: AlertingDeps,
  slot = latestCheckInSlot(new Date(deps.now().getTime() + EARLY_FIRE_MS), deps.config.team),
): Promise<CheckInOutcome> {
  const now = deps.now();
  const figures = await checkInFigures(deps, slot, now);
  const claim = await claimCheckIn(deps.db, snapshotOf(figures, deps.config), now, CHECK_IN_LEASE_MS);
  if (claim === 'posted') return 'already_posted';
  if (claim === 'held') throw new CheckInInProgressError(slot);
  let outcome: CheckInOutcome;
  try {
    outcome = await deps.slack(checkInMessage(figures, deps.config, deps.dashboardUrl));
  } catch (error) {
    // The post's failure is what the retry needs to see; a claim left behind lapses with its lease anyway.
    await releaseCheckIn(deps.db, slot, now).catch(() => {});
    throw error;
  }
  // Not connected: give the claim back, so the check-in goes out once Slack is connected that Friday.
  if (outcome === 'posted') await markCheckInPosted(deps.db, slot, deps.now());
  else await releaseCheckIn(deps.db, slot, now);
  return outcome;
}

/** (adapter) weekly schedule --> the week's figures --> Slack. */
export function createWeeklyReportHandler(deps: AlertingDeps): () => Promise<CheckInOutcome> {
  return async () => {
    const outcome = await postWeeklyCheckIn(deps);
    if (outcome === 'not_connected') deps.log.warn('weekly check-in not sent: Slack is not connected', { outcome });
    else deps.log.info('weekly check-in', { outcome });
    return outcome;
  };
}

export const handler = lazyAwsDeps((deps) => createWeeklyReportHandler(awsAlertingDeps(deps, process.env)));
