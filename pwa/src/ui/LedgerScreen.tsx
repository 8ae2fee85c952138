// The member ledger (党员台账) a secretary keeps, with the export's columns in its order and
// words: 流动党员, 流入党员, 老党员, 体弱党员, 银发党员 (which lives on the roster entry, since a
// secretary records for such members), 联系电话, 所在城市, 工作单位 and 结对帮学 (一对一帮学), and
// the log of every contact (家访, 函访, 走访, a call). At the top, the migrant members nobody has been in touch with
// for longer than the secretary chose. It is private to the branch's admins and the
// township, and works offline like every document.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { Contact, ContactReminder, Keyed, LedgerEntry, RosterEntry } from '../data/model';
import { formatDate } from './format';
import { go, useSignal } from './hooks';
import { explain, t } from './i18n';
import { MemberSelect, currentRoster } from './RecordForm';
import { reminderDays } from './settings';

/** The flags of the ledger entry, in the export's order; 银发党员 (the roster's) follows. */
const FLAGS = ['migrant', 'inflow', 'elderly', 'infirm'] as const;
const KINDS: Contact['kind'][] = ['phone', 'home_visit', 'visit', 'letter', 'online'];

export function LedgerScreen({ app }: { app: App }) {
  const words = t();
  const days = useSignal(reminderDays);
  const branch = app.branchDocument();
  const ledger = app.me?.documents.find((d) => d.kind === 'ledger' && d.branch === app.me?.principal.branch)?.url ?? null;
  const [open, setOpen] = useState<string | null>(null);
  if (!branch || !ledger || !app.core.holds(branch) || !app.core.holds(ledger)) {
    return <main class="screen">{words.notOnPhone}</main>;
  }
  const entries = new Map((app.core.records(ledger, 'entries') as Keyed<LedgerEntry>[]).map((e) => [e.id, e.record]));
  const reminders = app.core.contactReminders(branch, ledger, Date.now(), days) as ContactReminder[];
  const roster = currentRoster(app);
  return (
    <main class="screen ledger">
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>{words.memberLedger}</h1>
      <section class="card reminders">
        <h2>{words.toContact}</h2>
        <label>
          {words.remindAfter}
          <input type="number" min={1} max={365} value={days} onInput={(e) => reminderDays.set(Number(e.currentTarget.value) || 30)} />
        </label>
        {reminders.length === 0 ? (
          <p class="quiet">{words.noneToContact}</p>
        ) : (
          <ul>
            {reminders.map((r) => (
              <li key={r.member} data-member={r.name}>
                <button class="link" onClick={() => setOpen(r.member)}>
                  {r.name}
                </button>{' '}
                {r.last_contact === null ? words.neverContacted(r.days) : words.lastContacted(formatDate(r.last_contact), r.days)}
              </li>
            ))}
          </ul>
        )}
      </section>
      <ul class="records">
        {roster.map((person) => {
          const entry = entries.get(person.id);
          return (
            <li key={person.id} class="card person" data-member={person.record.name}>
              <button class="record" onClick={() => setOpen(open === person.id ? null : person.id)}>
                <span class="title">{person.record.name}</span>
                <span class="meta">
                  {[...FLAGS.filter((f) => entry?.[f]).map((f) => words.flags[f]), ...(person.record.silver ? [words.flags.silver] : [])].join('、')}
                  {entry?.city ? ` · ${entry.city}` : ''}
                </span>
              </button>
              {open === person.id && (
                <EntryEditor app={app} branch={branch} ledger={ledger} member={person.id} entry={entry} roster={roster.filter((r) => r.id !== person.id)} />
              )}
            </li>
          );
        })}
      </ul>
    </main>
  );
}

