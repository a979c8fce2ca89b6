import type { ConnectionOptions } from 'node:tls';
import { Client, ResultCodeError } from 'ldapts';

/** Where and how to reach the directory. */
export interface LdapConnectionOptions {
  /** `ldap://host:389` or `ldaps://host:636`. */
  readonly url: string;
  /** Upgrade `ldap://` connections with StartTLS (RFC 4511 §4.14) before any bind. Default false. */
  readonly startTls?: boolean;
  /** TLS options for LDAPS / StartTLS (`ca`, `servername`...). Certificates are always verified. */
  readonly tls?: ConnectionOptions;
  /** TCP connect timeout. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Timeout of each LDAP operation. Default 10000 ms. */
  readonly timeoutMs?: number;
  /** Connections kept per pool (one pool for service searches, one for user binds). Default 4. */
  readonly poolSize?: number;
}

type Prepare = (client: Client) => Promise<void>;

/**
 * A few LDAP connections used one caller at a time (RFC 4511 §4.2.1: nothing else may be sent on
 * a connection while a bind is in progress, and a bind changes the connection's identity). A
 * connection that failed below the LDAP result level (timeout, reset) is dropped, not reused.
 */
export class LdapConnectionPool {
  readonly #options: LdapConnectionOptions;
  readonly #prepare: Prepare;
  readonly #size: number;
  readonly #idle: Client[] = [];
  readonly #waiters: ((client: Client | undefined) => void)[] = [];
  #open = 0;
  #closed = false;

  /** `prepare` runs once on each new connection (after StartTLS), e.g. the service account's bind. */
  constructor(options: LdapConnectionOptions, prepare: Prepare = async () => {}) {
    this.#options = options;
    this.#prepare = prepare;
    this.#size = options.poolSize ?? 4;
  }

  /** Runs `work` on a connection of the pool and gives the connection back. */
  async use<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.#acquire();
    let healthy = true;
    try {
      return await work(client);
    } catch (error) {
      healthy = error instanceof ResultCodeError && client.isConnected;
      throw error;
    } finally {
      if (healthy && client.isConnected) this.#release(client);
      else this.#discard(client);
    }
  }

  /** Unbinds every idle connection; connections in use are dropped when given back. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    await Promise.allSettled(this.#idle.splice(0).map((c) => c.unbind()));
  }

  async #acquire(): Promise<Client> {
    if (this.#closed) throw new Error('LDAP connection pool is closed');
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    if (this.#open < this.#size) {
      this.#open++;
      try {
        return await this.#connect();
      } catch (error) {
        this.#open--;
        this.#wakeOne();
        throw error;
      }
    }
    const client = await new Promise<Client | undefined>((resolve) => this.#waiters.push(resolve));
    if (client === undefined) return this.#acquire();
    return client;
  }

  async #connect(): Promise<Client> {
    const o = this.#options;
    const client = new Client({
      url: o.url,
      connectTimeout: o.connectTimeoutMs ?? 5000,
      timeout: o.timeoutMs ?? 10_000,
      strictDN: true,
      // ldapts opens TLS at once when tlsOptions is set: only for ldaps://.
      ...(/^ldaps:/i.test(o.url) ? { tlsOptions: { ...o.tls, rejectUnauthorized: true } } : {}),
    });
    try {
      if (o.startTls === true) await client.startTLS({ ...o.tls, rejectUnauthorized: true });
      await this.#prepare(client);
      return client;
    } catch (error) {
      await client.unbind().catch(() => {});
      throw error;
    }
  }

  #release(client: Client): void {
    if (this.#closed) {
      this.#discard(client);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(client);
    else this.#idle.push(client);
  }

  #discard(client: Client): void {
    this.#open--;
    void client.unbind().catch(() => {});
    this.#wakeOne();
  }

  /** A slot freed: a waiter may open a new connection. */
  #wakeOne(): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(undefined);
  }
}
