import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startLocalService } from '../../functions/local/service.js';
import { startServerProcess, type RunningServer } from '../support/processes.js';
import { localServiceEnv } from '../support/engines.js';

// Issue 21: PGlite in a folder on a disk that fills up. A small tmpfs stands in for the disk: mounting one needs root
// (CI runs as root); elsewhere the file is skipped, saying why.

const run = promisify(execFile);

/** Whether this process may mount a file system: tries a tiny tmpfs once. */
function mayMount(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'i21-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmdirSync(probe);
  }
}
const canMount = mayMount();
if (!canMount) console.warn('disk-full.test.ts skipped: mounting a small tmpfs needs root (CI runs as root)');

const USER_BASE = '00000000-0000-4000-8000-';
let mounted: string | null = null;
let server: RunningServer | null = null;

afterEach(async () => {
  if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  await server?.exit;
  server = null;
  if (mounted) {
    await run('umount', [mounted]).catch(() => run('umount', ['-l', mounted!]));
    await rm(mounted, { recursive: true, force: true });
    mounted = null;
  }
});

interface Outcome {
  status: number;
  retryAfter: string | null;
  body: { error?: string; message?: string; recorded?: number };
}

let sent = 0;
/** Posts a batch of 100 new interactions (with some padding, so the disk fills in a few dozen); returns what came back. */
async function postBatch(url: string, acknowledged: Set<string>): Promise<Outcome> {
  const ids = Array.from({ length: 100 }, () => `full-${sent++}`);
  const interactions = ids.map((id, i) => ({
    event_id: id,
    user_id: `${USER_BASE}${(sent * 100 + i).toString(16).padStart(12, '0')}`,
    interaction_type: 'login',
    metadata: { note: 'x'.repeat(400) },
  }));
  const response = await fetch(`${url}/metrics/interactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ interactions }),
    signal: AbortSignal.timeout(30_000),
  }).catch((error: unknown) => {
    throw new Error(`no answer within 30 s (${(error as Error).name}); the server said:\n${server?.output().slice(-4000)}`);
  });
  const body = await response.json();
  if (response.status === 202) ids.forEach((id) => acknowledged.add(id));
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
}

/** Posts until the disk is full: every answer until then a 202, and the one that is not a 503 that says so. */
async function fillUp(url: string, acknowledged: Set<string>): Promise<Outcome> {
  for (let batch = 0; batch < 2000; batch++) {
    const outcome = await postBatch(url, acknowledged);
    if (outcome.status !== 202) return outcome;
  }
  throw new Error('the disk never filled');
}

/** Posts every 250 ms until one is recorded; every answer before it must be a 503 with Retry-After. */
async function untilRecorded(url: string, acknowledged: Set<string>, what: string): Promise<number> {
  const refusals = new Set<string>();
  for (let attempt = 0; attempt < 240; attempt++) {
    const outcome = await postBatch(url, acknowledged);
    if (outcome.status === 202) return attempt;
    expect({ what, status: outcome.status, error: outcome.body.error, retryAfter: /^\d+$/.test(outcome.retryAfter ?? '') }).toEqual({
      what,
      status: 503,
      error: 'database_unavailable',
      retryAfter: true,
    });
    refusals.add(outcome.body.message!);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what}: never recorded again; refused with ${[...refusals].join(' | ')}`);
}

describe.runIf(canMount)('PGlite in a folder on a full disk', () => {
  it('answers 503 saying the disk is full, records again once space is freed (by growing the volume, by deleting a file), and stops cleanly', async () => {
    mounted = mkdtempSync(join(tmpdir(), 'i21-disk-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mounted]);
    const dataDir = join(mounted, 'data');
    await mkdir(dataDir);
    // A fresh cluster (about 40 MB) without initdb's seconds, and a file the operator can delete later to free space.
    await run('tar', ['-xf', inject('pgliteTemplate'), '-C', dataDir]);
    await writeFile(join(mounted, 'old-backup.tar'), Buffer.alloc(8 * 2 ** 20, 1));
    server = startServerProcess('node', { DATA_DIR: dataDir });
    const url = await server.ready;
    const acknowledged = new Set<string>();

    const full = await fillUp(url, acknowledged);
    expect(full.status).toBe(503);
    expect(full.body).toEqual({ error: 'database_unavailable', message: expect.stringContaining("the database's disk is full") });
    expect(full.retryAfter).toMatch(/^\d+$/);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'unavailable', message: expect.stringContaining('disk is full') });
    // Still full: still a 503, never a 500.
    for (let i = 0; i < 5; i++) expect((await postBatch(url, acknowledged)).status).toBe(503);
    expect(server.output()).toMatch(/"cause":"53100"/);

    // Space, by growing the volume.
    await run('mount', ['-o', 'remount,size=96m', mounted]);
    await untilRecorded(url, acknowledged, 'after growing the volume');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    // Full again; then space, by deleting a file.
    expect((await fillUp(url, acknowledged)).body.message).toContain("the database's disk is full");
    await rm(join(mounted, 'old-backup.tar'));
    await untilRecorded(url, acknowledged, 'after deleting a file');

    // A clean stop: it exited 1 after 40 minutes of a spinning thread before.
    server.child.kill('SIGTERM');
    expect(await server.exit).toEqual({ code: 0, signal: null });

    await run('mount', ['-o', 'remount,size=256m', mounted]);
    const reopened = await startLocalService(localServiceEnv({ DATA_DIR: dataDir }), { print: () => {} });
    try {
      const stored = await reopened.db.query<{ event_id: string }>("SELECT event_id FROM interactions WHERE event_id LIKE 'full-%'");
      const present = new Set(stored.map((row) => row.event_id));
      expect([...acknowledged].filter((id) => !present.has(id))).toEqual([]);
      expect(acknowledged.size).toBeGreaterThan(0);
    } finally {
      await reopened.close();
    }
  }, 300_000);
});
