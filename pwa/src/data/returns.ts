// The person's work after the server refused changes to a document (client-core's
// `recovery`): the quarantine is kept before anything else and given back to client-core
// until it says the recovery is done, on every start; records that could not be put back are
// kept as returned items until the person decides what becomes of them.
import type { Storage } from './storage';

const QUARANTINE = 'quarantine:';
const RETURNED = 'returned:';

/** What client-core keeps of a refused document (`recovery::Quarantine`). */
export interface Quarantine {
  document: string;
  saved: Uint8Array | number[];
  rule: string;
  message: string;
  heads: string[];
  refused: string[];
}

/** A record that came back (`recovery::Returned`). */
export interface ReturnedItem {
  document: string;
  collection: string;
  key: string;
  record: Record<string, unknown>;
  rule: string;
  message: string;
  refused_for: string;
}

export function returnedKey(item: { document: string; collection: string; key: string }): string {
  return `${RETURNED}${item.document}/${item.collection}/${item.key}`;
}

export async function keepQuarantine(storage: Storage, quarantine: Quarantine): Promise<void> {
  await storage.setSetting(QUARANTINE + quarantine.document, quarantine);
}

export async function dropQuarantine(storage: Storage, document: string): Promise<void> {
  await storage.dropSetting(QUARANTINE + document);
}

export async function quarantines(storage: Storage): Promise<Quarantine[]> {
  return [...(await storage.settingsStartingWith<Quarantine>(QUARANTINE)).values()];
}

/** Kept by document, collection and key: the same item coming again replaces itself. */
export async function keepReturned(storage: Storage, item: ReturnedItem): Promise<void> {
  await storage.setSetting(returnedKey(item), item);
}

export async function returnedItems(storage: Storage): Promise<ReturnedItem[]> {
  return [...(await storage.settingsStartingWith<ReturnedItem>(RETURNED)).values()];
}

/** The person chose: the item goes. */
export async function discardReturned(storage: Storage, item: ReturnedItem): Promise<void> {
  await storage.dropSetting(returnedKey(item));
}
