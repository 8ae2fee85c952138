// Moves client-core's sync frames over a WebSocket and carries out its tasks in order. When to
// sync: at start, when the browser says it is online again, when the app comes back to the
// foreground, and on a capped backoff after a failure. Background Sync would be a bonus; no
// part of keeping data relies on it.
import type { Tianjian } from '../wasm/client_core.js';
import { ApiError, Unreachable, call } from './api';
import type { Task } from './model';
import { dropQuarantine, keepQuarantine, keepReturned, type Quarantine } from './returns';
import type { Session } from './session';
import type { Storage } from './storage';

export type Link =
  | { link: 'offline' }
  | { link: 'connecting' }
  | { link: 'online' }
  /** Only a new sign-in lets sync go on; `because` is client-core's reason. */
  | { link: 'sign_in'; because: string | null };

const FIRST_RETRY_MS = 1_000;
const LAST_RETRY_MS = 5 * 60_000;
// Automerge does not resend what it believes is in flight; a quiet tick offers it again.
const TICK_MS = 2_000;
const REDRAW_MS = 100;

export class Sync {
  link: Link = { link: 'offline' };
  /**
   * The server's reason, if it refused a change of ours this session. The change stays on the
   * phone; reconnecting sends it again and it is refused again, so the person must be told.
   */
  refusal: string | null = null;
  private socket: WebSocket | null = null;
  private retryMs = FIRST_RETRY_MS;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private work: Promise<void> = Promise.resolve();
  private connecting = false;
  private redraw: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly core: Tianjian,
    private readonly storage: Storage,
    private readonly session: Session,
    private readonly changed: (documents: Set<string>) => void,
    private readonly quarantined: (quarantine: Quarantine) => void,
  ) {}

  /** Records that came back this session, for the screens to read the list again. */
  returned = 0;

  start(): void {
    addEventListener('online', () => this.now());
    // Offline is said at once: the socket's close may take its time to come.
    addEventListener('offline', () => {
      this.socket?.close();
      this.link = { link: 'offline' };
      this.changed(new Set());
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.now();
    });
    this.now();
  }

  /** Tries to connect now, forgetting the backoff. */
  now(): void {
    this.retryMs = FIRST_RETRY_MS;
    clearTimeout(this.retryTimer);
    void this.connect();
  }

  /**
   * Carries out every task client-core queued, in order. Resolves once the stores among them
   * are durable: an edit followed by `await pump()` is saved on this device.
   */
  pump(): Promise<void> {
    const run = this.work.then(() => this.drain());
    // One failed task must not stop the tasks queued after it.
    this.work = run.catch(() => undefined);
    return run;
  }

  private async drain(): Promise<void> {
    const changed = new Set<string>();
    try {
      for (;;) {
        const tasks = this.core.tasks() as Task[];
        if (tasks.length === 0) break;
        for (const task of tasks) await this.carryOut(task, changed);
      }
    } finally {
      if (changed.size) this.changed(changed);
    }
  }

  private async carryOut(task: Task, changed: Set<string>): Promise<void> {
    switch (task.task) {
      case 'send':
        if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(bytes(task.bytes));
        return;
      case 'close':
        if (task.reason && task.reason !== 'leave') this.refusal = task.reason;
        this.socket?.close();
        return;
      // The server refused changes to one document (the others go on syncing): what the
      // person saw is kept before anything else, then client-core puts it back.
      case 'quarantine':
        await keepQuarantine(this.storage, task.quarantine);
        this.refusal = task.quarantine.rule;
        this.quarantined(task.quarantine);
        return;
      case 'actor': {
        const user = this.session.lastUser();
        if (user) await this.session.replaceActor(user, task.actor);
        return;
      }
      case 'replace':
        await this.storage.compact(task.document, bytes(task.bytes));
        await this.storage.forgetSyncStates(task.document);
        return;
      case 'returned':
        await keepReturned(this.storage, task.item);
        this.returned++;
        return;
      case 'recovered':
        await dropQuarantine(this.storage, task.document);
        this.refusal = null;
        changed.add(task.document);
        return;
      case 'store':
        if (task.ticket === null) {
          // A change made here: if this fails the caller must hear of it.
          await this.storage.append(task.document, bytes(task.bytes));
          return;
        }
        try {
          await this.storage.append(task.document, bytes(task.bytes));
          this.core.stored(task.ticket);
        } catch {
          // The server sends it again next time.
          this.core.storeFailed(task.ticket);
        }
        return;
      case 'saveSyncState':
        await this.storage.saveSyncState(task.server, task.document, bytes(task.bytes));
        return;
      case 'changed':
      case 'unavailable':
        changed.add(task.document);
        return;
    }
  }

  private async connect(): Promise<void> {
    if (this.socket || this.connecting || !navigator.onLine) return;
    this.connecting = true;
    this.link = { link: 'connecting' };
    try {
      const outcome = await this.session.token();
      if ('signIn' in outcome) {
        this.link = { link: 'sign_in', because: outcome.signIn };
        return;
      }
      if ('wait' in outcome) throw new Unreachable('wait');
      const { ticket } = await call<{ ticket: string }>('POST', '/api/v1/sync-ticket', outcome.token);
      // The browser may have gone offline while the ticket came: no socket then.
      if (!navigator.onLine) throw new Unreachable('offline');
      this.open(ticket);
    } catch (error) {
      if (error instanceof ApiError) await this.session.refused(error.code);
      this.link = { link: 'offline' };
      this.retryLater();
    } finally {
      this.connecting = false;
    }
  }

  private open(ticket: string): void {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/sync?ticket=${encodeURIComponent(ticket)}`);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    socket.onopen = () => {
      // Went offline while the socket opened: the 'offline' event found no socket to close.
      if (!navigator.onLine) {
        socket.close();
        return;
      }
      this.retryMs = FIRST_RETRY_MS;
      this.link = { link: 'online' };
      this.core.connected();
      void this.pump();
      this.ticker = setInterval(() => {
        this.core.tick();
        void this.pump();
      }, TICK_MS);
    };
    socket.onmessage = (event) => {
      this.core.received(new Uint8Array(event.data as ArrayBuffer));
      // Even a frame without changes may say the server now keeps ours: the status changes.
      void this.pump().then(() => this.redrawSoon());
    };
    socket.onclose = () => {
      clearInterval(this.ticker);
      this.socket = null;
      this.core.disconnected();
      void this.pump();
      this.link = { link: 'offline' };
      this.changed(new Set());
      this.retryLater();
    };
  }

  /** Redraws once after a burst of frames, not once a frame: the status line diffs documents. */
  private redrawSoon(): void {
    if (this.redraw !== undefined) return;
    this.redraw = setTimeout(() => {
      this.redraw = undefined;
      this.changed(new Set());
    }, REDRAW_MS);
  }

  private retryLater(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, LAST_RETRY_MS);
  }
}

// What client-core hands over is a fresh copy on the JavaScript heap, never shared memory.
function bytes(value: Uint8Array | number[]): Uint8Array<ArrayBuffer> {
  return value instanceof Uint8Array ? (value as Uint8Array<ArrayBuffer>) : Uint8Array.from(value);
}
