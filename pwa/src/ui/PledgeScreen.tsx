// Pledges (承诺): each member writes what they commit to for the year in their own notebook,
// offline too; the secretary collects them, sees who has yet to pledge, and publishes each
// on the branch's pledge wall, where every member reads them. A pledge changed or withdrawn
// after publication is flagged for the secretary to republish or take down.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { Keyed, Pledge, PledgeCollection, WallPledge } from '../data/model';
import { chinaDay } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';

export function PledgeScreen({ app, year }: { app: App; year: number }) {
  const words = t();
  const branch = app.branchDocument();
  const admin = app.me?.principal.role === 'branch_admin';
  if (!branch || !app.core.holds(branch)) return <main class="screen">{words.notOnPhone}</main>;
  const wall = app.core.pledgeWall(branch, year) as WallPledge[];
  const notebook = app.me?.notebook ?? null;
  const mine =
    notebook && app.core.holds(notebook)
      ? (app.core.records(notebook, 'pledges') as Keyed<Pledge>[]).find((p) => p.record.year === year && !p.record.withdrawn)
      : undefined;
  return (
    <main class="screen pledges">
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>{words.pledgeWall(year)}</h1>
      <nav class="row">
        <button class="link" onClick={() => go(`pledges/${year - 1}`)}>
          ← {year - 1}
        </button>
        <button class="link" onClick={() => go(`pledges/${year + 1}`)}>
          {year + 1} →
        </button>
      </nav>
      {notebook && app.core.holds(notebook) && <MyPledge app={app} notebook={notebook} year={year} mine={mine} />}
      {admin && <Collection app={app} branch={branch} year={year} />}
      <section class="wall">
        <p class="meta" data-on-wall={wall.length}>
          {words.pledgedPublicly(wall.length)}
        </p>
        {wall.length === 0 && <p class="quiet">{words.wallEmpty}</p>}
        {wall.map((pledge) => (
          <article class="card pledge" key={pledge.id} data-member={pledge.name}>
            <h2>{pledge.name}</h2>
            <ol>
              {pledge.commitments.map((commitment, i) => (
                <li key={i}>{commitment}</li>
              ))}
            </ol>
          </article>
        ))}
      </section>
    </main>
  );
}

/** The signed-in member's pledge for the year: written, or edited, on the phone. */
function MyPledge({ app, notebook, year, mine }: { app: App; notebook: string; year: number; mine: Keyed<Pledge> | undefined }) {
  const words = t();
  // What the member types; until they type, the pledge as stored (which may arrive by sync).
  const [typed, setText] = useState<string | null>(null);
  const text = typed ?? mine?.record.commitments.join('\n') ?? '';
  const [message, setMessage] = useState('');
  const commitments = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const save = async () => {
    const me = app.me;
    if (!me) return;
    try {
      if (mine) {
        const content: Pledge = { ...mine.record, commitments };
        await app.edit(notebook, (core) => core.updateRecord(notebook, me.principal, Date.now(), 'pledge', mine.id, content));
      } else {
        await app.add(notebook, 'pledges', (by, now): Pledge => ({
          year,
          member: by.user,
          commitments,
          created_at: now,
          withdrawn: null,
        }));
      }
      setMessage(words.pledgeSaved);
    } catch (failure) {
      setMessage(explain(failure));
    }
  };
  return (
    <section class="card my-pledge">
      <h2>{words.myPledge}</h2>
      <label>
        {words.commitments}
        <textarea rows={5} value={text} placeholder={words.commitmentsHint} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <button class="primary" disabled={commitments.length === 0 || commitments.length > 20} onClick={save}>
        {mine ? words.save : words.makePledge}
      </button>
      {message && <p class="saved">{message}</p>}
    </section>
  );
}

/** The secretary's collection of the year's pledges: publish, republish, take down. */
function Collection({ app, branch, year }: { app: App; branch: string; year: number }) {
  const words = t();
  const [error, setError] = useState('');
  const collected = app.core.pledges(branch, year) as PledgeCollection;
  const me = app.me;
  if (!me) return null;
  const act = async (change: () => void) => {
    try {
      await app.edit(branch, change);
      setError('');
    } catch (failure) {
      setError(explain(failure));
    }
  };
  const publish = (pledge: PledgeCollection['pledges'][number]) =>
    act(() => app.core.publish(branch, pledge.record.notebook, me.principal, Date.now(), 'pledge', pledge.record.id, false));
  const takeDown = (copy: string) => act(() => app.core.withdraw(branch, me.principal, Date.now(), 'feed', copy, null));
  return (
    <section class="card pledge-collection">
      <h2>{words.collectPledges}</h2>
      {collected.pledges.length === 0 && <p class="quiet">{words.noPledgesYet}</p>}
      <ul class="records">
        {collected.pledges.map((pledge) => (
          <li key={pledge.record.id} data-member={pledge.name} data-wall={pledge.wall}>
            <span class="title">{pledge.name}</span>
            <span class="meta">
              {chinaDay(pledge.created_at)} · <span class={`state ${pledge.wall}`}>{words.wallStates[pledge.wall]}</span>
            </span>
            <span class="comment">{pledge.commitments.join('；')}</span>
            <div class="row">
              {(pledge.wall === 'unpublished' || pledge.wall === 'changed') && (
                <button name="publish" class="primary" onClick={() => publish(pledge)}>
                  {pledge.wall === 'changed' ? words.republish : words.publishPledge}
                </button>
              )}
              {pledge.on_wall && (
                <button name="take-down" onClick={() => takeDown(pledge.on_wall as string)}>
                  {words.takeDown}
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
      {collected.not_yet.length > 0 && (
        <p class="meta not-yet">
          {words.notYetPledged(collected.not_yet.length)}
          {collected.not_yet.map((m) => m.name).join('、')}
        </p>
      )}
      {error && <p class="notice">{error}</p>}
    </section>
  );
}
