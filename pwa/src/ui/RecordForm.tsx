// What the forms for a member's records share: the people checklist from the roster, the
// media field (files, recording, what was kept), and saving as a draft or submitting, which
// says "saved" only once the record is stored on the phone.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import { keep } from '../data/media';
import type { Keyed, MediaRef, Plan, RosterEntry, SubmissionView } from '../data/model';
import { chinaDay, chinaMonth, formatDate, fromLocalInput, toLocalInput } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { MediaList } from './MediaList';
import { RecordDetails } from './RecordDetails';
import { Recorder, explainSpace } from './Recorder';
import { rosterNames } from './ReviewScreen';
import { ReviewNote } from './ReviewNote';

/** A whole number of people or minutes, never below zero, with the phone's number pad. */
export function CountField({ name, label, value, min = 0, onChange }: { name: string; label: string; value: number; min?: number; onChange: (n: number) => void }) {
  return (
    <label>
      {label}
      <input
        name={name}
        type="number"
        inputMode="numeric"
        min={String(min)}
        value={value}
        onInput={(e) => onChange(Math.max(0, Math.trunc(Number(e.currentTarget.value) || 0)))}
      />
    </label>
  );
}

/** One member of the roster, or nobody (—). */
export function MemberSelect({
  name,
  label,
  roster,
  value,
  onChange,
}: {
  name: string;
  label: string;
  roster: Keyed<RosterEntry>[];
  value: string | null;
  onChange: (member: string | null) => void;
}) {
  return (
    <label>
      {label}
      <select name={name} value={value ?? ''} onChange={(e) => onChange(e.currentTarget.value || null)}>
        <option value="">—</option>
        {roster.map((r) => (
          <option key={r.id} value={r.id}>
            {r.record.name}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The people on the branch roster now (not those who moved away). */
export function currentRoster(app: App): Keyed<RosterEntry>[] {
  const branch = app.branchDocument();
  if (!branch || !app.core.holds(branch)) return [];
  return (app.core.records(branch, 'roster') as Keyed<RosterEntry>[]).filter((r) => !r.record.left_at);
}

/** When something happened, entered and shown in China time: the day and the time as two
 * fields, which large type never clips (a single date-and-time field does, at 360 pixels). */
export function TimeField({ name, value, onChange }: { name: string; value: number; onChange: (at: number) => void }) {
  const words = t();
  const [day, time] = toLocalInput(value).split('T');
  return (
    <fieldset class="when">
      <legend>{words.heldAt}</legend>
      <label>
        {words.day}
        <input name={name} type="date" value={day} onInput={(e) => e.currentTarget.value && onChange(fromLocalInput(`${e.currentTarget.value}T${time}`))} />
      </label>
      <label>
        {words.timeOfDay}
        <input name={`${name}-time`} type="time" value={time} onInput={(e) => e.currentTarget.value && onChange(fromLocalInput(`${day}T${e.currentTarget.value}`))} />
      </label>
    </fieldset>
  );
}

/** What a form folds away: fields with good defaults that an old hand need not see to send a
 * complete record. The fold says what they hold now, so nothing is set behind anyone's back. */
export function MoreFields({ shown, children }: { shown: string[]; children: ComponentChildren }) {
  return (
    <details class="more">
      <summary>
        {t().more}
        <small>{shown.filter(Boolean).join(' · ')}</small>
      </summary>
      {children}
    </details>
  );
}

/** When a record was made, as its fold shows it: 今天 10:30, or the day. */
export function whenShown(at: number): string {
  const shown = formatDate(at);
  return chinaDay(at) === chinaDay(Date.now()) ? `${t().today} ${shown.slice(11)}` : shown;
}

/** The branch's plan for `month` (`YYYY-MM`), if it has one in force. */
export function monthPlan(app: App, month: string): Plan | undefined {
  const branch = app.branchDocument();
  if (!branch || !app.core.holds(branch)) return undefined;
  return (app.core.records(branch, 'plans') as Keyed<Plan>[]).find((p) => p.id === month && !p.record.withdrawn)?.record;
}

/** Whether the branch has a plan for `month` (`YYYY-MM`), which records can carry out. */
export function isPlanned(app: App, month: string): boolean {
  return monthPlan(app, month) !== undefined;
}

/** The month's plan this record carries out (一课 or 一实践), offered when the month has a
 * plan: linked, the record counts for it once approved. */
export function PlanLink({ app, at, value, label, onChange }: { app: App; at: number; value: string | null; label: string; onChange: (month: string | null) => void }) {
  const month = chinaMonth(at);
  if (!isPlanned(app, month) && !value) return null;
  return (
    <label class="check">
      <input type="checkbox" name="plan" checked={value === month} onChange={(e) => onChange(e.currentTarget.checked ? month : null)} />
      {label}
    </label>
  );
}

/**
 * Members of the roster who were there. With `everyone` (a lecture's attendance, a service's
 * participants), one big button ticks the whole roster and the list itself is folded, open
 * when someone wants to untick the few who were not there.
 */
export function PeopleChecklist({
  legend,
  roster,
  chosen,
  everyone,
  onChange,
}: {
  legend: string;
  roster: Keyed<RosterEntry>[];
  chosen: string[];
  everyone?: string;
  onChange: (chosen: string[]) => void;
}) {
  const words = t();
  const toggle = (user: string) => onChange(chosen.includes(user) ? chosen.filter((u) => u !== user) : [...chosen, user]);
  const all = roster.length > 0 && roster.every((r) => chosen.includes(r.id));
  const list = roster.map((r) => (
    <label class="check">
      <input type="checkbox" name="attendee" value={r.id} checked={chosen.includes(r.id)} onChange={() => toggle(r.id)} />
      {r.record.name}
    </label>
  ));
  return (
    <fieldset class="attendance">
      <legend>
        {legend} ({chosen.length})
      </legend>
      {everyone ? (
        <>
          <button
            type="button"
            name="all-present"
            class={all ? 'big primary' : 'big'}
            aria-pressed={all}
            onClick={() => onChange(all ? [] : roster.map((r) => r.id))}
          >
            {all ? `✓ ${everyone}` : everyone} ({roster.length})
          </button>
          <details class="one-by-one">
            <summary>{words.oneByOne}</summary>
            {list}
          </details>
        </>
      ) : (
        list
      )}
    </fieldset>
  );
}

/** Photos, audio and video for a record: recorded here or picked. A remote lesson (`video`)
 * is a video: it offers only that. */
export function MediaField({
  app,
  media,
  video = false,
  onChange,
}: {
  app: App;
  media: MediaRef[];
  video?: boolean;
  onChange: (change: (media: MediaRef[]) => MediaRef[]) => void;
}) {
  const words = t();
  const [refused, setRefused] = useState('');
  // A file the phone has no room for is refused before anything is written; those picked
  // before it are kept.
  const addFiles = async (files: FileList | null) => {
    if (!files) return;
    setRefused('');
    const added: MediaRef[] = [];
    try {
      for (const file of Array.from(files)) added.push(await keep(app.storage, file));
    } catch (error) {
      setRefused(explainSpace(error));
    }
    onChange((current) => [...current, ...added]);
  };
  return (
    <fieldset>
      <legend>{video ? words.video : words.media}</legend>
      <MediaList app={app} media={media} onRemove={(sha) => onChange((current) => current.filter((m) => m.sha256 !== sha))} />
      <Recorder app={app} video={video} onRecorded={(recorded) => onChange((current) => [...current, recorded])} />
      <div class="row wrap">
        {!video && (
          <label class="file">
            {words.addPhoto}
            <input name="photo" type="file" accept="image/*" capture="environment" multiple onChange={(e) => addFiles(e.currentTarget.files)} />
          </label>
        )}
        {!video && (
          <label class="file">
            {words.addAudio}
            <input name="audio" type="file" accept="audio/*" onChange={(e) => addFiles(e.currentTarget.files)} />
          </label>
        )}
        <label class="file">
          {words.addVideo}
          <input name="video" type="file" accept="video/*" onChange={(e) => addFiles(e.currentTarget.files)} />
        </label>
      </div>
      {refused && (
        <p class="error" role="alert">
          {refused}
        </p>
      )}
    </fieldset>
  );
}

type Kind = 'lecture' | 'service' | 'visit';
const COLLECTION: Record<Kind, string> = { lecture: 'lectures', service: 'services', visit: 'visits' };

/**
 * A member's record of `kind` in their notebook: the stored one for an id, none for a new
 * one, and how to save it. A new record gets its id at the first save and the screen stays.
 */
export function useRecord<T>(app: App, kind: Kind, id: string) {
  const notebook = app.me?.notebook ?? '';
  const [recordId, setRecordId] = useState(id.startsWith('new') ? null : id);
  const stored =
    recordId === null || !notebook || !app.core.holds(notebook)
      ? undefined
      : (app.core.records(notebook, COLLECTION[kind]) as Keyed<T>[]).find((r) => r.id === recordId)?.record;
  const [status, setStatus] = useState<{ saved?: boolean; error?: string }>({});
  const [busy, setBusy] = useState(false);

  const save = async (record: T, submit: boolean) => {
    const me = app.me;
    if (!me || !notebook) return;
    setBusy(true);
    try {
      const now = Date.now();
      const key = await app.edit(notebook, (core) => {
        const key = recordId ?? core.add(notebook, me.principal, now, COLLECTION[kind], record);
        if (recordId) core.updateRecord(notebook, me.principal, now, kind, key, record);
        if (submit) core.submit(notebook, me.principal, now, kind, key);
        return key;
      });
      if (recordId === null) {
        setRecordId(key);
        history.replaceState(null, '', `#/${kind}/${key}`);
      }
      setStatus({ saved: true });
    } catch (error) {
      setStatus({ error: t().notSaved + explain(error) });
    } finally {
      setBusy(false);
    }
  };

  // Withdrawn, a record is no longer shown; an approved one counts until an admin confirms.
  const withdraw = async () => {
    const me = app.me;
    if (!me || !notebook || !recordId || !confirm(t().withdrawConfirm)) return;
    try {
      await app.edit(notebook, (core) => core.withdraw(notebook, me.principal, Date.now(), COLLECTION[kind], recordId, null));
      go('');
    } catch (error) {
      setStatus({ error: explain(error) });
    }
  };
  return { notebook, recordId, stored, status, busy, save, withdraw: recordId ? withdraw : undefined, clearStatus: () => setStatus({}) };
}

/** How a member's record stands in review, if it has been saved. */
export function submissionOf(app: App, notebook: string, id: string | null): SubmissionView | undefined {
  const branch = app.branchDocument();
  if (!id || !branch || !app.core.holds(branch) || !app.core.holds(notebook)) return undefined;
  return (app.core.mySubmissions(notebook, branch) as SubmissionView[]).find((s) => s.record.id === id);
}

/**
 * The form of a record an admin approved (or whose approved revision still counts): first the
 * record as it stands, to read, with 修改; the warning comes when he chooses to change it: a
 * change has to be approved again, and until then the figures keep the approved version.
 */
export function ApprovedGuard({ app, notebook, recordId, kind, children }: { app: App; notebook: string; recordId: string | null; kind: Kind; children: ComponentChildren }) {
  const words = t();
  const [step, setStep] = useState<'read' | 'warn' | 'edit'>('read');
  const view = submissionOf(app, notebook, recordId);
  if (step === 'edit' || !recordId || !view || (view.state !== 'approved' && !view.counted)) return <>{children}</>;
  if (step === 'warn') {
    return (
      <div class="notice approved-warning">
        <p>{words.approvedEditWarning}</p>
        <div class="row actions">
          <button onClick={() => setStep('read')}>{words.back}</button>
          <button name="edit-anyway" class="primary" onClick={() => setStep('edit')}>
            {words.editAnyway}
          </button>
        </div>
      </div>
    );
  }
  return (
    <div class="read-only">
      <p class="quiet">{words.readOnlyApproved}</p>
      <RecordDetails app={app} notebook={notebook} kind={kind} id={recordId} names={rosterNames(app, app.branchDocument())} />
      <button name="edit" class="big" onClick={() => setStep('warn')}>
        {words.edit}
      </button>
    </div>
  );
}

/** The top of a record's form: back, the title, and its review state once it exists. */
export function FormHeader({ app, title, notebook, recordId }: { app: App; title: string; notebook: string; recordId: string | null }) {
  const words = t();
  return (
    <>
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>{title}</h1>
      {recordId && <ReviewNote app={app} notebook={notebook} id={recordId} />}
    </>
  );
}

/** What became of the last save: stored on this phone, or why not. */
export function SaveStatus({ status }: { status: { saved?: boolean; error?: string } }) {
  return (
    <>
      {status.saved && (
        <p class="saved" role="status">
          {t().saved}
        </p>
      )}
      {status.error && <p class="error">{status.error}</p>}
    </>
  );
}

/** The end of a record's form: what happened, save or submit, and withdraw a saved one. */
export function FormActions({
  status,
  busy,
  onSave,
  onWithdraw,
}: {
  status: { saved?: boolean; error?: string };
  busy: boolean;
  onSave: (submit: boolean) => void;
  onWithdraw?: () => void;
}) {
  const words = t();
  return (
    <>
      <SaveStatus status={status} />
      <div class="row actions">
        <button name="save" disabled={busy} onClick={() => onSave(false)}>
          {words.saveDraft}
        </button>
        <button name="submit" class="primary" disabled={busy} onClick={() => onSave(true)}>
          {words.submit}
        </button>
      </div>
      {onWithdraw && (
        <button name="withdraw" class="link" disabled={busy} onClick={onWithdraw}>
          {words.withdrawRecord}
        </button>
      )}
    </>
  );
}
