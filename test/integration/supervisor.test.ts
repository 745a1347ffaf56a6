import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listenLocalService, type ListeningService } from '../../functions/local/service.js';
import { folderWithFreshCluster } from '../support/pglite-template.js';
import { halfSentRequest } from '../support/half-sent.js';
import { startServerProcess, type RunningServer } from '../support/processes.js';
import { localServiceEnv } from '../support/engines.js';

// Issue 21: what a supervisor (systemd, Kubernetes, a load balancer) sees of `npm start`: a port that opens at once and
// says the database is still opening, a busy port reported at once, and a database thread that dies ending the process.

const USER = '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b';
const folders: string[] = [];
const services: ListeningService[] = [];
const processes: RunningServer[] = [];
const blockers: Server[] = [];

afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.close()));
  for (const server of processes.splice(0)) {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    await server.exit;
  }
  await Promise.all(blockers.splice(0).map((blocker) => new Promise((resolve) => blocker.close(resolve))));
  await Promise.all(folders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function freshFolder(prefix: string): Promise<string> {
  const dir = await folderWithFreshCluster(prefix);
  folders.push(dir);
  return dir;
}

const postOne = (url: string) =>
  fetch(`${url}/metrics/interaction`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: USER, interaction_type: 'login' }) });

describe('the port opens at once', () => {
  it('answers within 1 s of start while the database opens: /healthz 503 starting, data routes 503 with Retry-After', async () => {
    const dir = await freshFolder('i21-listen-');
    const started = performance.now();
    const service = await listenLocalService(localServiceEnv({ DATA_DIR: dir }), { print: () => {} });
    services.push(service);
    let opened = false;
    void service.ready.then(() => (opened = true), () => {});
    const health = await fetch(`${service.url}/healthz`);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(health.status).toBe(503);
    expect(health.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await health.json()).toEqual({ status: 'starting', message: `the database is opening (PGlite in ${dir})` });
    const forget = await fetch(`${service.url}/users?user_id=${USER}`, { method: 'DELETE' });
    for (const response of [await fetch(`${service.url}/metrics/days-since-last-interaction`), await postOne(service.url), forget]) {
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await response.json()).toEqual({ error: 'database_unavailable', message: `the database is opening (PGlite in ${dir}); retry shortly` });
    }
    // All of that while the database was still opening.
    expect(opened).toBe(false);
    await service.ready;
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    expect((await postOne(service.url)).status).toBe(202);
  }, 120_000);

  it('a busy port is reported at once: exit 1, saying so, before the database was even created', async () => {
    const blocker = createServer();
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    // An empty folder: opening the database first would have run initdb there (PG_VERSION) before finding the port taken.
    const dir = await mkdtemp(join(tmpdir(), 'i21-busy-'));
    folders.push(dir);
    const server = startServerProcess('node', { PORT: String(port), DATA_DIR: dir });
    processes.push(server);
    const { code } = await server.exit;
    expect(code).toBe(1);
    expect(server.output()).toContain(`Port already in use: listen EADDRINUSE: address already in use 127.0.0.1:${port}. Set PORT to another port.`);
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(false);
  }, 60_000);
});

describe("the embedded database's thread dies", () => {
  it('answers what is in flight with 503, /healthz says 503 meanwhile, and the process exits non-zero', async () => {
    const dir = await freshFolder('i21-lost-');
    // thread-killer.mjs stops the process's worker threads on SIGUSR2, as a crash of the thread would.
    const server = startServerProcess('node', { DATA_DIR: dir }, ['--import', './test/support/thread-killer.mjs']);
    processes.push(server);
    const url = await server.ready;
    expect((await postOne(url)).status).toBe(202);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    const inFlight = halfSentRequest(url, 'in-flight', USER);
    await expect.poll(() => fetch(`${url}/healthz`).then((response) => response.status)).toBe(200);
    server.child.kill('SIGUSR2');
    // The thread is gone; the port stays open while a request is in flight, and says why it cannot serve.
    await expect.poll(() => fetch(`${url}/healthz`).then((response) => response.status), { timeout: 10_000 }).toBe(503);
    const health = await fetch(`${url}/healthz`);
    expect(health.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await health.json()).toEqual({ status: 'unavailable', message: expect.stringContaining("the embedded database's thread stopped (exit code 1)") });
    expect(server.child.exitCode).toBeNull();

    inFlight.finish();
    const answered = await inFlight.response;
    expect(answered).toMatch(/^HTTP\/1\.1 503 /);
    expect(answered).toMatch(/retry-after: \d+/i);
    expect(answered).toContain('"error":"database_unavailable"');
    expect(await server.exit).toEqual({ code: 1, signal: null });
    expect(server.output()).toContain('The database is lost, so the server has stopped');
  }, 120_000);
});
