import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { stringFromEnv } from '../core/config.js';
import { decodeSnapshot, encodeSnapshot, type SnapshotRecord, type SnapshotState, type SnapshotStore } from '../core/snapshot.js';

/** The one item that holds the stale-mark counter and the snapshot (lib/snapshot-store.ts grants access to this key only). */
export const SNAPSHOT_KEY = { id: { S: 'published-figures' } } as const;

/**
 * The snapshot store in AWS: one item of an on-demand DynamoDB table. Ingest only adds to `writes` and sets
 * `dirtyUntil`; the publisher reads the item strongly consistent and writes the snapshot attributes only.
 */
export function snapshotTable(client: DynamoDBClient, tableName: string): SnapshotStore {
  return {
    async read(): Promise<SnapshotState> {
      // Strongly consistent: an eventually consistent read could miss a mark made a moment ago.
      const { Item: item } = await client.send(new GetItemCommand({ TableName: tableName, Key: SNAPSHOT_KEY, ConsistentRead: true }));
      const number = (name: string) => (item?.[name]?.N === undefined ? null : Number(item[name].N));
      const seenWrites = number('seenWrites');
      const dirtyUntil = number('dirtyUntil');
      const body = item?.snapshot?.B;
      return {
        writes: number('writes') ?? 0,
        dirtyUntil: dirtyUntil === null ? null : new Date(dirtyUntil),
        record: seenWrites === null ? null : { seenWrites, snapshot: body ? decodeSnapshot(body) : null },
      };
    },

    async markStale(until: Date): Promise<void> {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: SNAPSHOT_KEY,
          UpdateExpression: 'ADD #writes :one SET #dirtyUntil = :until',
          ExpressionAttributeNames: { '#writes': 'writes', '#dirtyUntil': 'dirtyUntil' },
          ExpressionAttributeValues: { ':one': { N: '1' }, ':until': { N: String(until.getTime()) } },
        }),
      );
    },

    async save(record: SnapshotRecord): Promise<void> {
      const values = { ':seen': { N: String(record.seenWrites) } };
      // Names go through placeholders: DynamoDB reserves hundreds of words.
      const names = { '#seenWrites': 'seenWrites', '#snapshot': 'snapshot' };
      try {
        await client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: SNAPSHOT_KEY,
            ...(record.snapshot
              ? {
                  UpdateExpression: 'SET #seenWrites = :seen, #snapshot = :snapshot',
                  ExpressionAttributeValues: { ...values, ':snapshot': { B: encodeSnapshot(record.snapshot) } },
                }
              : { UpdateExpression: 'SET #seenWrites = :seen REMOVE #snapshot', ExpressionAttributeValues: values }),
            ExpressionAttributeNames: names,
            // A refresh that began before a later one finished must not put back an older snapshot.
            ConditionExpression: 'attribute_not_exists(#seenWrites) OR #seenWrites <= :seen',
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    },
  };
}

/** The table named by SNAPSHOT_TABLE_NAME (set by the stack's bindSnapshots), through a client made once. */
export function snapshotTableFromEnv(env: Readonly<Record<string, string | undefined>>): SnapshotStore {
  return snapshotTable(new DynamoDBClient({}), stringFromEnv(env, 'SNAPSHOT_TABLE_NAME'));
}
