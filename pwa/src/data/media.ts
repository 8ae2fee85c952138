// Media the person captured or picked, kept on the device by its SHA-256 until the upload
// queue has sent it, and media of others fetched from the server so that it plays offline.
// The hash is the blob's address on the server too.
import { call } from './api';
import type { MediaRef } from './model';
import type { Session } from './session';
import { ensureRoom, freeSpace, roomToKeep, roomToMirror } from './space';
import type { Storage } from './storage';

/**
 * Keeps `file` on this phone until it is sent. Throws `NoRoom` (space.ts), with nothing
 * written, if the browser reports too little space for it: a full phone refuses the file
 * rather than failing half-way through writing it.
 */
export async function keep(storage: Storage, file: Blob, durationMs?: number): Promise<MediaRef> {
  await ensureRoom(roomToKeep(file.size), { file: file.size });
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  const sha256 = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  // Parameters (codecs) are the recorder's business; the record keeps the type itself.
  const type = (file.type || 'application/octet-stream').split(';')[0].trim();
  await storage.putBlob({ sha256, type, size: file.size, blob: file, storedAt: Date.now() });
  return { sha256, size: file.size, media_type: type, duration_ms: durationMs ?? null, caption: null };
}

/**
 * A URL that plays or shows `sha256`: this device's copy if it has one, else a short-lived
 * signed URL from the server (a `<video>` cannot send a token), else null (offline).
 */
export async function mediaUrl(storage: Storage, session: Session, sha256: string): Promise<string | null> {
  const stored = await storage.blob(sha256);
  if (stored) return URL.createObjectURL(stored.blob);
  const outcome = await session.token().catch(() => null);
  if (!outcome || !('token' in outcome)) return null;
  try {
    const { url } = await call<{ url: string }>('POST', `/api/v1/blobs/${sha256}/ticket`, outcome.token);
    return url;
  } catch {
    return null;
  }
}

/**
 * Fetches the media of `wanted` that this device lacks, so that it plays offline later.
 * Large files wait for an unmetered connection, as uploads do; none is fetched into space
 * a recording needs.
 */
export async function mirror(storage: Storage, session: Session, wanted: MediaRef[], unmetered: boolean): Promise<number> {
  let fetched = 0;
  for (const media of wanted) {
    if (await storage.blob(media.sha256)) continue;
    if (!unmetered && media.size > LARGE) continue;
    const free = await freeSpace();
    if (free !== null && free < roomToMirror(media.size)) continue;
    const outcome = await session.token();
    if (!('token' in outcome)) return fetched;
    const response = await fetch(`/blobs/${media.sha256}`, { headers: { Authorization: `Bearer ${outcome.token}` } });
    if (!response.ok) continue;
    const blob = await response.blob();
    await storage.putBlob({ sha256: media.sha256, type: media.media_type, size: blob.size, blob, storedAt: Date.now() });
    fetched++;
  }
  return fetched;
}

const LARGE = 5 * 1024 * 1024;