function EntryEditor({
  app,
  branch,
  ledger,
  member,
  entry,
  roster,
}: {
  app: App;
  branch: string;
  ledger: string;
  member: string;
  entry: LedgerEntry | undefined;
  roster: Keyed<RosterEntry>[];
}) {
  const words = t();
  const me = app.me;
  const blank: LedgerEntry = {
    migrant: false,
    inflow: false,
    elderly: false,
    infirm: false,
    phone: '',
    city: '',
    employer: '',
    study_partner: null,
    contacts: {},
    updated_by: me?.principal.user ?? '',
    updated_at: Date.now(),
    withdrawn: null,
  };
  const [draft, setDraft] = useState<LedgerEntry>(entry ?? blank);
  const rosterEntry = () => (app.core.records(branch, 'roster') as Keyed<RosterEntry>[]).find((r) => r.id === member)?.record;
  const [silver, setSilver] = useState(rosterEntry()?.silver ?? false);
  const [kind, setKind] = useState<Contact['kind']>('phone');
  const [notes, setNotes] = useState('');
  const [message, setMessage] = useState('');
  const save = async () => {
    if (!me) return;
    try {
      // Written onto the entry as it is now, so a contact logged meanwhile is kept.
      await app.edit(ledger, (core) => {
        const current = (core.records(ledger, 'entries') as Keyed<LedgerEntry>[]).find((e) => e.id === member)?.record;
        core.setLedgerEntry(ledger, me.principal, Date.now(), member, { ...draft, contacts: current?.contacts ?? {} });
      });
      // 银发党员 is the roster's, in the branch document, also onto the entry as it is now.
      if ((rosterEntry()?.silver ?? false) !== silver) {
        await app.edit(branch, (core) => {
          const enrolled = (core.records(branch, 'roster') as Keyed<RosterEntry>[]).find((r) => r.id === member)?.record;
          if (enrolled) core.enrolMember(branch, me.principal, Date.now(), member, { ...enrolled, silver });
        });
      }
      setMessage(words.saved);
    } catch (failure) {
      setMessage(explain(failure));
    }
  };
  const logContact = async () => {
    if (!me) return;
    try {
      await app.edit(ledger, (core) => {
        if (!entry) core.setLedgerEntry(ledger, me.principal, Date.now(), member, draft);
        core.logContact(ledger, me.principal, Date.now(), member, { kind, at: Date.now(), by: me.principal.user, notes: notes.trim() });
      });
      setNotes('');
      setMessage(words.saved);
    } catch (failure) {
      setMessage(explain(failure));
    }
  };
  const contacts = Object.values(entry?.contacts ?? {}).sort((a, b) => b.at - a.at);
  return (
    <div class="entry">
      <div class="row wrap flags">
        {FLAGS.map((flag) => (
          <label key={flag} class="check">
            <input type="checkbox" name={flag} checked={draft[flag]} onChange={(e) => setDraft({ ...draft, [flag]: e.currentTarget.checked })} />
            {words.flags[flag]}
          </label>
        ))}
        <label class="check">
          <input type="checkbox" name="silver" checked={silver} onChange={(e) => setSilver(e.currentTarget.checked)} />
          {words.flags.silver}
        </label>
      </div>
      <label>
        {words.ledgerPhone}
        <input name="phone" inputMode="tel" value={draft.phone} onInput={(e) => setDraft({ ...draft, phone: e.currentTarget.value })} />
      </label>
      <label>
        {words.city}
        <input name="city" value={draft.city} onInput={(e) => setDraft({ ...draft, city: e.currentTarget.value })} />
      </label>
      <label>
        {words.employer}
        <input name="employer" value={draft.employer} onInput={(e) => setDraft({ ...draft, employer: e.currentTarget.value })} />
      </label>
      <MemberSelect name="study_partner" label={words.studyPartner} roster={roster} value={draft.study_partner ?? null} onChange={(member) => setDraft({ ...draft, study_partner: member })} />
      <button name="save-entry" onClick={save}>
        {words.save}
      </button>
      <h3>{words.contactLog}</h3>
      <div class="row wrap">
        <select value={kind} onChange={(e) => setKind(e.currentTarget.value as Contact['kind'])} aria-label={words.contactKind}>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {words.contactKinds[k]}
            </option>
          ))}
        </select>
        <input value={notes} placeholder={words.notes} onInput={(e) => setNotes(e.currentTarget.value)} aria-label={words.notes} />
        <button class="primary" onClick={logContact}>
          {words.logContact}
        </button>
      </div>
      {message && <p class="saved">{message}</p>}
      <ul class="contacts">
        {contacts.map((c) => (
          <li key={`${c.at}-${c.kind}`}>
            {formatDate(c.at)} · {words.contactKinds[c.kind]} {c.notes && `· ${c.notes}`}
          </li>
        ))}
      </ul>
    </div>
  );
}
