// The month's plan (一月一课一片一实践): first the checklist of what has been carried out, with
// a button to record each part not yet done; then, for the secretary, the plan itself: the
// lecture and its speaker, the film, the practice and the themed party day. Two secretaries
// may edit it offline on two phones; what each changed is kept when they meet.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { Keyed, Plan, RosterEntry } from '../data/model';
import { chinaMonth } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { PlanChecklist, planProgress } from './PlanChecklist';
import { MemberSelect, SaveStatus } from './RecordForm';

export function PlanScreen({ app }: { app: App }) {
  const words = t();
  const me = app.me;
  const branch = app.branchDocument();
  const month = chinaMonth(Date.now());
  const progress = planProgress(app, month);
  const stored =
    branch && app.core.holds(branch)
      ? (app.core.records(branch, 'plans') as Keyed<Plan>[]).find((p) => p.id === month)?.record
      : undefined;
  const [plan, setPlan] = useState<Plan>(
    () =>
      stored ?? {
        lecture_topic: '',
        lecture_speaker: null,
        film_title: '',
        practice: '',
        theme_day: null,
        notes: '',
        created_by: me?.principal.user ?? '',
        created_at: Date.now(),
        withdrawn: null,
      },
  );
  const [status, setStatus] = useState<{ saved?: boolean; error?: string }>({});
  // Only what this person changed is written, onto the plan as it is now: a field another
  // secretary changed meanwhile (synced while this screen was open) is not put back.
  const [edited, setEdited] = useState<Set<keyof Plan>>(new Set());
  if (!me || !branch) return <main class="screen quiet">{words.notOnPhone}</main>;
  const checklist = (
    <section class="card plan">
      <h2>{words.planChecklist}</h2>
      {progress ? <PlanChecklist app={app} progress={progress} actions /> : <p class="quiet">{words.noPlanYet}</p>}
      <button name="open-schedule" class="link" onClick={() => go('schedule')}>
        {words.lectureSchedule} ›
      </button>
    </section>
  );
  // Members see how the month stands and record their part; the plan is the secretary's.
  if (me.principal.role !== 'branch_admin') {
    return (
      <main class="screen plan-editor">
        <button class="link" onClick={() => go('')}>
          ← {words.back}
        </button>
        <h1>
          {words.thisMonth} <small>{month}</small>
        </h1>
        {checklist}
      </main>
    );
  }
  const roster = app.core.holds(branch) ? (app.core.records(branch, 'roster') as Keyed<RosterEntry>[]) : [];
  const set = <K extends keyof Plan>(key: K, value: Plan[K]) => {
    setPlan({ ...plan, [key]: value });
    setEdited(new Set(edited).add(key));
    setStatus({});
  };

  const save = async () => {
    try {
      await app.edit(branch, (core) => {
        const now = (core.records(branch, 'plans') as Keyed<Plan>[]).find((p) => p.id === month)?.record;
        const merged: Plan = { ...(now ?? plan) };
        for (const key of edited) (merged as unknown as Record<string, unknown>)[key] = plan[key];
        core.setPlan(branch, me.principal, Date.now(), month, merged);
      });
      setStatus({ saved: true });
    } catch (error) {
      setStatus({ error: words.notSaved + explain(error) });
    }
  };

  return (
    <main class="screen form plan-editor">
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>
        {words.monthlyPlan} <small>{month}</small>
      </h1>
      {checklist}
      <h2>{words.planContent}</h2>
      <label>
        {words.planLecture}
        <input name="lecture_topic" value={plan.lecture_topic} onInput={(e) => set('lecture_topic', e.currentTarget.value)} />
      </label>
      <MemberSelect name="lecture_speaker" label={words.speaker} roster={roster} value={plan.lecture_speaker} onChange={(member) => set('lecture_speaker', member)} />
      <label>
        {words.planFilm}
        <input name="film_title" value={plan.film_title} onInput={(e) => set('film_title', e.currentTarget.value)} />
      </label>
      <label>
        {words.planPractice}
        <input name="practice" value={plan.practice} onInput={(e) => set('practice', e.currentTarget.value)} />
      </label>
      <label>
        {words.themeDay}
        <input
          name="theme_day"
          type="date"
          value={plan.theme_day ?? ''}
          onInput={(e) => set('theme_day', e.currentTarget.value || null)}
        />
      </label>
      <label>
        {words.notes}
        <textarea name="notes" rows={3} value={plan.notes} onInput={(e) => set('notes', e.currentTarget.value)} />
      </label>
      <SaveStatus status={status} />
      <button name="save" class="primary big" onClick={save}>
        {words.save}
      </button>
    </main>
  );
}
