// The phone's storage: whether the browser keeps this app's data when space runs low, how much
// space is left, and the rules for what may be written into it. A cheap phone with full
// storage must refuse a recording or a file before it starts, not fail half-way through it.
import { recorderOptions } from '../capture/formats.js';
import type { Storage } from './storage';

const DATA_KEPT = 'dataKept';

/**
 * Asks the browser to keep this app's data when the phone runs out of space, unless it does
 * already; stores and returns the answer (null: this browser cannot be asked). Called at
 * sign-in and at each start while signed in: the browser may say no at first (Chromium
 * decides by how much the app is used; Firefox asks the person) and yes later.
 */
export async function askToKeepData(storage: Storage): Promise<boolean | null> {
  const manager = navigator.storage;
  if (!manager?.persist) return null;
  const kept = (await manager.persisted?.()) || (await manager.persist());
  await storage.setSetting(DATA_KEPT, kept);
  return kept;
}

/** The browser's last answer to `askToKeepData`, or null if it was never asked. */
export async function dataKept(storage: Storage): Promise<boolean | null> {
  return (await storage.setting<boolean>(DATA_KEPT)) ?? null;
}

export interface Space {
  /** What this app holds, in bytes. */
  used: number;
  /** What it may still write: the browser's quota less what it holds. */
  free: number;
}

/** Space as the browser reports it for this app, or null if it does not say. */
export async function space(): Promise<Space | null> {
  const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
  if (!estimate?.quota) return null;
  const used = estimate.usage ?? 0;
  return { used, free: Math.max(0, estimate.quota - used) };
}

/** Free space the browser reports for this app, in bytes, or null if it does not say. */
export async function freeSpace(): Promise<number | null> {
  return (await space())?.free ?? null;
}

// The rules, and why.
//
// - Whatever is written leaves HEADROOM free, so that records themselves (a few kilobytes a
//   change) can still be saved on a phone that media filled.
// - A recording needs room twice: its pieces go to IndexedDB as it records, and when it stops
//   they are joined into one file, kept, and only then dropped. So at its end a recording
//   takes about twice its size.
// - A recording is only started with room for the shortest one worth making,
//   SHORTEST_RECORDING_S at the recorder's bitrate (formats.js): twice that, and headroom.
//   Three minutes of video is about 19 MB, so starting one needs about 44 MB free.
// - While recording, it is stopped and kept once the space left would not hold the file
//   joined from what is recorded so far plus STOP_MARGIN_S more (what arrives while
//   stopping), and headroom.
// - Others' media is fetched for offline playing only while it leaves room to record.
const HEADROOM = 5_000_000;
export const SHORTEST_RECORDING_S = 3 * 60;
const STOP_MARGIN_S = 30;

/** What recording `kind` writes per second, by the recorder's own bitrates. */
export function bytesPerSecond(kind: 'audio' | 'video'): number {
  const options = recorderOptions(kind, () => true);
  return ((options?.videoBitsPerSecond ?? 0) + (options?.audioBitsPerSecond ?? 0)) / 8;
}

/** The free space a file of `size` bytes needs to be kept. */
export function roomToKeep(size: number): number {
  return size + HEADROOM;
}

/** The free space a recording of `kind` needs to start. */
export function roomToRecord(kind: 'audio' | 'video'): number {
  const shortest = SHORTEST_RECORDING_S * bytesPerSecond(kind);
  return shortest + roomToKeep(shortest);
}

/**
 * The free space fetching another's file of `size` bytes needs: it must leave room to record,
 * since the branch feed is only a copy of what the server holds and a recording is not.
 */
export function roomToMirror(size: number): number {
  return size + roomToRecord('video');
}

/** Whether a recording of `kind` with `recorded` bytes so far must stop while it can still be kept. */
export function mustStop(kind: 'audio' | 'video', recorded: number, free: number): boolean {
  return free < roomToKeep(recorded + STOP_MARGIN_S * bytesPerSecond(kind));
}

/** The phone has too little space for what was to be written; nothing was. */
export class NoRoom extends Error {
  readonly code = 'no_room';
  constructor(
    /** What was refused: a recording of a kind, or a file of a size. */
    readonly refused: { recording: 'audio' | 'video' } | { file: number },
    readonly free: number,
    readonly needed: number,
  ) {
    super(`no_room: ${free} bytes free, ${needed} needed`);
  }
}

/** Throws `NoRoom` unless the browser reports `needed` bytes free (or reports nothing). */
export async function ensureRoom(needed: number, refused: NoRoom['refused']): Promise<void> {
  const free = await freeSpace();
  if (free !== null && free < needed) throw new NoRoom(refused, free, needed);
}
