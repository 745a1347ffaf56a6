import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import {
  bufferPartitionOf,
  DUPLICATE_WINDOW_DAYS,
  storedVerdictOf,
  type BufferedInteraction,
  type InteractionBuffer,
  type StoredVerdict,
} from '../core/buffer.js';
import { stringFromEnv } from '../core/config.js';
import { DAY_MS } from '../core/metric.js';
import type { InteractionToStore, StoredOutcome } from '../core/recording.js';

/*
 * The buffer: one item per event_id, keyed (partition, eventId), in an on-demand table. While an interaction waits for the
 * fold its item carries `pendingSince`, the sort key of the sparse local secondary index `pending`; the fold removes it
 * (and the interaction) and leaves the stored verdict, which answers duplicates until the item's TTL.
 *   A local secondary index can be read strongly consistent, a global one cannot:
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LSI.html ("Reading from a local secondary index")
 *   A Scan of it reads only the items in it (sparse index), whatever the table holds:
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-indexes-general-sparse-indexes.html
 */
export const BUFFER_KEY = { partition: 'pk', sort: 'eventId' } as const;
export const PENDING_INDEX = 'pending';
export const PENDING_SINCE = 'pendingSince';
/** The TTL attribute (epoch seconds), set when an interaction is folded. */
export const EXPIRES_AT = 'expiresAt';

// Placeholders for every attribute name: DynamoDB reserves hundreds of words.
const FOLD_NAMES = {
  '#eventId': BUFFER_KEY.sort,
  '#pendingSince': PENDING_SINCE,
  '#interaction': 'interaction',
  '#expiresAt': EXPIRES_AT,
};

/** Calls in flight at once from one Lambda: the SDK's default of 50 sockets, without queueing on them. */
const PARALLEL_CALLS = 32;

async function inParallel<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_CALLS, items.length) }, worker));
  return results;
}

const keyOf = (eventId: string): Record<string, AttributeValue> => ({
  [BUFFER_KEY.partition]: { S: bufferPartitionOf(eventId) },
  [BUFFER_KEY.sort]: { S: eventId },
});

/** The stored verdict as text: user_id first, so every item of one user begins the same (verdictPrefixOf). */
const verdictText = (verdict: StoredVerdict): string =>
  JSON.stringify({ user_id: verdict.user_id, exclusion_reason: verdict.exclusion_reason, marked_internal: verdict.marked_internal, email_domain: verdict.email_domain });

/** How every verdict of one user begins: `{"user_id":"42",` (JSON.stringify escapes the same id the same way every time). */
export const verdictPrefixOf = (userId: string): string => `{"user_id":${JSON.stringify(userId)},`;

/** One of a user's items, as the scan for them finds it. */
interface ItemOfUser {
  eventId: string;
  verdict: StoredVerdict;
  /** Present while the interaction waits to be folded. */
  interaction: InteractionToStore | null;
}

