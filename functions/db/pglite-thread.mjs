// PGlite on a thread of its own (functions/db/pglite.ts, openPglite with `thread: true`): a statement's WebAssembly
// runs here, so the server's event loop keeps answering while it does. Plain JavaScript: a worker thread does not
// inherit tsx's loader on Node 20. One message in, one answer out: messages may arrive while a statement runs, and
// PGlite's own lock runs them in the order they came.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

/** What a caller may see of a database error: its class and SQLSTATE, never the statement or its parameters. */
const ERROR_FIELDS = ['name', 'message', 'code', 'severity', 'detail', 'hint', 'schema', 'table', 'column', 'dataType', 'constraint', 'routine'];
const describe = (error) => Object.fromEntries(ERROR_FIELDS.filter((field) => error?.[field] !== undefined).map((field) => [field, String(error[field])]));

let pg;
try {
  pg = await PGlite.create(workerData.dataDir, { loadDataDir: workerData.loadDataDir, startParams: workerData.startParams });
  parentPort.postMessage({ ready: true });
} catch (error) {
  parentPort.postMessage({ ready: false, error: describe(error) });
  parentPort.close();
}

parentPort.on('message', async ({ id, op, text, values }) => {
  try {
    if (op === 'query') parentPort.postMessage({ id, rows: (await pg.query(text, values)).rows });
    else if (op === 'exec') parentPort.postMessage({ id, rows: (await pg.exec(text)).at(-1)?.rows ?? [] });
    else if (op === 'close') {
      await pg.close();
      parentPort.postMessage({ id, rows: [] });
      parentPort.close();
    }
  } catch (error) {
    parentPort.postMessage({ id, error: describe(error) });
  }
});
