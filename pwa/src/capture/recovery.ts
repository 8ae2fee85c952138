// Recordings cut off before they were stopped (the page closed, the phone died, the person
// left the form) leave their pieces and their note in IndexedDB. The home screen offers each
// back: kept, its pieces become one file and the form it was recorded on opens with it
// attached; dropped, its pieces go.
//
// The kept file is carried to the form through a queue in this module, by the form's address:
// the form's recorder takes what is carried for its address when it mounts (Recorder.tsx).
import { keep } from '../data/media';
import type { MediaRef } from '../data/model';
import { bytesPerSecond } from '../data/space';
import type { Storage } from '../data/storage';

export interface Interrupted {
  id: string;
  kind: 'audio' | 'video';
  mimeType: string;
  /** When it started, if known. */
  startedAt: number | null;
  /** The address of the form it was recorded on. */
  address: string;
  /** How long it got, as far as its pieces were stored. */
  seconds: number;
  size: number;
}

// Pieces stored by a version of the app that kept no note of them are offered back too, onto
// a new lecture's form.
const UNNOTED_ADDRESS = '#/lecture/new';
// A note with no piece is a recording that never stored one; past this age it is not one
// still starting in another tab, and goes.
const STARTING_MS = 60_000;

/** The recordings cut off before they were stopped, oldest first. */
export async function interruptedRecordings(storage: Storage): Promise<Interrupted[]> {
  const { started, withPieces } = await storage.recordings();
  const found: Interrupted[] = [];
  for (const note of started) {
    if (!withPieces.has(note.id)) {
      if (note.startedAt < Date.now() - STARTING_MS) await storage.endRecording(note.id);
      continue;
    }
    const size = sizeOf(await storage.pieces(note.id));
    const seconds = note.recordedMs > 0 ? note.recordedMs / 1000 : size / bytesPerSecond(note.kind);
    found.push({ ...note, seconds: Math.max(1, Math.round(seconds)), size });
  }
  for (const id of withPieces) {
    if (started.some((note) => note.id === id)) continue;
    const pieces = await storage.pieces(id);
    const mimeType = pieces.find((piece) => piece.type)?.type ?? 'video/webm';
    const kind = mimeType.startsWith('audio/') ? 'audio' : 'video';
    const size = sizeOf(pieces);
    found.push({ id, kind, mimeType, startedAt: null, address: UNNOTED_ADDRESS, seconds: Math.max(1, Math.round(size / bytesPerSecond(kind))), size });
  }
  return found.sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0));
}

const carried: { address: string; media: MediaRef }[] = [];

/**
 * Keeps an interrupted recording as one file (throwing `NoRoom`, with nothing changed, if the
 * phone cannot hold it), drops its pieces, and opens the form it was recorded on, which finds
 * the file attached.
 */
export async function keepInterrupted(storage: Storage, recording: Interrupted): Promise<void> {
  const whole = new Blob(await storage.pieces(recording.id), { type: recording.mimeType });
  const media = await keep(storage, whole, recording.seconds * 1000);
  await storage.endRecording(recording.id);
  const address = /^#\/./.test(recording.address) ? recording.address : UNNOTED_ADDRESS;
  carried.push({ address, media });
  location.hash = address;
}

/** Drops an interrupted recording: its pieces and its note. */
export async function dropInterrupted(storage: Storage, recording: Interrupted): Promise<void> {
  await storage.endRecording(recording.id);
}

/** Takes the kept recordings carried to the form at `address` (`location.hash`). */
export function takeRecovered(address: string): MediaRef[] {
  const taken: MediaRef[] = [];
  for (let i = carried.length - 1; i >= 0; i--) {
    if (carried[i].address !== address) continue;
    taken.unshift(carried[i].media);
    carried.splice(i, 1);
  }
  return taken;
}

function sizeOf(pieces: Blob[]): number {
  return pieces.reduce((total, piece) => total + piece.size, 0);
}
