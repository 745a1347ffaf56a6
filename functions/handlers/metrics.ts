import { historyDays, historyResponse, historyWindow } from '../core/history.js';
import { daysBefore, daysSinceResponse } from '../core/metric.js';
import { milestonesResponse } from '../core/milestones.js';
import { summaryResponse } from '../core/summary.js';
import { readDailyHistory } from '../db/history.js';
import { readExclusions, readHeadline, readLastRealByType, readPulse } from '../db/metrics.js';
import { readMilestoneProgress } from '../db/milestones.js';
import { invalid, type ApiEvent, type ApiHandler } from './http.js';
import { familyHandler } from './routes.js';
import { lazyAwsDeps } from './runtime.js';
import type { ServiceDeps } from './service.js';

/** (adapter) GET /metrics/... --> indexed reads --> status bands. */
export function createMetricsHandler(deps: ServiceDeps): ApiHandler {
  const { db, config } = deps;
  const routes: Record<string, (event: ApiEvent) => Promise<unknown>> = {
    '/metrics/days-since-last-interaction': async () =>
      daysSinceResponse(await readHeadline(db, config.internal), deps.now(), config),
    '/metrics/summary': async () => {
      const now = deps.now();
      const [pulse, lastByType, exclusions] = await Promise.all([
        readPulse(db, config.internal, now),
        readLastRealByType(db, config.internal, config.countingTypes),
        readExclusions(db, config.internal, daysBefore(now, 7)),
      ]);
      return summaryResponse({ pulse, lastByType, exclusions }, now, config);
    },
    '/metrics/milestones': async () => {
      const now = deps.now();
      return milestonesResponse(config.milestones, await readMilestoneProgress(db, config.internal, config.milestones, now), now);
    },
    '/metrics/history': async (event) => {
      const days = historyDays(event.queryStringParameters?.days);
      if (!days.ok) throw invalid(days.problems);
      const now = deps.now();
      const window = historyWindow(days.value, now);
      const { totals, lastRealBefore } = await readDailyHistory(db, config.internal, window);
      return historyResponse(window, totals, lastRealBefore, now);
    },
  };
  return familyHandler(routes, deps.log);
}

export const handler = lazyAwsDeps(createMetricsHandler);
