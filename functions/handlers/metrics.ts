import { historyDays, historyResponse, historyWindow } from '../core/history.js';
import { daysSinceResponse } from '../core/metric.js';
import { milestonesResponse } from '../core/milestones.js';
import { summaryResponse } from '../core/summary.js';
import { baselineOf } from '../db/alerts.js';
import { readDailyHistory } from '../db/history.js';
import { readMilestoneProgress } from '../db/milestones.js';
import { awsFigures } from './aws-folding.js';
import { databaseFigures, type FigureSource } from './figures.js';
import { invalid, type ApiEvent, type ApiHandler } from './http.js';
import { familyHandler } from './routes.js';
import { lazyAwsDeps } from './runtime.js';
import type { ServiceDeps } from './service.js';

export interface MetricsDeps extends ServiceDeps {
  /** @default databaseFigures: read the database, as `npm start` does */
  figures?: FigureSource;
}

/** (adapter) GET /metrics/... --> the figures (snapshot + buffer in AWS) or, for milestones and history, Aurora once the buffer is folded --> status bands. */
export function createMetricsHandler(deps: MetricsDeps): ApiHandler {
  const { db, config } = deps;
  const figures = deps.figures ?? databaseFigures({ db, config, baseline: baselineOf(db, config) });
  const routes: Record<string, (event: ApiEvent) => Promise<unknown>> = {
    '/metrics/days-since-last-interaction': async () => {
      const now = deps.now();
      return daysSinceResponse(await figures.headline(now), now, config);
    },
    '/metrics/summary': async () => {
      const now = deps.now();
      const { figures: current } = await figures.current(now);
      return summaryResponse(current, now, config);
    },
    '/metrics/milestones': async () => {
      await figures.foldFirst();
      const now = deps.now();
      return milestonesResponse(config.milestones, await readMilestoneProgress(db, config.internal, config.milestones, now), now);
    },
    '/metrics/history': async (event) => {
      const days = historyDays(event.queryStringParameters?.days);
      if (!days.ok) throw invalid(days.problems);
      await figures.foldFirst();
      const now = deps.now();
      const window = historyWindow(days.value, now);
      const { totals, lastRealBefore } = await readDailyHistory(db, config.internal, window);
      return historyResponse(window, totals, lastRealBefore, now);
    },
  };
  return familyHandler(routes, deps.log);
}

export const handler = lazyAwsDeps((deps) => createMetricsHandler({ ...deps, figures: awsFigures(deps).figures }));
