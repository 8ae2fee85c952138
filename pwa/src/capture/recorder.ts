// Recording audio or video in the page. Each piece the recorder gives goes to IndexedDB as it
// arrives, so a ten-minute lecture is never held in memory; when recording stops the pieces
// become one blob, kept by its hash like any picked file, and the pieces are dropped. A note
// of the recording (its kind, when and on which form) is stored before its first piece, so
// that one cut off by a crash or a closed page can be offered back (see recovery.ts).
//
// The phone's space is checked before the camera is asked for and while recording, by the
// rules in data/space.ts.
import { keep } from '../data/media';
import type { MediaRef } from '../data/model';
import { ensureRoom, freeSpace, mustStop, roomToRecord } from '../data/space';
import type { Storage } from '../data/storage';
import { VIDEO_CONSTRAINTS, recorderOptions } from './formats.js';

export type RecordingKind = 'audio' | 'video';

export interface Recording {
  readonly kind: RecordingKind;
  readonly stream: MediaStream;
  /** Stops, and resolves with the kept recording; nothing of it is left but the kept file. */
  stop(): Promise<MediaRef>;
  /** Stops without keeping: what was stored stays, to be offered back on the home screen. */
  abandon(): void;
}

/** Whether this browser can record `kind` in a format the server takes. */
export function canRecord(kind: RecordingKind): boolean {
  return typeof MediaRecorder !== 'undefined' && !!navigator.mediaDevices && recorderOptions(kind) !== null;
}

// How often the space is looked at while recording: a few seconds of video is a few hundred
// kilobytes, far less than the margin a recording stops at.
const WATCH_MS = 2_000;

/**
 * Starts recording `kind` on the form at `address`. Throws `NoRoom` before the camera or the
 * microphone is asked for if the phone lacks room for a short recording. `onLowSpace` is
 * called once if space runs low while recording: the caller should stop (and so keep) it.
 */
export async function startRecording(storage: Storage, kind: RecordingKind, address: string, onLowSpace: () => void): Promise<Recording> {
  const options = recorderOptions(kind);
  if (!options) throw new Error('cannot_record');
  await ensureRoom(roomToRecord(kind), { recording: kind });
  const stream = await navigator.mediaDevices.getUserMedia(
    kind === 'video' ? { video: VIDEO_CONSTRAINTS, audio: true } : { audio: true },
  );
  const recorder = new MediaRecorder(stream, options);
  const id = crypto.randomUUID();
  try {
    await storage.startRecording({
      id,
      kind,
      mimeType: recorder.mimeType || options.mimeType || '',
      startedAt: Date.now(),
      address,
      recordedMs: 0,
    });
  } catch (failure) {
    stream.getTracks().forEach((track) => track.stop());
    throw failure;
  }
  const started = performance.now();
  let index = 0;
  let recorded = 0;
  let saving: Promise<void> = Promise.resolve();
  recorder.ondataavailable = (event) => {
    if (event.data.size === 0) return;
    const at = index++;
    const ms = Math.round(performance.now() - started);
    recorded += event.data.size;
    saving = saving.then(() => storage.putPiece(id, at, event.data, ms));
  };
  const watch = setInterval(async () => {
    const free = await freeSpace();
    if (free !== null && mustStop(kind, recorded, free)) {
      clearInterval(watch);
      onLowSpace();
    }
  }, WATCH_MS);
  const finish = async () => {
    clearInterval(watch);
    if (recorder.state !== 'inactive') {
      await new Promise<void>((resolve) => {
        recorder.onstop = () => resolve();
        recorder.stop();
      });
    }
    stream.getTracks().forEach((track) => track.stop());
    await saving;
  };
  recorder.start(1000);
  return {
    kind,
    stream,
    async stop() {
      await finish();
      const whole = new Blob(await storage.pieces(id), { type: recorder.mimeType });
      const kept = await keep(storage, whole, Math.round(performance.now() - started));
      await storage.endRecording(id);
      return kept;
    },
    abandon() {
      void finish();
    },
  };
}
