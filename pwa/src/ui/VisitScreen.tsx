// Recording a visit: first how it was made (走访, 家访, 函访, 谈心谈话, 送学上门), one big button
// each, 走访 until another is tapped; then which household or member (for 送学上门 and 家访 the branch's old, infirm and
// silver-haired members are offered to pick), and what they needed or what problems were
// found; when, who went and what will be done about it are folded away, their values shown.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import { VISIT_KINDS, type Keyed, type LedgerEntry, type MediaRef, type VisitKind } from '../data/model';
import { t } from './i18n';
import { ApprovedGuard, FormActions, FormHeader, MediaField, MoreFields, PeopleChecklist, TimeField, currentRoster, useRecord, whenShown } from './RecordForm';

export interface Visit {
  kind: VisitKind;
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
  const [visit, setVisit] = useState<Visit>(() => (stored ? { ...stored, kind: stored.kind ?? 'walk' } : blank(me?.principal.user ?? '')));
  useEffect(clearStatus, [visit]);
  if (!me || !notebook) return <main class="screen">{words.signInAgain}</main>;
  const set = <K extends keyof Visit>(key: K, value: Visit[K]) => setVisit({ ...visit, [key]: value });
  const toMember = visit.kind === 'study_delivery' || visit.kind === 'home_visit';
  const older = toMember ? olderMembers(app) : [];

  return (
    <main class="screen form visit">
      <FormHeader app={app} title={words.recordVisit} notebook={notebook} recordId={recordId} />
      <ApprovedGuard app={app} notebook={notebook} recordId={recordId} kind="visit">
        <fieldset class="kind-choice">
          <legend>{words.visitKind}</legend>
          {VISIT_KINDS.map((kind) => (
            <button key={kind} name={`kind-${kind}`} class={visit.kind === kind ? 'primary' : ''} aria-pressed={visit.kind === kind} onClick={() => set('kind', kind)}>
              {words.visitKinds[kind]}
              <small>{words.visitKindHints[kind]}</small>
            </button>
          ))}
        </fieldset>
        {older.length > 0 && (
          <fieldset class="pick-member">
            <legend>{words.pickOlder}</legend>
            <div class="row wrap">
              {older.map((name) => (
                <button key={name} name="pick-household" class={visit.household === name ? 'primary' : ''} aria-pressed={visit.household === name} onClick={() => set('household', name)}>
                  {name}
                </button>
              ))}
            </div>
          </fieldset>
        )}
        <label>
          {toMember ? words.memberVisited : words.household}
          {older.length > 0 && <small> {words.orTypeName}</small>}
          <input name="household" value={visit.household} onInput={(e) => set('household', e.currentTarget.value)} />
        </label>
        <label>
          {words.needs}
          <textarea name="needs" rows={3} value={visit.needs} onInput={(e) => set('needs', e.currentTarget.value)} />
        </label>
        <MediaField app={app} media={visit.media} onChange={(change) => setVisit((current) => ({ ...current, media: change(current.media) }))} />
        <MoreFields shown={[whenShown(visit.visited_at), words.visitorsShown(visit.visitors.length)]}>
          <TimeField name="visited_at" value={visit.visited_at} onChange={(at) => set('visited_at', at)} />
          <PeopleChecklist legend={words.visitors} roster={roster} chosen={visit.visitors} onChange={(chosen) => set('visitors', chosen)} />
          <label>
            {words.followUp}
            <textarea name="follow_up" rows={2} value={visit.follow_up} onInput={(e) => set('follow_up', e.currentTarget.value)} />
          </label>
        </MoreFields>
        <FormActions status={status} busy={busy} onSave={(submit) => save(visit, submit)} onWithdraw={withdraw} />
      </ApprovedGuard>
    </main>
  );
}

/** The names of the branch's old, infirm and silver-haired members: the roster's silver for
 * everyone, and for an admin, who holds the ledger, its elderly and infirm flags too. */
function olderMembers(app: App): string[] {
  const ledger = app.me?.documents.find((d) => d.kind === 'ledger' && d.branch === app.me?.principal.branch)?.url;
  const flagged = new Set<string>();
  if (ledger && app.core.holds(ledger)) {
    for (const { id, record } of app.core.records(ledger, 'entries') as Keyed<LedgerEntry>[]) {
      if (!record.withdrawn && (record.elderly || record.infirm)) flagged.add(id);
    }
  }
  return currentRoster(app)
    .filter((r) => r.id !== app.me?.principal.user && (r.record.silver || flagged.has(r.id)))
    .map((r) => r.record.name);
}

function blank(user: string): Visit {
  const now = Date.now();
  return {
    kind: 'walk',
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
