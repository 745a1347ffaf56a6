// Loaded with --import into a server process under test (test/integration/supervisor.test.ts): on SIGUSR2 it stops
// every worker thread the process started, from outside the thread, as a crash would. The server sees what it would
// see then: its database thread exits, mid-work, without having been asked to.
import { syncBuiltinESMExports } from 'node:module';
import workerThreads from 'node:worker_threads';

const started = new Set();
const { Worker } = workerThreads;
workerThreads.Worker = class extends Worker {
  constructor(...args) {
    super(...args);
    started.add(this);
    this.once('exit', () => started.delete(this));
  }
};
// `import { Worker } from 'node:worker_threads'` in the server then gets this one.
syncBuiltinESMExports();
if (workerThreads.isMainThread) process.on('SIGUSR2', () => started.forEach((worker) => void worker.terminate()));
