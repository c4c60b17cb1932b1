import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Collection, Doc, Storage } from '../storage/index.js';
import { MEMORY_STATE } from '../storage/memory.js';

/** What the development state file holds: the signing secret and the embedded storage's records. */
export interface DevState {
  version: 1;
  /** The development signing secret, so printed and minted tokens outlive a restart. */
  secret?: string;
  counters: Record<string, number>;
  /** Per collection: its documents, and per index its members with their scores. */
  collections: Record<string, { docs: Doc[]; indexes: Record<string, Record<string, number>> }>;
}

interface StorageMaps {
  collections: Map<string, Collection<Doc>>;
  counters: Map<string, number>;
}
interface CollectionMaps {
  docs: Map<string, Doc>;
  indexes: Map<string, Map<string, number>>;
}

const mapsOf = <T>(owner: unknown): T => {
  const maps = (owner as { [MEMORY_STATE]?: T })[MEMORY_STATE];
  if (!maps) throw new Error('The development state file needs the embedded (memory) storage');
  return maps;
};

/**
 * Reads the state file; undefined when there is none yet. A file that
 * cannot be read as state is an error naming the file, never silently
 * replaced (it may hold the only copy of someone's test data).
 */
export function readDevState(file: string): DevState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as DevState;
    if (state.version !== 1 || typeof state.collections !== 'object') throw new Error('unknown format');
    return state;
  } catch (error) {
    throw new Error(
      `${file} is not a development state file (${(error as Error).message}): move it away, or set DEV_STATE_FILE=off`,
      { cause: error },
    );
  }
}

/** The storage's records as plain JSON data. */
export function snapshot(storage: Storage, secret: string | undefined): DevState {
  const { collections, counters } = mapsOf<StorageMaps>(storage);
  const state: DevState = {
    version: 1,
    ...(secret ? { secret } : {}),
    counters: Object.fromEntries(counters),
    collections: {},
  };
  for (const [name, collection] of collections) {
    const { docs, indexes } = mapsOf<CollectionMaps>(collection);
    state.collections[name] = {
      docs: [...docs.values()],
      indexes: Object.fromEntries([...indexes].map(([index, members]) => [index, Object.fromEntries(members)])),
    };
  }
  return state;
}

/** Puts a snapshot's records into a fresh embedded storage (before anything else uses it). */
export function restore(storage: Storage, state: DevState): void {
  const { counters } = mapsOf<StorageMaps>(storage);
  for (const [name, value] of Object.entries(state.counters)) counters.set(name, value);
  for (const [name, saved] of Object.entries(state.collections)) {
    const { docs, indexes } = mapsOf<CollectionMaps>(storage.collection(name));
    for (const doc of saved.docs) docs.set(doc.id, doc);
    for (const [index, members] of Object.entries(saved.indexes)) indexes.set(index, new Map(Object.entries(members)));
  }
}

/** Writes the file atomically: a temporary file beside it, then a rename, so a crash never leaves half a file. */
export function writeDevState(file: string, state: DevState): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(state), { mode: 0o600 });
  renameSync(temporary, file);
}

/**
 * Keeps the state file up to date while the server runs: every `intervalMs`
 * when something changed, and once more at `stop()` (after the server has
 * closed, so the last writes are in).
 */
export function keepDevState(options: {
  file: string;
  storage: Storage;
  secret: string | undefined;
  intervalMs?: number;
  onError: (error: unknown) => void;
}): { stop(): void } {
  const { file, storage, secret, intervalMs = 1000, onError } = options;
  let written = '';
  const save = () => {
    try {
      const state = snapshot(storage, secret);
      const json = JSON.stringify(state);
      if (json === written) return;
      writeDevState(file, state);
      written = json;
    } catch (error) {
      onError(error);
    }
  };
  const timer = setInterval(save, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      save();
    },
  };
}
