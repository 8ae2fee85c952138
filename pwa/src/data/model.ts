import type { Quarantine, ReturnedItem } from './returns';
// The shapes of the values client-core's WASM build takes and gives (its serde forms). The
// rules about them live in client-core; these types only let the compiler check the UI.

export type Millis = number;
export type UserId = string;
export type RecordId = string;
/** A document's `automerge:` URL or bare id. */
export type DocumentUrl = string;

export type Role = 'member' | 'branch_admin' | 'township_admin' | 'system_admin';

export interface Principal {
  user: UserId;
  role: Role;
  branch: string | null;
  township: string | null;
}

export interface Credentials {
  user: UserId;
  device: string;
  principal: Principal;
  access_token: string;
  access_expires_at: Millis;
  refresh_token: string;
  refresh_expires_at: Millis;
}

export interface Readable {
  url: DocumentUrl;
  kind: 'branch' | 'notebook' | 'ledger' | 'supervision';
  branch: string;
  owner: UserId | null;
}

/** `GET /api/v1/me`. */
export interface Me {
  principal: Principal;
  device: string;
  name: string;
  phone: string | null;
  notebook: DocumentUrl | null;
  documents: Readable[];
}

export interface MediaRef {
  sha256: string;
  size: number;
  media_type: string;
  duration_ms?: number | null;
  caption?: string | null;
}

export interface Gps {
  lat: number;
  lon: number;
  accuracy_m: number;
}

export interface Submission {
  state: 'draft' | 'submitted';
  revision: number;
  submitted_at?: Millis | null;
}

export const LECTURE_CATEGORIES = ['political_theory', 'grassroots_work', 'skills', 'other'] as const;
export type LectureCategory = (typeof LECTURE_CATEGORIES)[number];

export const VENUES = ['field', 'courtyard', 'market', 'activity_room', 'home_delivery', 'remote'] as const;
export type Venue = (typeof VENUES)[number];

export interface Lecture {
  title: string;
  category: LectureCategory;
  venue: Venue;
  held_at: Millis;
  duration_min: number;
  place: string;
  gps?: Gps | null;
  speakers: UserId[];
  guest_speaker?: string | null;
  recorded_by: UserId;
  attendees: UserId[];
  audience: number;
  summary: string;
  media: MediaRef[];
  plan?: string | null;
  submission: Submission;
  created_at: Millis;
  withdrawn?: unknown;
}

export interface RosterEntry {
  name: string;
  role: 'secretary' | 'deputy' | 'committee' | 'member' | string;
  notebook: string;
  joined_at: Millis;
  left_at?: Millis | null;
  /** An older member (银发党员) whom a secretary may record for. */
  silver?: boolean;
  /** On the branch's lecture team (微讲队). */
  lecturer?: boolean;
}

/** An entry of the branch's lecture schedule (讲课安排表), as stored: a member speaks, or a
 * guest expert (土专家) named by `guest_speaker`, never neither. */
export interface ScheduleEntry {
  date: string;
  speaker: UserId | null;
  guest_speaker: string | null;
  topic: string;
  venue: Venue;
  created_by: UserId;
  withdrawn?: unknown;
}

/** A coming lecture as `Tianjian.schedule` gives it, soonest first. */
export interface Scheduled {
  id: RecordId;
  date: string;
  topic: string;
  venue: Venue;
  speaker: UserId | null;
  speaker_name: string;
  guest: boolean;
}

/** The lecture team (微讲队): members on it, by id and name, and the guest experts the
 * schedule names. */
export interface LectureTeam {
  members: [UserId, string][];
  guests: string[];
}

export const VISIT_KINDS = ['walk', 'home_visit', 'letter', 'heart_talk', 'study_delivery'] as const;
export type VisitKind = (typeof VISIT_KINDS)[number];

export interface Keyed<T> {
  id: string;
  record: T;
}

export interface RecordRef {
  notebook: string;
  kind: 'lecture' | 'service' | 'visit' | 'pledge';
  id: RecordId;
}

export interface SubmissionView {
  record: RecordRef;
  title: string;
  at: Millis;
  revision: number;
  submitted_at?: Millis | null;
  state: 'draft' | 'pending' | 'approved' | 'returned';
  comment?: string;
  published: boolean;
  fine_example: boolean;
  /** An approved revision of it counts in the figures: the current one, or the one approved
   * before the member edited it again, until the new one is reviewed. */
  counted: boolean;
}

/** A submitted record waiting for an admin (`Tianjian.reviewQueue`). */
export interface QueueItem {
  record: RecordRef;
  title: string;
  author: UserId;
  at: Millis;
  revision: number;
  submitted_at?: Millis | null;
  /** Its member withdrew it after an approval, which counts until an admin takes it back. */
  withdrawn: boolean;
}

/** The monthly plan 一月一课一片一实践, keyed by its month. */
export interface Plan {
  lecture_topic: string;
  lecture_speaker: UserId | null;
  film_title: string;
  practice: string;
  theme_day: string | null;
  notes: string;
  created_by: UserId;
  created_at: Millis;
  withdrawn: unknown;
}

/** A record that carries out a part of a month's plan. */
export interface PlanRecord {
  collection: 'lectures' | 'services' | 'screenings' | 'meetings';
  id: RecordId;
  notebook: string | null;
  title: string;
  at: Millis;
}

export type PlanPart = 'lecture' | 'film' | 'practice' | 'theme_day';

/** How far a month's plan has been carried out (`Tianjian.planProgress`), the same on every
 * phone. */
