// PGlite on a thread of its own (functions/db/pglite.ts, openPglite with `thread: true`): a statement's WebAssembly
// runs here, so the server's event loop keeps answering while it does. Plain JavaScript: a worker thread does not
// inherit tsx's loader on Node 20. One message in, one answer out: messages may arrive while a statement runs, and
// wait here, in the order they came, to run the moment it ends.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { pgliteOptions } from './pglite-files.mjs';

/** What a caller may see of a database error: its class and SQLSTATE, never the statement or its parameters. */
const ERROR_FIELDS = ['name', 'message', 'code', 'severity', 'detail', 'hint', 'schema', 'table', 'column', 'dataType', 'constraint', 'routine'];
const describe = (error) => Object.fromEntries(ERROR_FIELDS.filter((field) => error?.[field] !== undefined).map((field) => [field, String(error[field])]));

let pg;
try {
  pg = await PGlite.create(pgliteOptions(workerData));
  parentPort.postMessage({ ready: true });
} catch (error) {
  parentPort.postMessage({ ready: false, error: describe(error) });
  parentPort.close();
}

/**
 * An error after which PGlite cannot go on: PostgreSQL PANICs when it cannot write its WAL (a full disk) and a server
 * would restart, but PGlite carries on broken, and its next statement spun at 100 % CPU for good. A WebAssembly trap
 * (RuntimeError) leaves it no better. Nothing more runs here after one: the parent stops this thread.
 */
let panicked = null;

async function answer({ id, op, text, values }) {
  if (panicked) return parentPort.postMessage({ id, error: panicked, fatal: true });
  try {
    if (op === 'query') parentPort.postMessage({ id, rows: (await pg.query(text, values)).rows });
    else if (op === 'exec') parentPort.postMessage({ id, rows: (await pg.exec(text)).at(-1)?.rows ?? [] });
    else if (op === 'close') {
      await pg.close();
      parentPort.postMessage({ id, rows: [] });
      parentPort.close();
    }
  } catch (error) {
    const described = describe(error);
    if (described.severity === 'PANIC' || described.name === 'RuntimeError') panicked = described;
    parentPort.postMessage({ id, error: described, fatal: panicked !== null });
  }
}

// One after another, in the order they came (as PGlite would run them anyway), so each looks for a PANIC just before it runs.
let turn = Promise.resolve();
parentPort.on('message', (message) => {
  turn = turn.then(() => answer(message));
});
