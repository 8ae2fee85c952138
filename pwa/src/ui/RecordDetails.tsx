// A member's lecture, service or visit as the secretary reads it for review: what, when,
// where, who, the text, and the media.
import type { App } from '../data/app';
import type { Keyed, Lecture } from '../data/model';
import { formatDate } from './format';
import { t } from './i18n';
import { MediaList } from './MediaList';
import type { Service } from './ServiceScreen';
import type { Visit } from './VisitScreen';

export function RecordDetails({ app, notebook, kind, id, names }: { app: App; notebook: string; kind: string; id: string; names: Map<string, string> }) {
  const words = t();
  const people = (users: string[]) => users.map((u) => names.get(u) ?? '').filter(Boolean).join('、');
  const find = <T,>(collection: string) => (app.core.records(notebook, collection) as Keyed<T>[]).find((r) => r.id === id)?.record;
  if (kind === 'lecture') {
    const lecture = find<Lecture>('lectures');
    if (!lecture) return null;
    return (
      <article>
        <h1>{lecture.title}</h1>
        <p class="meta">
          {people(lecture.speakers) || lecture.guest_speaker} · {formatDate(lecture.held_at)} · {words.venues[lecture.venue]} {lecture.place}
        </p>
        <p>
          {words.attendance} {lecture.attendees.length} · {words.audience} {lecture.audience}
        </p>
        <p class="summary">{lecture.summary}</p>
        <MediaList app={app} media={lecture.media} />
      </article>
    );
  }
  if (kind === 'service') {
    const service = find<Service>('services');
    if (!service) return null;
    return (
      <article>
        <h1>{service.title}</h1>
        <p class="meta">
          {words.serviceKinds[service.kind]} · {formatDate(service.held_at)} · {service.place}
        </p>
        <p>
          {words.participants} {people(service.participants)} · {words.hours} {service.hours} · {words.beneficiaries} {service.beneficiaries}
        </p>
        <p class="summary">{service.notes}</p>
        <MediaList app={app} media={service.media} />
      </article>
    );
  }
  const visit = find<Visit>('visits');
  if (!visit) return null;
  return (
    <article>
      <h1>{visit.household}</h1>
      <p class="meta">
        <span class="tag visit-kind">{words.visitKinds[visit.kind ?? 'walk']}</span> {people(visit.visitors)} · {formatDate(visit.visited_at)}
      </p>
      <p class="summary">{visit.needs}</p>
      <p>{visit.follow_up}</p>
      <MediaList app={app} media={visit.media} />
    </article>
  );
}
