// The app's state: client-core's replica of this device's documents, its storage, its sign-in,
// sync and uploads, started in that order. Screens read through `core` and change things only
// through `edit`, which resolves once the change is stored on this device.
import init, { Tianjian } from '../wasm/client_core.js';
import { ApiError, Unreachable, call, send } from './api';
import { mirror } from './media';
import type { MediaRef, Me, Principal } from './model';
import { network } from './network';
import { Session } from './session';
import { askToKeepData, dataKept } from './space';
import { Storage } from './storage';
import { discardReturned, quarantines, returnedItems, type Quarantine, type ReturnedItem } from './returns';
import { Sync } from './sync';
import { Uploads } from './uploads';

const ME = 'me';
const STORAGE_ID = 'storageId';

export class App {
  private listeners = new Set<() => void>();
  /** Bumped on every change, so screens can tell when to read again. */
  version = 0;
  private mirroring = false;
  /** Whether the browser said it keeps this app's data when space runs low (null: not asked). */
  dataKept: boolean | null = null;
  /** Records the server refused that could not be put back, until the person decides. */
  returned: ReturnedItem[] = [];
  returnedSeen = 0;

  private constructor(
    readonly core: Tianjian,
    readonly storage: Storage,
    readonly session: Session,
    readonly sync: Sync,
    readonly uploads: Uploads,
    public me: Me | null,
  ) {}

  static async start(): Promise<App> {
    await init();
    const storage = await Storage.open();
    // The server keeps its sync state with this device under this name.
    let storageId = await storage.setting<string>(STORAGE_ID);
    if (!storageId) {
      storageId = crypto.randomUUID();
      await storage.setSetting(STORAGE_ID, storageId);
    }
    const core = new Tianjian(peerId(), storageId);
    for (const { server, document, bytes } of await storage.syncStates()) {
      core.restoreSyncState(server, document, bytes);
    }
    for (const [document, stored] of await storage.documents()) {
      core.open(document, stored.bytes);
      if (Storage.needsCompaction(stored.chunks)) await storage.compact(document, core.save(document));
    }
    const session = await Session.open(storage);
    let app: App | null = null;
    const notify = () => app?.notify();
    const sync = new Sync(
      core,
      storage,
      session,
      (documents) => {
        app?.notify();
        if (app && documents.has(app.branchDocument() ?? '')) void app.mirrorFeed();
        if (app && sync.returned !== app.returnedSeen) void app.loadReturned();
      },
      (quarantine) => app?.recoverAfterRefusal(quarantine),
    );
    const uploads = await Uploads.open(storage, session, notify);
    app = new App(core, storage, session, sync, uploads, (await storage.setting<Me>(ME)) ?? null);
    app.dataKept = await dataKept(storage);
    await app.loadReturned();
    if (app.me) {
      await app.follow(app.me);
      void app.keepData();
      // A recovery cut off by a closed app goes on from what it kept.
      for (const quarantine of await quarantines(storage)) app.recover(quarantine);
      await sync.pump();
    }
    sync.start();
    uploads.start();
    void app.refreshMe();
    return app;
  }

  /**
   * Puts the person's work back after the server refused changes to a document, writing as
   * who they are now; its tasks are carried out with the others. If it cannot run now (not
   * signed in), its quarantine waits for the next start.
   */
  recover(quarantine: Quarantine): void {
    if (!this.me) return;
    try {
      this.core.recover(quarantine, this.me.principal, Date.now());
    } catch (error) {
      console.error('cannot recover', quarantine.document, error);
    }
  }

  async loadReturned(): Promise<void> {
    this.returnedSeen = this.sync.returned;
    this.returned = await returnedItems(this.storage);
    this.notify();
  }

  /** The person discards a returned record: it goes, for good. */
  async discard(item: ReturnedItem): Promise<void> {
    await discardReturned(this.storage, item);
    await this.loadReturned();
  }

  /**
   * After a refusal, the person's work is put back as who they are now: a move to another
   * branch or a changed role is often why the server refused, and the phone learns of it
   * from the server first. Runs after the tasks being carried out; the quarantine is stored.
   */
  recoverAfterRefusal(quarantine: Quarantine): void {
    void this.refreshMe()
      .catch(() => undefined)
      .then(() => {
        this.recover(quarantine);
        return this.sync.pump();
      });
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    this.version++;
    for (const listener of this.listeners) listener();
  }

  /**
   * Makes a change through client-core and resolves once it is stored on this device (and
   * sent, if online). Throws client-core's error, with nothing changed, if it is refused.
   */
  async edit<T>(document: string, change: (core: Tianjian) => T): Promise<T> {
    const result = change(this.core);
    await this.sync.pump();
    await this.uploads.need(this.core, document);
    this.notify();
    return result;
  }

