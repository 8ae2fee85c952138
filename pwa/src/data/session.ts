// Signing in, and keeping a usable access token: client-core's SignIn decides (sync, refresh,
// sign in again, wait); this file makes the requests it asks for and stores its state.
import { SignIn } from '../wasm/client_core.js';
import { ApiError, call } from './api';
import type { Credentials } from './model';
import type { Storage } from './storage';

const KEY = 'session';

export type TokenOutcome =
  | { token: string }
  | { signIn: string | null }
  | { wait: true };

export class Session {
  private constructor(
    private readonly storage: Storage,
    private readonly signIn: SignIn,
  ) {}

  static async open(storage: Storage): Promise<Session> {
    return new Session(storage, new SignIn(await storage.setting(KEY)));
  }

  credentials(): Credentials | null {
    const saved = this.signIn.save() as { credentials?: Credentials | null };
    return saved.credentials ?? null;
  }

  /** The person whose records this device holds, signed in or not. */
  lastUser(): string | null {
    const saved = this.signIn.save() as { last_user?: string | null };
    return saved.last_user ?? null;
  }

  /** The actor (hex) this device writes with for `user`, saved before it is used. */
  async actorFor(user: string): Promise<string> {
    const actor = this.signIn.actor_for(user);
    await this.persist();
    return actor;
  }

  /** Writes for `user` with `actor` from now on (a recovery started afresh with it). */
  async replaceActor(user: string, actor: string): Promise<void> {
    this.signIn.replaceActor(user, actor);
    await this.persist();
  }

  async enrol(code: string, deviceName: string): Promise<Credentials> {
    return this.took(await call<Credentials>('POST', '/api/v1/enrol', undefined, { code, device_name: deviceName }));
  }

  async login(phone: string, password: string, deviceName: string): Promise<Credentials> {
    return this.took(
      await call<Credentials>('POST', '/api/v1/login', undefined, { phone, password, device_name: deviceName }),
    );
  }

  /** An access token good for a while, refreshing it first if it is about to run out. */
  async token(): Promise<TokenOutcome> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const step = this.signIn.next(Date.now()) as
        | { step: 'sync'; access_token: string }
        | { step: 'refresh'; refresh_token: string }
        | { step: 'sign_in'; because: string | null }
        | { step: 'wait' };
      switch (step.step) {
        case 'sync':
          return { token: step.access_token };
        case 'sign_in':
          return { signIn: step.because };
        case 'wait':
          return { wait: true };
        case 'refresh':
          try {
            await this.took(await call<Credentials>('POST', '/api/v1/token', undefined, { refresh_token: step.refresh_token }));
          } catch (error) {
            if (!(error instanceof ApiError)) throw error;
            await this.refused(error.code);
          }
      }
    }
    return { wait: true };
  }

  /** The server refused a request with `code`; the sign-in may have ended. */
  async refused(code: string): Promise<void> {
    this.signIn.refused(code, Date.now());
    await this.persist();
  }

  private async took(credentials: Credentials): Promise<Credentials> {
    this.signIn.signed_in(credentials);
    await this.persist();
    return credentials;
  }

  private async persist(): Promise<void> {
    await this.storage.setSetting(KEY, this.signIn.save());
  }
}
