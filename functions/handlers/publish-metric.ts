import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { FOLD_AT_ITEMS } from '../core/buffer.js';
import { bufferAgeFigure, figuresOf, namespaceFromEnv, type Figure, type Reading } from '../core/published-figures.js';
import { putFigures } from '../aws/cloudwatch.js';
import { readingFromFigures, type FigureSource } from './figures.js';
import { awsFigures } from './aws-folding.js';
import { lazyAwsDeps } from './runtime.js';
import type { ServiceDeps } from './service.js';

export interface PublisherDeps extends Pick<ServiceDeps, 'log' | 'now'> {
  figures: FigureSource;
  /** Where the figures go: CloudWatch in AWS. */
  putFigures: (figures: readonly Figure[], at: Date) => Promise<void>;
  /** Folds the buffer now: the publisher does when it has grown past FOLD_AT_ITEMS, rather than wait for the schedule. */
  foldEarly?: () => Promise<unknown>;
}

/**
 * (adapter) schedule --> snapshot + buffer (Aurora only when they cannot say) --> one PutMetricData call, with the age of
 * the oldest buffered interaction. Errors fail the run: the publisher alarm counts them.
 */
export function createPublishMetricHandler(deps: PublisherDeps): () => Promise<Reading> {
  return async () => {
    const now = deps.now();
    const { figures, buffer } = await deps.figures.current(now);
    const reading = readingFromFigures(figures, now);
    const published = [...figuresOf(reading), bufferAgeFigure(buffer.oldestReceivedAt, now)];
    await deps.putFigures(published, now);
    deps.log.info('published', { figures: Object.fromEntries(published.map((figure) => [figure.name, figure.value])), waiting: buffer.waiting });
    if (buffer.waiting >= FOLD_AT_ITEMS && deps.foldEarly) {
      try {
        await deps.foldEarly();
      } catch (error) {
        // The scheduled fold will try again; the number above is published and exact.
        deps.log.warn('could not fold the buffer early', { errorName: (error as Error)?.name ?? typeof error });
      }
    }
    return reading;
  };
}

export const handler = lazyAwsDeps((deps) => {
  const cloudWatch = new CloudWatchClient({});
  const namespace = namespaceFromEnv(process.env);
  const { figures, fold } = awsFigures(deps);
  return createPublishMetricHandler({
    ...deps,
    figures,
    foldEarly: fold,
    putFigures: (published, at) => putFigures(cloudWatch, namespace, published, at),
  });
});
