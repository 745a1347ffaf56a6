import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalService } from '../../functions/local/service.js';
import { countRows } from '../support/harness.js';
import { folderWithFreshCluster } from '../support/pglite-template.js';
import { halfSentRequest } from '../support/half-sent.js';
import { isRunning, startServerProcess, type RunningServer } from '../support/processes.js';
import { localServiceEnv } from '../support/engines.js';

const USER = '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b';
const started: RunningServer[] = [];
const folders: string[] = [];

afterEach(async () => {
  for (const server of started.splice(0)) {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await server.exit;
  }
  await Promise.all(folders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe.each(['SIGTERM', 'SIGINT'] as const)('%s to the pid of `npm start`', (signal) => {
  it('answers every request in flight in full, stops the whole process tree, exits 0, and the folder opens again', async () => {
    // Already initialised, so the server starts without initdb: the stop is what this is about.
    const dir = await folderWithFreshCluster('i12-stop-');
    folders.push(dir);
    const npm = startServerProcess('npm', { DATA_DIR: dir });
    started.push(npm);
    const url = await npm.ready;
    const tree = execFileSync('ps', ['-o', 'pid=', '--ppid', String(npm.child.pid)]).toString().trim().split(/\s+/).map(Number);
    expect(tree.length).toBeGreaterThan(0);

    const inFlight = Array.from({ length: 4 }, (_, i) => halfSentRequest(url, `in-flight-${i}`, USER));
    // Once this is answered, the server has read the in-flight requests' headers that came before it.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    npm.child.kill(signal);
    await expect.poll(() => npm.output(), { timeout: 30_000 }).toContain(`${signal}: stopping`);
    for (const request of inFlight) request.finish();

    const responses = await Promise.all(inFlight.map((request) => request.response));
    for (const response of responses) {
      expect(response).toMatch(/^HTTP\/1\.1 202 /);
      expect(response).toContain('"status":"recorded"');
    }
    expect(await npm.exit).toEqual({ code: 0, signal: null });
    for (const pid of tree) expect(isRunning(pid)).toBe(false);

    const next = await startLocalService(localServiceEnv({ DATA_DIR: dir }), { print: () => {} });
    try {
      expect(await countRows(next.db, 'interactions')).toBe(4);
    } finally {
      await next.close();
    }
  }, 180_000);
});
