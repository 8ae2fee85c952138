// Recording a household visit (走访 / 联系户): which household, who went, what they needed or
// what problems were found, and what will be done about it.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { MediaRef } from '../data/model';
import { t } from './i18n';
import { ApprovedGuard, FormActions, FormHeader, MediaField, PeopleChecklist, TimeField, currentRoster, useRecord } from './RecordForm';

export interface Visit {
  household: string;
  visitors: string[];
  visited_at: number;
  needs: string;
  follow_up: string;
  media: MediaRef[];
  recorded_by: string;
  submission: { state: 'draft' | 'submitted'; revision: number; submitted_at: number | null };
  created_at: number;
  withdrawn: null;
}

export function VisitScreen({ app, id }: { app: App; id: string }) {
  const words = t();
  const me = app.me;
  const roster = currentRoster(app);
  const { notebook, recordId, stored, status, busy, save, withdraw, clearStatus } = useRecord<Visit>(app, 'visit', id);
  const [visit, setVisit] = useState<Visit>(() => stored ?? blank(me?.principal.user ?? ''));
  useEffect(clearStatus, [visit]);
  if (!me || !notebook) return <main class="screen">{words.signInAgain}</main>;
  const set = <K extends keyof Visit>(key: K, value: Visit[K]) => setVisit({ ...visit, [key]: value });

  return (
    <main class="screen form visit">
      <FormHeader app={app} title={words.recordVisit} notebook={notebook} recordId={recordId} />
      <ApprovedGuard app={app} notebook={notebook} recordId={recordId}>
        <label>
          {words.household}
          <input name="household" value={visit.household} onInput={(e) => set('household', e.currentTarget.value)} />
        </label>
        <TimeField name="visited_at" value={visit.visited_at} onChange={(at) => set('visited_at', at)} />
        <PeopleChecklist legend={words.visitors} roster={roster} chosen={visit.visitors} onChange={(chosen) => set('visitors', chosen)} />
        <label>
          {words.needs}
          <textarea name="needs" rows={3} value={visit.needs} onInput={(e) => set('needs', e.currentTarget.value)} />
        </label>
        <label>
          {words.followUp}
          <textarea name="follow_up" rows={2} value={visit.follow_up} onInput={(e) => set('follow_up', e.currentTarget.value)} />
        </label>
        <MediaField app={app} media={visit.media} onChange={(change) => setVisit((current) => ({ ...current, media: change(current.media) }))} />
        <FormActions status={status} busy={busy} onSave={(submit) => save(visit, submit)} onWithdraw={withdraw} />
      </ApprovedGuard>
    </main>
  );
}

function blank(user: string): Visit {
  const now = Date.now();
  return {
    household: '',
    visitors: user ? [user] : [],
    visited_at: now,
    needs: '',
    follow_up: '',
    media: [],
    recorded_by: user,
    submission: { state: 'draft', revision: 0, submitted_at: null },
    created_at: now,
    withdrawn: null,
  };
}
