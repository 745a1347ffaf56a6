import { PutMetricDataCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Figure } from '../core/published-figures.js';

/** All figures of one reading in a single PutMetricData call, stamped with the moment they were read. */
export async function putFigures(client: CloudWatchClient, namespace: string, figures: readonly Figure[], at: Date): Promise<void> {
  await client.send(
    new PutMetricDataCommand({
      Namespace: namespace,
      MetricData: figures.map((figure) => ({
        MetricName: figure.name,
        Value: figure.value,
        Unit: figure.unit,
        Timestamp: at,
      })),
    }),
  );
}