  /** Signs in with an invite code, or a phone number and password. */
  async signIn(how: { code: string } | { phone: string; password: string }): Promise<void> {
    const device = deviceName();
    if ('code' in how) await this.session.enrol(how.code, device);
    else await this.session.login(how.phone, how.password, device);
    void this.keepData();
    await this.refreshMe();
    this.sync.now();
    this.uploads.kick();
  }

  /**
   * Asks the browser to keep this app's data when the phone runs out of space, unless it does
   * already, and remembers the answer for settings: at sign-in, when there is something to
   * keep, and at each start after, since the browser may say yes later. Not awaited where it
   * is called: some browsers ask the person.
   */
  async keepData(): Promise<void> {
    this.dataKept = await askToKeepData(this.storage).catch(() => this.dataKept);
    this.notify();
  }

  /** Asks the server who we are and what to sync; keeps the answer for offline starts. */
  async refreshMe(): Promise<void> {
    const outcome = await this.session.token();
    if (!('token' in outcome)) return;
    try {
      const me = await call<Me>('GET', '/api/v1/me', outcome.token);
      const actor = await this.session.actorFor(me.principal.user);
      await call('POST', '/api/v1/me/actors', outcome.token, { actors: [actor] });
      await this.storage.setSetting(ME, me);
      this.me = me;
      await this.follow(me);
      this.sync.now();
      void this.mirrorFeed();
    } catch (error) {
      if (error instanceof ApiError) await this.session.refused(error.code);
      else if (!(error instanceof Unreachable)) throw error;
    }
    this.notify();
  }

  /** Writes as `me`, and keeps every document `me` may read in sync. */
  private async follow(me: Me): Promise<void> {
    this.core.setActor(await this.session.actorFor(me.principal.user));
    for (const readable of me.documents) this.core.sync(readable.url);
    await this.sync.pump();
  }

  /**
   * Fetches the media of the branch feed this device lacks, so that the feed plays offline
   * after one sync.
   */
  async mirrorFeed(): Promise<void> {
    const branch = this.branchDocument();
    if (this.mirroring || !branch || !this.core.holds(branch)) return;
    this.mirroring = true;
    try {
      const feed = this.core.feed(branch) as [string, { media: MediaRef[] }][];
      const fetched = await mirror(this.storage, this.session, feed.flatMap(([, item]) => item.media), network() === 'unmetered');
      if (fetched) this.notify();
    } catch {
      // Offline again, or a fetch failed: the next sync tries again.
    } finally {
      this.mirroring = false;
    }
  }

  /**
   * Calls the server's API as the signed-in person. Accounts, statistics and ledgers are not
   * documents: these need a connection, and throw `Unreachable` without one.
   */
  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const outcome = await this.session.token();
    if (!('token' in outcome)) throw new Unreachable('not signed in');
    return call<T>(method, path, outcome.token, body);
  }

  /** Downloads a file the API makes (a ledger, an archive), under the name the server gives. */
  async download(path: string): Promise<void> {
    const outcome = await this.session.token();
    if (!('token' in outcome)) throw new Unreachable('not signed in');
    const response = await send('GET', path, outcome.token);
    const disposition = response.headers.get('content-disposition') ?? '';
    const encoded = /filename\*=UTF-8''([^;]+)/.exec(disposition)?.[1];
    const name = encoded ? decodeURIComponent(encoded) : 'tianjian-export';
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  /**
   * Adds a record to a collection of a document as the signed-in person, `make` giving it
   * from who and when; resolves with its id once it is stored on the phone.
   */
  async add(document: string, collection: string, make: (me: Principal, now: number) => unknown): Promise<string> {
    const me = this.me;
    if (!me) throw new Unreachable('not signed in');
    const now = Date.now();
    const record = make(me.principal, now);
    return this.edit(document, (core) => core.add(document, me.principal, now, collection, record));
  }

  /** The branch document of `me`, if any. */
  branchDocument(): string | null {
    return this.me?.documents.find((d) => d.kind === 'branch' && d.branch === this.me?.principal.branch)?.url ?? null;
  }
}

function deviceName(): string {
  const agent = navigator.userAgent;
  const model = /Android[^;]*;\s*([^;)]+)/.exec(agent)?.[1];
  return (model ?? (/(iPhone|iPad|Windows|Mac OS X|Linux)/.exec(agent)?.[1] ?? 'browser')).slice(0, 60);
}

/**
 * What this run of the app is called on the sync connection: new at every start, and short,
 * because every sync frame carries it both ways (a quiet reconnect is mostly such names).
 * 72 random bits keep two phones of a province from ever meeting under one name.
 */
function peerId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  const base64 = btoa(String.fromCharCode(...bytes));
  return `p${base64.replace(/\+/g, '-').replace(/\//g, '_')}`;
}
