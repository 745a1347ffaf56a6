import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { Database } from '../../functions/db/port.js';
import { emptyDatabase, migratedDatabase } from '../support/harness.js';

export interface SlackReply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface ReceivedPost {
  path: string;
  contentType: string | undefined;
  body: { text: string; blocks: unknown[] };
}

/**
 * A real HTTP server on 127.0.0.1 answering like a Slack incoming webhook: 200 "ok" unless replies are
 * queued (429 with Retry-After, 5xx, 410 channel_is_archived ...). The path carries a secret-looking token,
 * so tests can check it never leaks.
 */
export async function startSlackStandIn() {
  const received: ReceivedPost[] = [];
  const replies: SlackReply[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    received.push({
      path: request.url ?? '',
      contentType: request.headers['content-type'],
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
    });
    const reply = replies.shift() ?? { status: 200, body: 'ok' };
    response.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
    response.end(reply.body ?? '');
    for (const waiter of waiters.filter((w) => received.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const secretPath = '/services/T0SECRET/B0SECRET/xoxSecretToken123';
  return {
    url: `http://127.0.0.1:${port}${secretPath}`,
    secretPath,
    received,
    /** Queues answers for the next posts, in order. */
    reply: (...next: SlackReply[]) => void replies.push(...next),
    /** Resolves once `count` posts have arrived in all. */
    posts: (count: number) =>
      received.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type SlackStandIn = Awaited<ReturnType<typeof startSlackStandIn>>;

/** A migrated in-memory database and a Slack stand-in for the file, both emptied before each test. */
export function databaseAndSlack(): { db: Database; slack: SlackStandIn } {
  const shared = {} as { db: Database; slack: SlackStandIn };
  beforeAll(async () => {
    [shared.db, shared.slack] = await Promise.all([migratedDatabase(), startSlackStandIn()]);
  });
  afterAll(async () => {
    await Promise.all([shared.db.close(), shared.slack.close()]);
  });
  beforeEach(async () => {
    await emptyDatabase(shared.db);
    shared.slack.received.length = 0;
  });
  return shared;
}
