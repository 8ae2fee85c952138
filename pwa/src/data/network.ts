// What the browser says of the connection: Android's Chrome tells Wi-Fi from mobile data.
export type Network = 'offline' | 'metered' | 'unmetered';

export function network(): Network {
  if (!navigator.onLine) return 'offline';
  const connection = (navigator as { connection?: { type?: string; saveData?: boolean } }).connection;
  if (connection?.saveData || connection?.type === 'cellular') return 'metered';
  return 'unmetered';
}

/** Whether a file waits for Wi-Fi now: the person chose to send it only there, and the phone
 * is on mobile data. The status line and a record's media say it the same way. */
export function waitsForWifi(file: { unmetered_only: boolean; done: boolean; refused: string | null }): boolean {
  return file.unmetered_only && !file.done && !file.refused && network() === 'metered';
}
