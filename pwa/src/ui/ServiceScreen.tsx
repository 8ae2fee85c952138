// Recording volunteer service (志愿服务, the 实践 of the monthly plan): what kind, how long
// each participant served, who took part from the roster (all in one tap), and how many were
// served; when, where, the plan and notes are folded away with their values on the fold.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { MediaRef } from '../data/model';
import { chinaMonth } from './format';
import { t } from './i18n';
import { ApprovedGuard, FormActions, FormHeader, MediaField, MoreFields, PeopleChecklist, PlanLink, TimeField, currentRoster, monthPlan, useRecord, whenShown } from './RecordForm';

export const SERVICE_KINDS = ['patrol', 'sanitation', 'clinic', 'elderly_care', 'emergency', 'other'] as const;

export interface Service {
  kind: (typeof SERVICE_KINDS)[number];
  title: string;
  held_at: number;
  hours: number;
  participants: string[];
  beneficiaries: number;
  place: string;
  notes: string;
  media: MediaRef[];
  plan: string | null;
  recorded_by: string;
  submission: { state: 'draft' | 'submitted'; revision: number; submitted_at: number | null };
  created_at: number;
  withdrawn: null;
}

/** `id` is a service's id, `new`, or `new-plan` for the month's planned practice. */
export function ServiceScreen({ app, id }: { app: App; id: string }) {
  const words = t();
  const me = app.me;
  const roster = currentRoster(app);
  const { notebook, recordId, stored, status, busy, save, withdraw, clearStatus } = useRecord<Service>(app, 'service', id);
  const [service, setService] = useState<Service>(() => stored ?? fresh(app, id));
  useEffect(clearStatus, [service]);
  if (!me || !notebook) return <main class="screen">{words.signInAgain}</main>;
  const set = <K extends keyof Service>(key: K, value: Service[K]) => setService({ ...service, [key]: value });
  const number = (value: string) => Math.max(0, Number(value) || 0);

  return (
    <main class="screen form service">
      <FormHeader app={app} title={words.recordService} notebook={notebook} recordId={recordId} />
      <ApprovedGuard app={app} notebook={notebook} recordId={recordId} kind="service">
        <label>
          {words.serviceKind}
          <select name="kind" value={service.kind} onChange={(e) => set('kind', e.currentTarget.value as Service['kind'])}>
            {SERVICE_KINDS.map((k) => (
              <option value={k}>{words.serviceKinds[k]}</option>
            ))}
          </select>
        </label>
        <label>
          {words.title}
          <input name="title" value={service.title} onInput={(e) => set('title', e.currentTarget.value)} />
        </label>
        <label>
          {words.hours}
          <input name="hours" type="number" inputMode="decimal" min="0" step="0.5" value={service.hours} onInput={(e) => set('hours', number(e.currentTarget.value))} />
        </label>
        <PeopleChecklist legend={words.participants} roster={roster} chosen={service.participants} everyone={words.allTookPart} onChange={(chosen) => set('participants', chosen)} />
        <label>
          {words.beneficiaries}
          <input
            name="beneficiaries"
            type="number"
            inputMode="numeric"
            min="0"
            value={service.beneficiaries}
            onInput={(e) => set('beneficiaries', Math.trunc(number(e.currentTarget.value)))}
          />
        </label>
        <MediaField app={app} media={service.media} onChange={(change) => setService((current) => ({ ...current, media: change(current.media) }))} />
        <MoreFields shown={[whenShown(service.held_at), service.place, service.plan ? words.inPlan : '']}>
          <TimeField name="held_at" value={service.held_at} onChange={(at) => set('held_at', at)} />
          <label>
            {words.place}
            <input name="place" value={service.place} onInput={(e) => set('place', e.currentTarget.value)} />
          </label>
          <PlanLink app={app} at={service.held_at} value={service.plan} label={words.countsForPlanPractice} onChange={(month) => set('plan', month)} />
          <label>
            {words.notes}
            <textarea name="notes" rows={3} value={service.notes} onInput={(e) => set('notes', e.currentTarget.value)} />
          </label>
        </MoreFields>
        <FormActions status={status} busy={busy} onSave={(submit) => save(service, submit)} onWithdraw={withdraw} />
      </ApprovedGuard>
    </main>
  );
}

/** A new service; for `new-plan`, the month's planned practice as its title. */
function fresh(app: App, id: string): Service {
  const service = blank(app.me?.principal.user ?? '');
  const plan = id === 'new-plan' ? monthPlan(app, service.plan ?? '') : undefined;
  return plan ? { ...service, title: plan.practice } : service;
}

function blank(user: string): Service {
  const now = Date.now();
  return {
    kind: 'patrol',
    title: '',
    held_at: now,
    hours: 2,
    participants: user ? [user] : [],
    beneficiaries: 0,
    place: '',
    notes: '',
    media: [],
    plan: chinaMonth(now),
    recorded_by: user,
    submission: { state: 'draft', revision: 0, submitted_at: null },
    created_at: now,
    withdrawn: null,
  };
}
