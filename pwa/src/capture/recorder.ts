// Recording audio or video in the page. Each second's piece goes to IndexedDB as it arrives,
// so a ten-minute lecture is never held in memory; when recording stops the pieces become one
// blob, kept by its hash like any picked file. (Pieces of a recording cut off by a crash stay
// in IndexedDB; offering them back to the person is still to do.)
import { keep } from '../data/media';
import type { MediaRef } from '../data/model';
import type { Storage } from '../data/storage';
import { VIDEO_CONSTRAINTS, recorderOptions } from './formats.js';

export type RecordingKind = 'audio' | 'video';

export interface Recording {
  readonly kind: RecordingKind;
  readonly stream: MediaStream;
  /** Stops, and resolves with the kept recording. */
  stop(): Promise<MediaRef>;
}

/** Whether this browser can record `kind` in a format the server takes. */
export function canRecord(kind: RecordingKind): boolean {
  return typeof MediaRecorder !== 'undefined' && !!navigator.mediaDevices && recorderOptions(kind) !== null;
}

/** Free space the browser reports for this app, in bytes, or null if it does not say. */
export async function freeSpace(): Promise<number | null> {
  const estimate = await navigator.storage?.estimate?.();
  if (!estimate?.quota) return null;
  return estimate.quota - (estimate.usage ?? 0);
}

export async function startRecording(storage: Storage, kind: RecordingKind): Promise<Recording> {
  const options = recorderOptions(kind);
  if (!options) throw new Error('cannot_record');
  const stream = await navigator.mediaDevices.getUserMedia(
    kind === 'video' ? { video: VIDEO_CONSTRAINTS, audio: true } : { audio: true },
  );
  const recorder = new MediaRecorder(stream, options);
  const id = crypto.randomUUID();
  const started = performance.now();
  let index = 0;
  let saving: Promise<void> = Promise.resolve();
  recorder.ondataavailable = (event) => {
    if (event.data.size === 0) return;
    const at = index++;
    saving = saving.then(() => storage.putPiece(id, at, event.data));
  };
  recorder.start(1000);
  return {
    kind,
    stream,
    async stop() {
      await new Promise<void>((resolve) => {
        recorder.onstop = () => resolve();
        recorder.stop();
      });
      stream.getTracks().forEach((track) => track.stop());
      await saving;
      const pieces = await storage.pieces(id);
      const whole = new Blob(pieces, { type: recorder.mimeType });
      const kept = await keep(storage, whole, Math.round(performance.now() - started));
      await storage.dropPieces(id);
      return kept;
    },
  };
}
