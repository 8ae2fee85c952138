// The device's durable storage, in IndexedDB. It holds bytes and settings only; what they mean
// is client-core's business.
//
// - chunks: each document as the chunks client-core asked to store, in order; concatenated
//   they load as the whole document. Appending is one small write per change, which is what
//   lets the app say "saved" the moment a record is written.
// - syncStates: the sync state with the server per document, so a reconnect sends only
//   what is new.
// - settings: the sign-in, the upload queue, the person's preferences.
// - blobs: captured and received media by SHA-256, as Blobs (kept on disk by the browser).
// - pieces: a recording in progress, a piece as the recorder gives one (every second, or every
//   few seconds for MP4), so a crash loses only the last piece.
// - recordings: what each recording in progress is (kind, type, when and on which form it
//   started, how long it has got), so that one cut off by a crash or a closed page can be
//   offered back. Removed with its pieces when the recording ends.
//
// Version 2 added `recordings`; phones upgrade from version 1 keeping everything they hold.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

interface Schema extends DBSchema {
  chunks: { key: number; value: { document: string; bytes: Uint8Array }; indexes: { document: string } };
  syncStates: { key: [string, string]; value: Uint8Array };
  settings: { key: string; value: unknown };
  blobs: { key: string; value: StoredBlob };
  pieces: { key: [string, number]; value: Blob };
  recordings: { key: string; value: RecordingStarted };
}

/** A recording in progress, as kept beside its pieces. */
export interface RecordingStarted {
  id: string;
  kind: 'audio' | 'video';
  mimeType: string;
  startedAt: number;
  /** The address of the form it was recorded on (`#/lecture/new-remote`). */
  address: string;
  /** How long it had got when its last piece was stored. */
  recordedMs: number;
}

export interface StoredBlob {
  sha256: string;
  type: string;
  size: number;
  blob: Blob;
  storedAt: number;
}

// Past this many chunks a document is rewritten as one, so opening it stays quick.
const COMPACT_AFTER = 64;

export class Storage {
  private constructor(private readonly db: IDBPDatabase<Schema>) {}

  static async open(name = 'tianjian'): Promise<Storage> {
    const db = await openDB<Schema>(name, 2, {
      upgrade(db, from) {
        if (from < 1) {
          const chunks = db.createObjectStore('chunks', { autoIncrement: true });
          chunks.createIndex('document', 'document');
          db.createObjectStore('syncStates');
          db.createObjectStore('settings');
          db.createObjectStore('blobs', { keyPath: 'sha256' });
          db.createObjectStore('pieces');
        }
        if (from < 2) db.createObjectStore('recordings', { keyPath: 'id' });
      },
      // A newer version of the app opened in another tab waits until this one lets go; a
      // reload brings this tab to the new version too.
      blocking() {
        db.close();
        location.reload();
      },
    });
    return new Storage(db);
  }

  /** Appends a chunk to a document; resolves once it is durable. */
  async append(document: string, bytes: Uint8Array): Promise<void> {
    const tx = this.db.transaction('chunks', 'readwrite', { durability: 'strict' });
    await Promise.all([tx.store.add({ document, bytes }), tx.done]);
  }

  /** Every stored document, its chunks concatenated, with how many chunks it has. */
  async documents(): Promise<Map<string, { bytes: Uint8Array; chunks: number }>> {
    const parts = new Map<string, Uint8Array[]>();
    let cursor = await this.db.transaction('chunks').store.openCursor();
    while (cursor) {
      const { document, bytes } = cursor.value;
      const list = parts.get(document) ?? [];
      list.push(bytes);
      parts.set(document, list);
      cursor = await cursor.continue();
    }
    const documents = new Map<string, { bytes: Uint8Array; chunks: number }>();
    for (const [document, list] of parts) {
      documents.set(document, { bytes: concat(list), chunks: list.length });
    }
    return documents;
  }

  /** Whether a document has grown enough chunks to be rewritten as one. */
  static needsCompaction(chunks: number): boolean {
    return chunks > COMPACT_AFTER;
  }

  /** Replaces every chunk of a document with `whole`, in one transaction. */
  async compact(document: string, whole: Uint8Array): Promise<void> {
    const tx = this.db.transaction('chunks', 'readwrite', { durability: 'strict' });
    let cursor = await tx.store.index('document').openCursor(IDBKeyRange.only(document));
    while (cursor) {
      await cursor.delete();
      cursor = await cursor.continue();
    }
    await tx.store.add({ document, bytes: whole });
    await tx.done;
  }

