// What the browser says of the connection: Android's Chrome tells Wi-Fi from mobile data.
export type Network = 'offline' | 'metered' | 'unmetered';

export function network(): Network {
  if (!navigator.onLine) return 'offline';
  const connection = (navigator as { connection?: { type?: string; saveData?: boolean } }).connection;
  if (connection?.saveData || connection?.type === 'cellular') return 'metered';
  return 'unmetered';
}