export interface PlanProgress {
  month: string;
  plan: Plan;
  lecture_done: boolean;
  film_done: boolean;
  practice_done: boolean;
  theme_day_held: boolean;
  complete: boolean;
  carried_out: Record<PlanPart, PlanRecord[]>;
}

/** A film screening (一片), recorded by an admin in the branch document. */
export interface Screening {
  film: string;
  held_at: Millis;
  place: string;
  attendees: UserId[];
  /** Villagers present. */
  audience: number;
  discussion: string;
  media: MediaRef[];
  plan: string | null;
  recorded_by: UserId;
  created_at: Millis;
  withdrawn?: unknown;
}

/** What client-core's upload queue reports. */
export interface UploadProgress {
  files: { sha256: string; media_type: string; size: number; sent: number; done: boolean; refused: string | null; unmetered_only: boolean }[];
  waiting: number;
  total_bytes: number;
  sent_bytes: number;
}

/** A task client-core queued for the app (`Tianjian.tasks()`). */
export type Task =
  | { task: 'send'; bytes: Uint8Array | number[] }
  | { task: 'close'; reason: string }
  | { task: 'store'; document: string; bytes: Uint8Array | number[]; ticket: number | null }
  | { task: 'saveSyncState'; server: string; document: string; bytes: Uint8Array | number[] }
  | { task: 'changed'; document: string }
  | { task: 'unavailable'; document: string }
  | { task: 'quarantine'; quarantine: Quarantine }
  | { task: 'actor'; actor: string }
  | { task: 'replace'; document: string; bytes: Uint8Array | number[] }
  | { task: 'returned'; item: ReturnedItem }
  | { task: 'recovered'; document: string };

export interface Candidate {
  id: RecordId;
  label: string;
  member?: UserId | null;
}

/** An election (评选); its result is written by the server once it closes. */
export interface Election {
  title: string;
  candidates: Candidate[];
  max_choices: number;
  opens_at: Millis;
  closes_at: Millis;
  created_by: UserId;
  created_at: Millis;
  result?: { counted_at: Millis; ballots: number; tallies: { candidate: RecordId; votes: number }[] } | null;
  withdrawn?: unknown;
}

export interface Ballot {
  voter: UserId;
  choices: RecordId[];
  cast_at: Millis;
}

/** A member's commitments for a year (承诺), in their notebook. */
export interface Pledge {
  year: number;
  member: UserId;
  commitments: string[];
  created_at: Millis;
  withdrawn?: unknown;
}

/** A pledge as the branch's wall shows it: a copy the secretary published. */
export interface WallPledge {
  id: RecordId;
  source: RecordRef;
  name: string;
  commitments: string[];
  published_at: Millis;
}

export type WallState = 'unpublished' | 'published' | 'changed' | 'withdrawn';

/** The year's pledges as the secretary collects them, and who has yet to pledge. */
export interface PledgeCollection {
  year: number;
  pledges: {
    record: RecordRef;
    member: UserId;
    name: string;
    commitments: string[];
    created_at: Millis;
    wall: WallState;
    on_wall: RecordId | null;
  }[];
  not_yet: { member: UserId; name: string }[];
}

export interface Contact {
  kind: 'home_visit' | 'letter' | 'visit' | 'phone' | 'online';
  at: Millis;
  by: UserId;
  notes: string;
}

/** A member's private ledger entry (台账), for the branch's admins and the township. */
export interface LedgerEntry {
  migrant: boolean;
  inflow: boolean;
  elderly: boolean;
  infirm: boolean;
  phone: string;
  city: string;
  employer: string;
  study_partner?: UserId | null;
  contacts: Record<string, Contact>;
  updated_by: UserId;
  updated_at: Millis;
  withdrawn?: unknown;
}

export interface ContactReminder {
  member: UserId;
  name: string;
  last_contact: Millis | null;
  days: number;
}

export type MeetingKind = 'members_assembly' | 'committee' | 'group' | 'party_lecture' | 'theme_day';

/** A meeting of 三会一课 or a themed party day, with its attendance and minutes. */
export interface Meeting {
  kind: MeetingKind;
  held_at: Millis;
  attendees: UserId[];
  agenda: string;
  minutes: string;
  decisions: string[];
  plan?: string | null;
  recorded_by: UserId;
  created_at: Millis;
  withdrawn?: unknown;
}

export interface Step {
  at: Millis;
  by: UserId;
  note?: string | null;
}

/** How far a problem or rectification has got: each step reached, kept for good. */
export interface Progress {
  in_progress?: Step | null;
  done?: Step | null;
  verified?: Step | null;
}

export type SupervisionMethod = 'dispatch' | 'report' | 'forum' | 'documents' | 'on_site';

/** A township's note on a branch (督查). */
export interface SupervisionNote {
  method: SupervisionMethod;
  at: Millis;
  by: UserId;
  body: string;
  withdrawn?: unknown;
}

/** A problem the township asks a branch to fix, tracked to verified. */
export interface Problem {
  problem: string;
  measure: string;
  deadline: string;
  standard: string;
  owner: string;
  progress: Progress;
  evidence?: MediaRef[];
  created_by: UserId;
  created_at: Millis;
  withdrawn?: unknown;
}

/** A problem the branch must fix (问题清单 / 整改), in the branch document. */
export interface Rectification {
  problem: string;
  measure: string;
  deadline: string;
  standard: string;
  responsible: UserId | null;
  from_visit: RecordRef | null;
  from_supervision: RecordId | null;
  progress: Progress;
  evidence: MediaRef[];
  created_by: UserId;
  created_at: Millis;
  withdrawn?: unknown;
}
