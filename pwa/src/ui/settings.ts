// The person's display preferences, kept in this browser.
import { signal } from './signal';

export const largeText = signal(localStorage.getItem('largeText') === '1');
largeText.subscribe(() => {
  localStorage.setItem('largeText', largeText.get() ? '1' : '0');
  document.documentElement.classList.toggle('large', largeText.get());
});
document.documentElement.classList.toggle('large', largeText.get());
