import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { figuresOf, namespaceFromEnv, type Figure, type Reading } from '../core/published-figures.js';
import { putFigures } from '../aws/cloudwatch.js';
import { baselineOf, readReading } from '../db/alerts.js';
import { lazyAwsDeps } from './runtime.js';
import type { ServiceDeps } from './service.js';

export interface PublisherDeps extends ServiceDeps {
  baseline: (now: Date) => Promise<Date>;
  /** Where the figures go: CloudWatch in AWS. */
  putFigures: (figures: readonly Figure[], at: Date) => Promise<void>;
}

/** (adapter) schedule --> one pulse query --> one PutMetricData call. Errors fail the run: the publisher alarm counts them. */
export function createPublishMetricHandler(deps: PublisherDeps): () => Promise<Reading> {
  return async () => {
    const now = deps.now();
    const reading = await readReading(deps.db, deps.config, deps.baseline, now);
    const figures = figuresOf(reading);
    await deps.putFigures(figures, now);
    deps.log.info('published', { figures: Object.fromEntries(figures.map((figure) => [figure.name, figure.value])) });
    return reading;
  };
}

export const handler = lazyAwsDeps((deps) => {
  const cloudWatch = new CloudWatchClient({});
  const namespace = namespaceFromEnv(process.env);
  return createPublishMetricHandler({
    ...deps,
    baseline: baselineOf(deps.db, deps.config),
    putFigures: (figures, at) => putFigures(cloudWatch, namespace, figures, at),
  });
});
