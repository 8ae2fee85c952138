// Film screenings (一片 of the monthly plan): the secretary records one in the village office,
// often offline, with the film (the month's planned film to start from), when and where, the
// members present from the roster, how many villagers came, what was said afterwards and
// photos; linked to the month's plan, it carries out the plan's film. Every member reads them;
// only admins record, change or withdraw one.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { Keyed, Screening } from '../data/model';
import { chinaMonth, formatDate } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { MediaList } from './MediaList';
import { CountField, MediaField, PeopleChecklist, PlanLink, SaveStatus, TimeField, currentRoster, monthPlan } from './RecordForm';
import { rosterNames } from './ReviewScreen';

/** `id` is a screening's id, `new`, or null for the list. */
export function ScreeningScreen({ app, id }: { app: App; id: string | null }) {
  const words = t();
  const branch = app.branchDocument();
  const admin = app.me?.principal.role === 'branch_admin';
  const [editing, setEditing] = useState(false);
  if (!branch || !app.core.holds(branch)) return <main class="screen">{words.notOnPhone}</main>;
  const screenings = (app.core.records(branch, 'screenings') as Keyed<Screening>[]).filter((s) => !s.record.withdrawn);
  const back = (to: string) => (
    <button class="link" onClick={() => go(to)}>
      ← {words.back}
    </button>
  );

  if (id === 'new' && admin) {
    return (
      <main class="screen form screening">
        {back('screenings')}
        <h1>{words.recordScreening}</h1>
        <ScreeningForm app={app} branch={branch} id={null} initial={blank(app)} />
      </main>
    );
  }
  if (id) {
    const found = screenings.find((s) => s.id === id);
    if (!found) {
      return (
        <main class="screen screening">
          {back('screenings')}
          <p class="quiet">{words.notOnPhone}</p>
        </main>
      );
    }
    return (
      <main class="screen screening">
        {back('screenings')}
        {editing ? (
          <>
            <h1>{words.edit}</h1>
            <ScreeningForm app={app} branch={branch} id={id} initial={found.record} onDone={() => setEditing(false)} />
          </>
        ) : (
          <ScreeningDetails app={app} branch={branch} id={id} screening={found.record} admin={admin} onEdit={() => setEditing(true)} />
        )}
      </main>
    );
  }

  screenings.sort((a, b) => b.record.held_at - a.record.held_at);
  return (
    <main class="screen screenings">
      {back('')}
      <h1>{words.screenings}</h1>
      {admin && (
        <button name="new-screening" class="primary" onClick={() => go('screenings/new')}>
          {words.recordScreening}
        </button>
      )}
      {screenings.length === 0 && <p class="quiet">{words.noScreenings}</p>}
      <ul class="records">
        {screenings.map(({ id, record }) => (
          <li key={id} data-film={record.film}>
            <button class="record" onClick={() => go(`screenings/${id}`)}>
              <span class="title">{record.film}</span>
              <span class="meta">
                {formatDate(record.held_at)} · {record.place} · {words.attended(record.attendees.length)} · {words.audience} {record.audience}
                {record.plan && ` · ${words.planParts.film}`}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </main>
  );
}

function ScreeningDetails({ app, branch, id, screening, admin, onEdit }: { app: App; branch: string; id: string; screening: Screening; admin: boolean; onEdit: () => void }) {
  const words = t();
  const [error, setError] = useState('');
  const names = rosterNames(app, branch);
  const withdraw = async () => {
    const me = app.me;
    if (!me || !confirm(words.withdrawConfirm)) return;
    try {
      await app.edit(branch, (core) => core.withdraw(branch, me.principal, Date.now(), 'screenings', id, null));
      go('screenings');
    } catch (failure) {
      setError(explain(failure));
    }
  };
  return (
    <article class="screening-details">
      <h1>{screening.film}</h1>
      <p class="meta">
        {formatDate(screening.held_at)} · {screening.place}
        {screening.plan && ` · ${words.planParts.film} ${screening.plan}`}
      </p>
      <p>
        {words.attended(screening.attendees.length)}: {screening.attendees.map((a) => names.get(a) ?? '').join('、')}
      </p>
      <p>
        {words.audience} {screening.audience}
      </p>
      {screening.discussion && <p class="summary">{screening.discussion}</p>}
      <MediaList app={app} media={screening.media} />
      {error && <p class="error">{error}</p>}
      {admin && (
        <div class="row actions">
          <button name="edit" onClick={onEdit}>
            {words.edit}
          </button>
          <button name="withdraw" onClick={withdraw}>
            {words.withdraw}
          </button>
        </div>
      )}
    </article>
  );
}

/** Records a new screening (`id` null) or changes one; "saved" only once stored here. */
function ScreeningForm({ app, branch, id, initial, onDone }: { app: App; branch: string; id: string | null; initial: Screening; onDone?: () => void }) {
  const words = t();
  const roster = currentRoster(app);
  const [screening, setScreening] = useState<Screening>(initial);
  const [status, setStatus] = useState<{ saved?: boolean; error?: string }>({});
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof Screening>(key: K, value: Screening[K]) => {
    setScreening((current) => ({ ...current, [key]: value }));
    setStatus({});
  };
  const save = async () => {
    const me = app.me;
    if (!me) return;
    setBusy(true);
    try {
      const content = { ...screening, film: screening.film.trim() };
      if (id) {
        await app.edit(branch, (core) => core.update(branch, me.principal, Date.now(), 'screenings', id, content));
        setStatus({ saved: true });
        onDone?.();
      } else {
        const added = await app.add(branch, 'screenings', (by, now) => ({ ...content, recorded_by: by.user, created_at: now }));
        // To the screening as recorded, in place of the empty form (back goes to the list).
        location.replace(`#/screenings/${added}`);
      }
    } catch (failure) {
      setStatus({ error: words.notSaved + explain(failure) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <label>
        {words.film}
        <input name="film" value={screening.film} onInput={(e) => set('film', e.currentTarget.value)} />
      </label>
      <TimeField name="held_at" value={screening.held_at} onChange={(at) => set('held_at', at)} />
      <label>
        {words.place}
        <input name="place" value={screening.place} onInput={(e) => set('place', e.currentTarget.value)} />
      </label>
      <PlanLink app={app} at={screening.held_at} value={screening.plan} label={words.countsForPlanFilm} onChange={(month) => set('plan', month)} />
      <PeopleChecklist legend={words.attendance} roster={roster} chosen={screening.attendees} onChange={(chosen) => set('attendees', chosen)} />
      <CountField name="audience" label={words.audience} value={screening.audience} onChange={(n) => set('audience', n)} />
      <label>
        {words.discussion}
        <textarea name="discussion" rows={4} value={screening.discussion} onInput={(e) => set('discussion', e.currentTarget.value)} />
      </label>
      <MediaField app={app} media={screening.media} onChange={(change) => setScreening((current) => ({ ...current, media: change(current.media) }))} />
      <SaveStatus status={status} />
      <div class="row actions">
        {onDone && (
          <button disabled={busy} onClick={onDone}>
            {words.cancel}
          </button>
        )}
        <button name="save" class="primary" disabled={busy || !screening.film.trim()} onClick={save}>
          {words.save}
        </button>
      </div>
    </>
  );
}

/** A new screening of this month's planned film, linked to the plan when there is one. */
function blank(app: App): Screening {
  const now = Date.now();
  const month = chinaMonth(now);
  const plan = monthPlan(app, month);
  return {
    film: plan?.film_title ?? '',
    held_at: now,
    place: '',
    attendees: [],
    audience: 0,
    discussion: '',
    media: [],
    plan: plan ? month : null,
    recorded_by: app.me?.principal.user ?? '',
    created_at: now,
    withdrawn: null,
  };
}
