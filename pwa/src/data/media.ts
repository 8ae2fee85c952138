// Media the person captured or picked, kept on the device by its SHA-256 until the upload
// queue has sent it. The hash is the blob's address on the server too.
import type { MediaRef } from './model';
import type { Storage } from './storage';

export async function keep(storage: Storage, file: Blob, durationMs?: number): Promise<MediaRef> {
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  const sha256 = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  // Parameters (codecs) are the recorder's business; the record keeps the type itself.
  const type = (file.type || 'application/octet-stream').split(';')[0].trim();
  await storage.putBlob({ sha256, type, size: file.size, blob: file, storedAt: Date.now() });
  return { sha256, size: file.size, media_type: type, duration_ms: durationMs ?? null, caption: null };
}

/** A URL to show a kept blob, or null if this device does not have it. */
export async function localUrl(storage: Storage, sha256: string): Promise<string | null> {
  const stored = await storage.blob(sha256);
  return stored ? URL.createObjectURL(stored.blob) : null;
}
