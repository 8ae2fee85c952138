// The person's display preferences, kept in this browser.
import { signal } from './signal';

export const largeText = signal(localStorage.getItem('largeText') === '1');
largeText.subscribe(() => {
  localStorage.setItem('largeText', largeText.get() ? '1' : '0');
  document.documentElement.classList.toggle('large', largeText.get());
});
document.documentElement.classList.toggle('large', largeText.get());

/** After how many days without contact a migrant member is shown as a reminder (the secretary
 * chooses; 30 unless changed). */
export const reminderDays = signal(Number(localStorage.getItem('reminderDays')) || 30);
reminderDays.subscribe(() => {
  localStorage.setItem('reminderDays', String(reminderDays.get()));
});
