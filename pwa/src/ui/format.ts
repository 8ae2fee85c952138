// How times and sizes are shown. Times are China Standard Time, whatever the phone's zone.
const CST_MS = 8 * 3_600_000;

/** `YYYY-MM` of the month `at` falls in, in China. */
export function chinaMonth(at: number): string {
  return new Date(at + CST_MS).toISOString().slice(0, 7);
}

/** `YYYY-MM-DD HH:MM` in China. */
export function formatDate(at: number): string {
  return new Date(at + CST_MS).toISOString().slice(0, 16).replace('T', ' ');
}

/** The value of a `datetime-local` input showing `at` in China. */
export function toLocalInput(at: number): string {
  return new Date(at + CST_MS).toISOString().slice(0, 16);
}

/** The instant a `datetime-local` input's value means, read as China time. */
export function fromLocalInput(value: string): number {
  return Date.parse(`${value}:00.000Z`) - CST_MS;
}

/** A file size as people read it: 850 KB, 12.3 MB. */
export function formatSize(bytes: number): string {
  if (bytes === 0) return '0 KB';
  if (bytes < 1_000_000) return `${Math.max(1, Math.round(bytes / 1_000))} KB`;
  if (bytes < 1_000_000_000) return `${(bytes / 1_000_000).toFixed(1)} MB`;
  return `${(bytes / 1_000_000_000).toFixed(1)} GB`;
}

/** A figure as a table shows it: whole numbers as they are, others to one decimal. */
export function formatFigure(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** `YYYY-MM-DD` of the day `at` falls on, in China. */
export function chinaDay(at: number): string {
  return new Date(at + CST_MS).toISOString().slice(0, 10);
}

/** The first instant of `month` (`YYYY-MM`) in China, and of the month or year after it. */
export function chinaMonthStart(month: string): number {
  const [year, number] = month.split('-').map(Number);
  return Date.UTC(year, number - 1, 1) - CST_MS;
}
