// A figure month by month, as bars: plain SVG, so it costs the app nothing to download and
// prints as sharply as the text around it.
import { formatFigure } from './format';
import { t } from './i18n';
import type { MonthFigures, Shown } from './StatisticsScreen';

const WIDTH = 600;
const HEIGHT = 240;
const BOTTOM = 28;
const TOP = 24;

export function TrendChart({ months, figure, label }: { months: MonthFigures[]; figure: Shown; label: string }) {
  const words = t();
  const values = months.map((m) => m[figure]);
  const highest = Math.max(1, ...values);
  const slot = WIDTH / months.length;
  const bar = slot * 0.6;
  const scale = (HEIGHT - BOTTOM - TOP) / highest;
  return (
    <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label} data-figure={figure}>
      <line x1="0" x2={WIDTH} y1={HEIGHT - BOTTOM} y2={HEIGHT - BOTTOM} class="axis" />
      {months.map((month, index) => {
        const value = values[index];
        const height = value * scale;
        const x = index * slot + (slot - bar) / 2;
        const y = HEIGHT - BOTTOM - height;
        return (
          <g key={month.month} data-month={month.month} data-value={value}>
            <rect x={x} y={y} width={bar} height={height} class="bar" />
            <text x={x + bar / 2} y={y - 4} class="value">
              {value > 0 ? formatFigure(value) : ''}
            </text>
            <text x={x + bar / 2} y={HEIGHT - 6} class="month">
              {words.monthShort(Number(month.month.slice(5)))}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
