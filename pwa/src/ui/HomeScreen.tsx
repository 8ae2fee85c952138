// Home: my next lecture on the schedule if I have one, how this month's plan stands, the big
// button to record, and my records with where their review stands and what the secretary said.
import type { App } from '../data/app';
import type { Keyed, MediaRef, QueueItem, SubmissionView } from '../data/model';
import { t } from './i18n';
import { go } from './hooks';
import { chinaMonth, formatDate } from './format';
import { PlanChecklist, planProgress } from './PlanChecklist';
import { ReturnedRecords } from './ReturnedRecords';
import { Standing } from './ReviewNote';
import { comingLectures } from './ScheduleScreen';
import { InterruptedRecordings } from './InterruptedRecordings';

export function HomeScreen({ app }: { app: App }) {
  const words = t();
  const notebook = app.me?.notebook ?? null;
  const branch = app.branchDocument();
  const ready = notebook && branch && app.core.holds(notebook) && app.core.holds(branch);
  const mine: SubmissionView[] = ready ? (app.core.mySubmissions(notebook, branch) as SubmissionView[]) : [];
  mine.sort((a, b) => b.at - a.at);
  const stored = ready ? recordsOf(app, notebook, mine) : new Map<string, Listed>();
  const role = app.me?.principal.role;
  const admin = role === 'branch_admin';
  const overseer = role === 'branch_admin' || role === 'township_admin' || role === 'system_admin';
  const queue = admin && branch && app.core.holds(branch) ? (app.core.reviewQueue(branch) as QueueItem[]).length : 0;
  const progress = branch ? planProgress(app, chinaMonth(Date.now())) : undefined;
  const ownBranch = app.me?.principal.branch;
  const myTurn = comingLectures(app).find((entry) => entry.speaker === app.me?.principal.user);

  return (
    <main class="screen home">
      <ReturnedRecords app={app} />
      <InterruptedRecordings app={app} />
      {myTurn && notebook && (
        <section class="card my-turn" data-id={myTurn.id}>
          <h2>{words.myNextLecture(words.monthDay(myTurn.date), myTurn.topic)}</h2>
          <p class="meta">{words.venues[myTurn.venue]}</p>
          <button name="record-my-turn" class="primary" onClick={() => go(`lecture/new-schedule-${myTurn.id}`)}>
            {words.recordThisLecture}
          </button>
        </section>
      )}
      {(progress || admin) && (
        <section class="card plan">
          <h2>{words.thisMonth}</h2>
          {progress ? <PlanChecklist app={app} progress={progress} actions={false} /> : <p class="quiet">{words.noPlanYet}</p>}
          <button name="open-plan" class="link" onClick={() => go('plan')}>
            {progress ? words.openChecklist : words.makePlan} ›
          </button>
        </section>
      )}
      {notebook && (
        <button class="big primary" onClick={() => go('lecture/new')}>
          {words.recordLecture}
        </button>
      )}
      <nav class="row wrap">
        {notebook && <button onClick={() => go('lecture/new-remote')}>{words.recordLesson}</button>}
        {notebook && <button onClick={() => go('service/new')}>{words.recordService}</button>}
        {notebook && <button onClick={() => go('visit/new')}>{words.recordVisit}</button>}
        {branch && <button onClick={() => go('feed')}>{words.feed}</button>}
        {admin && branch && <button onClick={() => go('plan')}>{words.monthlyPlan}</button>}
        {branch && (
          <button name="open-schedule" onClick={() => go('schedule')}>
            {words.openSchedule}
          </button>
        )}
        {admin && <button onClick={() => go('roster')}>{words.roster}</button>}
        {branch && <button onClick={() => go('screenings')}>{words.screenings}</button>}
        {admin && <button onClick={() => go('meetings')}>{words.meetings}</button>}
        {admin && ownBranch && <button onClick={() => go(`rectifications/${ownBranch}`)}>{words.problemList}</button>}
        {admin && <button onClick={() => go('ledger')}>{words.memberLedger}</button>}
        {admin && app.me?.principal.branch && <button onClick={() => go(`supervision/${app.me?.principal.branch}`)}>{words.supervision}</button>}
        {branch && <button onClick={() => go('elections')}>{words.elections}</button>}
        {branch && <button onClick={() => go('pledges')}>{words.pledges}</button>}
        {overseer && <button onClick={() => go('statistics')}>{words.statistics}</button>}
        {admin && branch && (
          <button onClick={() => go('review')}>
            {words.reviewQueue} {queue > 0 && <span class="badge">{queue}</span>}
          </button>
        )}
      </nav>
      <FeedPreview app={app} branch={ready ? branch : null} />
      <section>
        <h2>{words.myRecords}</h2>
        {mine.length === 0 && <p class="quiet">{words.nothingYet}</p>}
        <ul class="records">
          {mine.map((item) => (
            <li key={item.record.id}>
              <button class="record" onClick={() => go(`${item.record.kind}/${item.record.id}`)}>
                <span class="title">{item.title}</span>
                <span class="meta">
                  {item.record.kind === 'visit' && `${words.visitKinds[stored.get(item.record.id)?.kind ?? 'walk']} · `}
                  {formatDate(item.at)} · <Standing view={item} />
                </span>
                <FilesSent app={app} media={stored.get(item.record.id)?.media ?? []} />
              </button>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}

/** The newest items of the branch feed, to open the feed from. */
function FeedPreview({ app, branch }: { app: App; branch: string | null }) {
  const words = t();
  if (!branch) return null;
  const feed = (app.core.feed(branch) as [string, { title: string; speakers: string[] }][]).slice(0, 3);
  if (feed.length === 0) return null;
  return (
    <section class="feed-preview">
      <h2>{words.feed}</h2>
      <ul class="records">
        {feed.map(([id, item]) => (
          <li key={id}>
            <button class="record" onClick={() => go('feed')}>
              <span class="title">{item.title}</span>
              <span class="meta">{item.speakers.join('、')}</span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** What the list shows of a record beside its title: its media, and a visit's kind. */
interface Listed {
  media: MediaRef[];
  kind?: string;
}

/** The listed records as stored, by record id, reading each kind's records once. */
function recordsOf(app: App, notebook: string, listed: SubmissionView[]): Map<string, Listed> {
  const records = new Map<string, Listed>();
  for (const kind of new Set(listed.map((item) => item.record.kind))) {
    for (const { id, record } of app.core.records(notebook, `${kind}s`) as Keyed<Listed>[]) records.set(id, record);
  }
  return records;
}

/** How many of a record's files have reached the server, when it has any. */
function FilesSent({ app, media }: { app: App; media: MediaRef[] }) {
  const words = t();
  if (media.length === 0) return null;
  const files = app.uploads.progress().files;
  const sent = media.filter((m) => files.find((f) => f.sha256 === m.sha256)?.done).length;
  return (
    <span class="meta files" data-sent={sent} data-files={media.length}>
      {' '}
      · {words.filesSent(sent, media.length)}
    </span>
  );
}
