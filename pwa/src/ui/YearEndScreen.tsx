// A branch's year-end assessment material (年终考核材料), on one printable page: the year's
// figures, each month's plan (一课一片一实践 and the themed party day), its rectifications,
// and the township's supervision notes, problem list and assessment. The server gathers it;
// the print button hands it to the browser's print (to paper or PDF), which the print styles
// lay out without the app around it.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import { formatFigure } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { SHOWN, type Figures } from './StatisticsScreen';

interface MonthPlan {
  month: string;
  planned: boolean;
  lecture_done: boolean;
  film_done: boolean;
  practice_done: boolean;
  theme_day_held: boolean;
  complete: boolean;
}

interface Table {
  title: string;
  headers: string[];
  rows: (string | number | null)[][];
}

interface YearEnd {
  name: string;
  year: number;
  figures: Figures;
  plans: MonthPlan[];
  tables: Table[];
}

export function YearEndScreen({ app, branch, year }: { app: App; branch: string; year: string }) {
  const words = t();
  const [material, setMaterial] = useState<YearEnd | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    app.api<YearEnd>('GET', `/api/v1/statistics/year-end?branch=${branch}&year=${year}`).then(setMaterial, (failure) => setError(explain(failure)));
  }, [branch, year]);
  return (
    <main class="screen year-end">
      <div class="row no-print">
        <button class="link" onClick={() => go('statistics')}>
          ← {words.back}
        </button>
        <button onClick={() => go(`supervision/${branch}`)}>{words.supervision}</button>
        <button class="primary" onClick={() => window.print()} disabled={!material}>
          {words.print}
        </button>
      </div>
      {error && <p class="notice">{error}</p>}
      {material && (
        <article>
          <h1>{words.yearEndTitle(material.name, material.year)}</h1>
          <section>
            <h2>{words.yearFigures}</h2>
            <dl class="figure-grid">
              {[...SHOWN, 'member_attendances', 'villagers', 'services', 'volunteer_participants', 'migrant_submissions', 'members_pledged'].map((figure) => (
                <div key={figure}>
                  <dt>{words.figures[figure]}</dt>
                  <dd data-figure={figure}>{formatFigure(material.figures[figure as keyof Figures] as number)}</dd>
                </div>
              ))}
            </dl>
          </section>
          <section>
            <h2>{words.monthlyPlans}</h2>
            <table class="ledger">
              <thead>
                <tr>
                  <th>{words.month}</th>
                  <th>课</th>
                  <th>片</th>
                  <th>实践</th>
                  <th>{words.themeDayShort}</th>
                </tr>
              </thead>
              <tbody>
                {material.plans.map((plan) => (
                  <tr key={plan.month}>
                    <th>{plan.month}</th>
                    {plan.planned ? (
                      [plan.lecture_done, plan.film_done, plan.practice_done, plan.theme_day_held].map((done, index) => (
                        <td key={index} class={done ? 'done' : 'not-done'}>
                          {done ? '✓' : '✗'}
                        </td>
                      ))
                    ) : (
                      <td colSpan={4} class="not-planned">
                        {words.notPlanned}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          {material.tables.map((table) => (
            <section key={table.title}>
              <h2>{table.title}</h2>
              {table.rows.length === 0 ? (
                <p class="quiet">{words.noRecords}</p>
              ) : (
                <table class="ledger">
                  <thead>
                    <tr>
                      {table.headers.slice(1).map((header) => (
                        <th key={header}>{header}</th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {table.rows.map((row, index) => (
                      <tr key={index}>
                        {row.slice(1).map((cell, column) => (
                          <td key={column}>{cell ?? ''}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          ))}
        </article>
      )}
    </main>
  );
}