export function bufferTable(client: DynamoDBClient, tableName: string): InteractionBuffer {
  /** The first copy's stored verdict; null only if the item expired between the refused write and this read. */
  async function original(eventId: string): Promise<StoredVerdict | null> {
    const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: keyOf(eventId), ConsistentRead: true }));
    return Item?.verdict?.S ? (JSON.parse(Item.verdict.S) as StoredVerdict) : null;
  }

  async function acceptOne(interaction: InteractionToStore, receivedAt: number): Promise<StoredOutcome> {
    for (;;) {
      try {
        await client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: {
              ...keyOf(interaction.event_id),
              [PENDING_SINCE]: { N: String(receivedAt) },
              interaction: { S: JSON.stringify(interaction) },
              verdict: { S: verdictText(storedVerdictOf(interaction)) },
            },
            // Idempotent on event_id: pending or already folded, the item is there and the write is refused.
            ConditionExpression: 'attribute_not_exists(#eventId)',
            ExpressionAttributeNames: { '#eventId': BUFFER_KEY.sort },
          }),
        );
        return { recorded: true, stored: storedVerdictOf(interaction), knownUser: null };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const stored = await original(interaction.event_id);
        if (stored) return { recorded: false, stored, knownUser: null };
      }
    }
  }

  /**
   * Every item of the user, pending or remembered for duplicates: a Scan of the whole table, strongly consistent, that keeps
   * the items whose verdict begins with the user's id. A Scan bills for every item it reads, whatever the filter keeps
   * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.CapacityUnits): about 35 days of
   * event_ids for one rare request, where an index by user would bill a write on every ingest (docs/architecture.md).
   */
  async function itemsOfUser(userId: string): Promise<ItemOfUser[]> {
    const items: ItemOfUser[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: tableName,
          ConsistentRead: true,
          FilterExpression: 'begins_with(#verdict, :prefix)',
          ProjectionExpression: '#eventId, #verdict, #interaction',
          ExpressionAttributeNames: { '#eventId': BUFFER_KEY.sort, '#verdict': 'verdict', '#interaction': 'interaction' },
          ExpressionAttributeValues: { ':prefix': { S: verdictPrefixOf(userId) } },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        items.push({
          eventId: item[BUFFER_KEY.sort]!.S!,
          verdict: JSON.parse(item.verdict!.S!) as StoredVerdict,
          interaction: item.interaction?.S ? (JSON.parse(item.interaction.S) as InteractionToStore) : null,
        });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  return {
    async accept(interactions, receivedAt) {
      // Within one call the first copy of an event_id is the one kept, as the recording statement does.
      const firsts = new Map<string, InteractionToStore>();
      for (const interaction of interactions) if (!firsts.has(interaction.event_id)) firsts.set(interaction.event_id, interaction);
      const unique = [...firsts.values()];
      const outcomes = new Map(unique.map((interaction, i) => [interaction.event_id, i]));
      const written = await inParallel(unique, (interaction) => acceptOne(interaction, receivedAt));
      const seen = new Set<string>();
      return interactions.map((interaction) => {
        const outcome = written[outcomes.get(interaction.event_id)!]!;
        if (seen.has(interaction.event_id)) return { recorded: false, stored: outcome.stored, knownUser: null };
        seen.add(interaction.event_id);
        return outcome;
      });
    },

    async pending() {
      const items: BufferedInteraction[] = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        // Strongly consistent: every accept that answered is in it.
        const page = await client.send(
          new ScanCommand({ TableName: tableName, IndexName: PENDING_INDEX, ConsistentRead: true, ExclusiveStartKey: start }),
        );
        for (const item of page.Items ?? []) {
          items.push({ ...(JSON.parse(item.interaction!.S!) as InteractionToStore), receivedAt: Number(item[PENDING_SINCE]!.N) });
        }
        start = page.LastEvaluatedKey;
      } while (start);
      return items;
    },

    async markFolded(eventIds, at) {
      const expiresAt = String(Math.ceil((at.getTime() + DUPLICATE_WINDOW_DAYS * DAY_MS) / 1000));
      await inParallel(eventIds, async (eventId) => {
        try {
          await client.send(
            new UpdateItemCommand({
              TableName: tableName,
              Key: keyOf(eventId),
              UpdateExpression: 'REMOVE #pendingSince, #interaction SET #expiresAt = :expiresAt',
              // Never creates an item: an UpdateItem on a missing key would.
              ConditionExpression: 'attribute_exists(#eventId)',
              ExpressionAttributeNames: FOLD_NAMES,
              ExpressionAttributeValues: { ':expiresAt': { N: expiresAt } },
            }),
          );
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      });
    },

    async forgetUser(userId) {
      const items = await itemsOfUser(userId);
      await inParallel(items, (item) => client.send(new DeleteItemCommand({ TableName: tableName, Key: keyOf(item.eventId) })));
      return items.filter((item) => item.interaction !== null).length;
    },

    async unmarkUser(userId) {
      const marked = (await itemsOfUser(userId)).filter((item) => item.verdict.marked_internal || item.interaction?.marked_internal);
      await inParallel(marked, async ({ eventId, verdict, interaction }) => {
        const values: Record<string, AttributeValue> = { ':verdict': { S: verdictText({ ...verdict, marked_internal: false }) } };
        if (interaction) values[':interaction'] = { S: JSON.stringify({ ...interaction, marked_internal: false }) };
        try {
          await client.send(
            new UpdateItemCommand({
              TableName: tableName,
              Key: keyOf(eventId),
              UpdateExpression: interaction ? 'SET #verdict = :verdict, #interaction = :interaction' : 'SET #verdict = :verdict',
              // Never creates an item: it may have expired since the scan.
              ConditionExpression: 'attribute_exists(#eventId)',
              ExpressionAttributeNames: { '#eventId': BUFFER_KEY.sort, '#verdict': 'verdict', ...(interaction ? { '#interaction': 'interaction' } : {}) },
              ExpressionAttributeValues: values,
            }),
          );
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      });
      return marked.filter((item) => item.interaction?.marked_internal).length;
    },
  };
}

/** The table named by BUFFER_TABLE_NAME (set by the stack's bind… methods), through a client made once. */
export function bufferTableFromEnv(env: Readonly<Record<string, string | undefined>>, client = new DynamoDBClient({})): InteractionBuffer {
  return bufferTable(client, stringFromEnv(env, 'BUFFER_TABLE_NAME'));
}
