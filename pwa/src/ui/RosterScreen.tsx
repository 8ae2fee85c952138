// The secretary's roster: the branch's people, a new member, an invite code with its QR code
// for a member's new phone, and each member's phones with a way to cut off a lost one. This
// screen talks to the server directly (accounts and devices are not documents), so it needs
// a connection; offline it shows the roster from the branch document.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import { formatDate } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { currentRoster } from './RecordForm';

interface Person {
  id: string;
  name: string;
  role: string;
  phone: string | null;
}

interface Invite {
  code: string;
  link: string;
  qr_svg: string;
  expires_at: number;
}

interface Device {
  id: string;
  name: string;
  enrolled_at: number;
  last_seen_at: number;
  revoked_at: number | null;
}

export function RosterScreen({ app }: { app: App }) {
  const words = t();
  const branch = app.me?.principal.branch;
  const [people, setPeople] = useState<Person[] | null>(null);
  const [error, setError] = useState('');
  const [open, setOpen] = useState<string | null>(null);

  const load = async () => {
    try {
      setPeople(await app.api<Person[]>('GET', `/api/v1/branches/${branch}/users`));
      setError('');
    } catch (failure) {
      setError(explain(failure));
    }
  };
  useEffect(() => {
    void load();
  }, [branch]);

  const offline = currentRoster(app).map((r) => ({ id: r.id, name: r.record.name, role: r.record.role, phone: null }));
  const shown = people ?? offline;
  return (
    <main class="screen roster">
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>{words.roster}</h1>
      {error && <p class="notice">{error}</p>}
      {people && branch && <NewMember app={app} branch={branch} onAdded={load} />}
      <ul class="records">
        {shown.map((person) => (
          <li key={person.id} class="card person" data-user={person.id}>
            <button class="record" onClick={() => setOpen(open === person.id ? null : person.id)}>
              <span class="title">{person.name}</span>
              <span class="meta">
                {words.roles[person.role] ?? person.role} {person.phone ?? ''}
              </span>
            </button>
            {open === person.id && people && manages(app, person) && <PersonTools app={app} person={person} />}
          </li>
        ))}
      </ul>
    </main>
  );
}

function NewMember({ app, branch, onAdded }: { app: App; branch: string; onAdded: () => void }) {
  const words = t();
  const [name, setName] = useState('');
  const [phone, setPhone] = useState('');
  const [error, setError] = useState('');
  const add = async (event: Event) => {
    event.preventDefault();
    try {
      await app.api('POST', '/api/v1/users', { name, role: 'member', branch, phone: phone || null });
      setName('');
      setPhone('');
      setError('');
      onAdded();
    } catch (failure) {
      setError(explain(failure));
    }
  };
  return (
    <details class="new-member">
      <summary>{words.newMember}</summary>
      <form onSubmit={add}>
        <label>
          {words.name}
          <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <label>
          {words.phone}
          <input name="phone" type="tel" value={phone} onInput={(e) => setPhone(e.currentTarget.value)} />
        </label>
        {error && <p class="error">{error}</p>}
        <button class="primary" type="submit">
          {words.add}
        </button>
      </form>
    </details>
  );
}

function PersonTools({ app, person }: { app: App; person: Person }) {
  const words = t();
  const [invite, setInvite] = useState<Invite | null>(null);
  const [devices, setDevices] = useState<Device[]>([]);
  const [error, setError] = useState('');
  const loadDevices = async () => {
    try {
      setDevices(await app.api<Device[]>('GET', `/api/v1/users/${person.id}/devices`));
    } catch (failure) {
      setError(explain(failure));
    }
  };
  useEffect(() => {
    void loadDevices();
  }, [person.id]);
  const makeInvite = async () => {
    try {
      setInvite(await app.api<Invite>('POST', `/api/v1/users/${person.id}/invites`, {}));
    } catch (failure) {
      setError(explain(failure));
    }
  };
  const revoke = async (device: Device) => {
    if (!confirm(words.revokeConfirm(device.name))) return;
    try {
      await app.api('POST', `/api/v1/devices/${device.id}/revoke`, {});
      await loadDevices();
    } catch (failure) {
      setError(explain(failure));
    }
  };
  return (
    <div class="person-tools">
      <button name="invite" onClick={makeInvite}>
        {words.inviteCode}
      </button>
      {invite && (
        <div class="invite">
          {/* The server draws the QR code as SVG; it holds only the sign-in link. */}
          <div class="qr" dangerouslySetInnerHTML={{ __html: invite.qr_svg }} />
          <p class="code">{invite.code}</p>
          <small class="quiet">{words.inviteExpires(formatDate(invite.expires_at))}</small>
        </div>
      )}
      <h3>{words.devices}</h3>
      <ul class="devices">
        {devices.map((device) => (
          <li key={device.id} class={device.revoked_at ? 'revoked' : ''}>
            <span>
              {device.name} · {words.lastSeen(formatDate(device.last_seen_at))}
            </span>
            {device.revoked_at ? (
              <span class="quiet">{words.revoked}</span>
            ) : (
              <button name="revoke" onClick={() => revoke(device)}>
                {words.revoke}
              </button>
            )}
          </li>
        ))}
      </ul>
      {error && <p class="error">{error}</p>}
    </div>
  );
}

/** Whether the signed-in person may invite and cut off `person`: a secretary manages the
 * branch's members; the township its secretaries too (client-core's `administers`). */
function manages(app: App, person: Person): boolean {
  const role = app.me?.principal.role;
  return person.id !== app.me?.principal.user && (person.role === 'member' || role === 'township_admin' || role === 'system_admin');
}

/** A request with the signed-in person's token. */

