import { decodeSnapshot, encodeSnapshot, type SnapshotRecord, type SnapshotStore } from '../core/snapshot.js';

/** The local snapshot record: in memory, and out of date as soon as the local ingest records anything. */
export interface MemorySnapshotStore extends SnapshotStore {
  /** Something was recorded: the record no longer says what the database says. */
  invalidate(): void;
  /** Takes a record and keeps it, unless something was recorded while it was being taken (then the next read takes another). */
  refresh(take: () => Promise<SnapshotRecord>): Promise<SnapshotRecord>;
}

/**
 * The local snapshot store: a restart finds it empty and refreshes. The snapshot goes through the same encoding as in
 * AWS, so `npm start` exercises it too.
 */
export function memorySnapshotStore(): MemorySnapshotStore {
  let writes = 0;
  let kept: { record: SnapshotRecord; bytes: Uint8Array | null; atWrites: number } | null = null;
  const keep = (record: SnapshotRecord, atWrites: number) => {
    kept = { record: { ...record, snapshot: null }, bytes: record.snapshot && encodeSnapshot(record.snapshot), atWrites };
  };
  return {
    async read() {
      if (kept === null || kept.atWrites !== writes) return null;
      return { ...kept.record, snapshot: kept.bytes && decodeSnapshot(kept.bytes) };
    },
    async save(record) {
      keep(record, writes);
    },
    invalidate() {
      writes += 1;
    },
    async refresh(take) {
      const seen = writes;
      const record = await take();
      if (writes === seen) keep(record, seen);
      return record;
    },
  };
}
