import { decodeSnapshot, encodeSnapshot, type SnapshotRecord, type SnapshotState, type SnapshotStore } from '../core/snapshot.js';

/**
 * The local snapshot store: the DynamoDB item's rules, kept in memory (a restart finds it missing and refreshes).
 * The snapshot goes through the same encoding as in AWS, so `npm start` exercises it too.
 */
export function memorySnapshotStore(): SnapshotStore {
  let writes = 0;
  let dirtyUntil: Date | null = null;
  let saved: { seenWrites: number; bytes: Uint8Array | null } | null = null;
  return {
    async read(): Promise<SnapshotState> {
      return {
        writes,
        dirtyUntil,
        record: saved && { seenWrites: saved.seenWrites, snapshot: saved.bytes && decodeSnapshot(saved.bytes) },
      };
    },
    async markStale(until: Date): Promise<void> {
      writes += 1;
      dirtyUntil = until;
    },
    async save(record: SnapshotRecord): Promise<void> {
      if (saved !== null && saved.seenWrites > record.seenWrites) return;
      saved = { seenWrites: record.seenWrites, bytes: record.snapshot && encodeSnapshot(record.snapshot) };
    },
  };
}
