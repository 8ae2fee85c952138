// Sends captured media to the server over tus, as client-core's upload queue directs: which
// file, which request, which bytes. The queue is saved after every answer, so a closed app
// resumes where the server's last answer left it.
import type { Tianjian } from '../wasm/client_core.js';
import { Uploads as Queue } from '../wasm/client_core.js';
import type { Session } from './session';
import type { Storage } from './storage';
import type { UploadProgress } from './model';
import { network } from './network';

const KEY = 'uploads';
// While files wait (on a backoff, or for Wi-Fi), look again this often.
const POLL_MS = 5_000;

type Action =
  | { action: 'create'; sha256: string; size: number; media_type: string; document: string; record: string }
  | { action: 'ask'; sha256: string; url: string }
  | { action: 'send'; sha256: string; url: string; offset: number; length: number };

type Failure = { failure: 'retry' } | { failure: 'gone' } | { failure: 'refused'; reason: string };

export interface Policy {
  large_only_unmetered: boolean;
  large: number;
}

export class Uploads {
  private running = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    private readonly queue: Queue,
    private readonly storage: Storage,
    private readonly session: Session,
    private readonly progressed: () => void,
  ) {}

  static async open(storage: Storage, session: Session, progressed: () => void): Promise<Uploads> {
    return new Uploads(new Queue(await storage.setting(KEY)), storage, session, progressed);
  }

  start(): void {
    addEventListener('online', () => this.kick());
    // A phone that moves from mobile data to Wi-Fi may now send its videos.
    const connection = (navigator as { connection?: EventTarget }).connection;
    // The status line says whether videos wait for Wi-Fi, so it is drawn again too.
    connection?.addEventListener('change', () => {
      this.progressed();
      this.kick();
    });
    this.kick();
  }

  progress(): UploadProgress {
    return this.queue.progress() as UploadProgress;
  }

  policy(): Policy {
    return (this.queue.save() as { policy: Policy }).policy;
  }

  async setPolicy(policy: Policy): Promise<void> {
    this.queue.set_policy(policy);
    await this.save();
    this.kick();
  }

  /** Queues the media the records of `document` reference that this phone holds: what
   * others attached is theirs to send. */
  async need(core: Tianjian, document: string): Promise<void> {
    this.queue.need(core, document, await this.storage.blobHashes(), Date.now());
    await this.save();
    this.kick();
  }

  kick(): void {
    clearTimeout(this.timer);
    void this.run();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const action = this.queue.next(Date.now(), network()) as Action | undefined;
        if (!action) break;
        const outcome = await this.session.token();
        if (!('token' in outcome)) break;
        await this.perform(action, outcome.token);
        await this.save();
        this.progressed();
      }
    } finally {
      this.running = false;
    }
    if (this.progress().waiting > 0) this.timer = setTimeout(() => void this.run(), POLL_MS);
  }

  private async perform(action: Action, token: string): Promise<void> {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, 'Tus-Resumable': '1.0.0' };
    try {
      switch (action.action) {
        case 'create': {
          const metadata = { sha256: action.sha256, filetype: action.media_type, document: action.document, record: action.record };
          headers['Upload-Length'] = String(action.size);
          headers['Upload-Metadata'] = Object.entries(metadata)
            .map(([key, value]) => `${key} ${base64(value)}`)
            .join(',');
          const response = await fetch('/files/', { method: 'POST', headers });
          if (!(await this.answered(action.sha256, response))) return;
          const url = response.headers.get('Location') ?? '';
          this.queue.created(action.sha256, new URL(url, location.href).pathname, Number(response.headers.get('Upload-Offset') ?? 0));
          return;
        }
        case 'ask': {
          const response = await fetch(action.url, { method: 'HEAD', headers });
          if (!(await this.answered(action.sha256, response))) return;
          this.queue.reached(action.sha256, Number(response.headers.get('Upload-Offset')));
          return;
        }
        case 'send': {
          const stored = await this.storage.blob(action.sha256);
          if (!stored) {
            this.queue.failed(action.sha256, { failure: 'refused', reason: 'missing_on_device' }, Date.now());
            return;
          }
          headers['Upload-Offset'] = String(action.offset);
          headers['Content-Type'] = 'application/offset+octet-stream';
          const body = stored.blob.slice(action.offset, action.offset + action.length);
          const response = await fetch(action.url, { method: 'PATCH', headers, body });
          if (!(await this.answered(action.sha256, response))) return;
          this.queue.reached(action.sha256, Number(response.headers.get('Upload-Offset')));
          return;
        }
      }
    } catch {
      // No answer: the connection dropped. The queue asks the server where it got to.
      this.fail(action.sha256, { failure: 'retry' });
    }
  }

  /** Whether the answer is a success; if not, tells the queue what it means. */
  private async answered(sha256: string, response: Response): Promise<boolean> {
    if (response.ok) return true;
    let code = '';
    try {
      code = ((await response.json()) as { error?: string }).error ?? '';
    } catch {
      // Not a JSON body.
    }
    if (response.status === 401) {
      await this.session.refused(code);
      this.fail(sha256, { failure: 'retry' });
    } else if (response.status === 404 || response.status === 410) {
      this.fail(sha256, { failure: 'gone' });
    } else if (response.status === 409 || response.status === 423 || response.status === 429 || response.status >= 500) {
      this.fail(sha256, { failure: 'retry' });
    } else {
      this.fail(sha256, { failure: 'refused', reason: code || `http_${response.status}` });
    }
    return false;
  }

  private fail(sha256: string, failure: Failure): void {
    this.queue.failed(sha256, failure, Date.now());
  }

  private async save(): Promise<void> {
    await this.storage.setSetting(KEY, this.queue.save());
  }
}

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}