  async saveSyncState(server: string, document: string, bytes: Uint8Array): Promise<void> {
    await this.db.put('syncStates', bytes, [server, document]);
  }

  async syncStates(): Promise<{ server: string; document: string; bytes: Uint8Array }[]> {
    const tx = this.db.transaction('syncStates');
    const [keys, values] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll()]);
    return keys.map(([server, document], i) => ({ server, document, bytes: values[i] }));
  }

  async setting<T>(key: string): Promise<T | undefined> {
    return (await this.db.get('settings', key)) as T | undefined;
  }

  async setSetting(key: string, value: unknown): Promise<void> {
    const tx = this.db.transaction('settings', 'readwrite', { durability: 'strict' });
    await Promise.all([tx.store.put(value, key), tx.done]);
  }

  /** The settings whose keys start with `prefix`, by key. */
  async settingsStartingWith<T>(prefix: string): Promise<Map<string, T>> {
    const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
    const tx = this.db.transaction('settings');
    const [keys, values] = await Promise.all([tx.store.getAllKeys(range), tx.store.getAll(range)]);
    return new Map(keys.map((key, i) => [key, values[i] as T]));
  }

  async dropSetting(key: string): Promise<void> {
    const tx = this.db.transaction('settings', 'readwrite', { durability: 'strict' });
    await Promise.all([tx.store.delete(key), tx.done]);
  }

  /** Forgets the sync state of `document` with every server: it syncs afresh. */
  async forgetSyncStates(document: string): Promise<void> {
    const tx = this.db.transaction('syncStates', 'readwrite', { durability: 'strict' });
    for (const key of await tx.store.getAllKeys()) if (key[1] === document) await tx.store.delete(key);
    await tx.done;
  }

  async putBlob(blob: StoredBlob): Promise<void> {
    const tx = this.db.transaction('blobs', 'readwrite', { durability: 'strict' });
    await Promise.all([tx.store.put(blob), tx.done]);
  }

  async blob(sha256: string): Promise<StoredBlob | undefined> {
    return this.db.get('blobs', sha256);
  }

  /** The SHA-256 of every blob kept on this phone. */
  async blobHashes(): Promise<string[]> {
    return this.db.getAllKeys('blobs');
  }

  /** Notes a recording starting, before any of its pieces is stored. */
  async startRecording(recording: RecordingStarted): Promise<void> {
    const tx = this.db.transaction('recordings', 'readwrite', { durability: 'strict' });
    await Promise.all([tx.store.put(recording), tx.done]);
  }

  /** Stores a piece of a recording, and how long the recording has got with it. */
  async putPiece(recording: string, index: number, piece: Blob, recordedMs: number): Promise<void> {
    const tx = this.db.transaction(['pieces', 'recordings'], 'readwrite');
    const pieces = tx.objectStore('pieces');
    const recordings = tx.objectStore('recordings');
    const started = await recordings.get(recording);
    await Promise.all([
      pieces.put(piece, [recording, index]),
      started && recordings.put({ ...started, recordedMs }),
      tx.done,
    ]);
  }

  async pieces(recording: string): Promise<Blob[]> {
    return this.db.getAll('pieces', piecesOf(recording));
  }

  /** The recordings with notes or pieces stored: those in progress, and those cut off. */
  async recordings(): Promise<{ started: RecordingStarted[]; withPieces: Set<string> }> {
    const tx = this.db.transaction(['recordings', 'pieces']);
    const [started, keys] = await Promise.all([tx.objectStore('recordings').getAll(), tx.objectStore('pieces').getAllKeys()]);
    return { started, withPieces: new Set(keys.map(([recording]) => recording)) };
  }

  /** Removes a recording's pieces and its note, together. */
  async endRecording(recording: string): Promise<void> {
    const tx = this.db.transaction(['pieces', 'recordings'], 'readwrite', { durability: 'strict' });
    await Promise.all([tx.objectStore('pieces').delete(piecesOf(recording)), tx.objectStore('recordings').delete(recording), tx.done]);
  }
}

function piecesOf(recording: string): IDBKeyRange {
  return IDBKeyRange.bound([recording, 0], [recording, Number.MAX_SAFE_INTEGER]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}
