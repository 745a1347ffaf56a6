import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { FoldLease } from '../core/buffer.js';
import { stringFromEnv } from '../core/config.js';
import { decodeSnapshot, encodeSnapshot, type SnapshotRecord, type SnapshotStore } from '../core/snapshot.js';

/** The item holding the snapshot record, and the fold's lease (lib/snapshot-store.ts grants access to these keys only). */
export const SNAPSHOT_KEY = { id: { S: 'published-figures' } } as const;
export const LEASE_KEY = { id: { S: 'fold-lease' } } as const;

/**
 * The snapshot record in AWS: one item of an on-demand DynamoDB table, written whole by the fold that took it (one write
 * per fold, whatever ingest does) and read strongly consistent by every reader.
 */
export function snapshotTable(client: DynamoDBClient, tableName: string): SnapshotStore {
  return {
    async read(): Promise<SnapshotRecord | null> {
      // Strongly consistent: an eventually consistent read could pair an older snapshot with a newer fold's buffer.
      const { Item: item } = await client.send(new GetItemCommand({ TableName: tableName, Key: SNAPSHOT_KEY, ConsistentRead: true }));
      if (item?.takenAt?.N === undefined) return null;
      const snapshot = item.snapshot?.B ? decodeSnapshot(item.snapshot.B) : null;
      return {
        takenAt: new Date(Number(item.takenAt.N)),
        fingerprint: item.fingerprint!.S!,
        snapshot,
        folded: new Set(JSON.parse(item.folded?.S ?? '[]') as string[]),
        // A snapshot another release encoded is not trusted either.
        ...(item.stale?.BOOL === true || (item.snapshot?.B !== undefined && snapshot === null) ? { stale: true } : {}),
      };
    },

    async save(record: SnapshotRecord): Promise<void> {
      try {
        await client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: {
              ...SNAPSHOT_KEY,
              takenAt: { N: String(record.takenAt.getTime()) },
              fingerprint: { S: record.fingerprint },
              folded: { S: JSON.stringify([...record.folded]) },
              ...(record.snapshot ? { snapshot: { B: encodeSnapshot(record.snapshot) } } : {}),
              ...(record.stale ? { stale: { BOOL: true } } : {}),
            },
            // A fold that outlived its lease must not put back an older snapshot over a newer one.
            ConditionExpression: 'attribute_not_exists(#takenAt) OR #takenAt <= :takenAt',
            ExpressionAttributeNames: { '#takenAt': 'takenAt' },
            ExpressionAttributeValues: { ':takenAt': { N: String(record.takenAt.getTime()) } },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    },
  };
}

/** The fold's lease: one item, taken with a conditional write, so one fold at a time writes Aurora. */
export function foldLeaseItem(client: DynamoDBClient, tableName: string): FoldLease {
  const names = { '#holder': 'holder', '#until': 'until', '#intent': 'intent' };
  return {
    async acquire(holder, until, now) {
      try {
        const { Attributes: item } = await client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: LEASE_KEY,
            UpdateExpression: 'SET #holder = :holder, #until = :until',
            ConditionExpression: 'attribute_not_exists(#holder) OR #until < :now',
            ExpressionAttributeNames: { '#holder': names['#holder'], '#until': names['#until'] },
            ExpressionAttributeValues: { ':holder': { S: holder }, ':until': { N: String(until) }, ':now': { N: String(now) } },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { intent: new Set(JSON.parse(item?.intent?.S ?? '[]') as string[]) };
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return null;
        throw error;
      }
    },

    async noteIntent(holder, eventIds) {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: LEASE_KEY,
          UpdateExpression: 'SET #intent = :intent',
          ConditionExpression: '#holder = :holder',
          ExpressionAttributeNames: { '#holder': names['#holder'], '#intent': names['#intent'] },
          ExpressionAttributeValues: { ':holder': { S: holder }, ':intent': { S: JSON.stringify(eventIds) } },
        }),
      );
    },

    async release(holder, completed) {
      try {
        await client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: LEASE_KEY,
            UpdateExpression: completed ? 'REMOVE #holder, #until, #intent' : 'REMOVE #holder, #until',
            ConditionExpression: '#holder = :holder',
            ExpressionAttributeNames: completed ? names : { '#holder': names['#holder'], '#until': names['#until'] },
            ExpressionAttributeValues: { ':holder': { S: holder } },
          }),
        );
      } catch (error) {
        // Lapsed and taken by another fold: nothing of ours to give back.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    },
  };
}

/** The table named by SNAPSHOT_TABLE_NAME (set by the stack's bind… methods). */
export function snapshotTableName(env: Readonly<Record<string, string | undefined>>): string {
  return stringFromEnv(env, 'SNAPSHOT_TABLE_NAME');
}
