// One checked-out PostgreSQL connection with client-side deadlines, for TypeOrmAuditStore: a
// partition fails in bounded time, and a connection in an unknown state never returns to the pool.
import { BulwarkAuditError, ErrorCodes } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import type { EntryRow } from './audit-row';

/** Client-side deadlines of one PostgreSQL session (TypeOrmAuditStore's options). */
export interface PgDeadlines {
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  /** The error for SQLSTATE 55P03 (lock_timeout). */
  onLockTimeout: () => Error;
}

/** ERR_AUDIT_STORE_UNAVAILABLE: PostgreSQL cannot be reached in time; nothing was stored. */
export function pgUnavailable(
  message: string,
  cause?: unknown,
  details?: Record<string, unknown>,
): BulwarkAuditError {
  return new BulwarkAuditError(
    ErrorCodes.AUDIT_STORE_UNAVAILABLE,
    message,
    details,
    cause === undefined ? undefined : { cause },
  );
}

const CONNECTION_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
]);
// node-postgres and pg-pool say these in messages only (no code).
const CONNECTION_MESSAGES =
  /Connection terminated|Query read timeout|timeout exceeded when trying to connect|connection error|not queryable|Client was closed/i;

/**
 * Whether `err` means the connection is gone or unusable (as opposed to an SQL error on a live
 * connection): socket errors, node-postgres' termination messages, SQLSTATE class 08 (connection
 * exception) and 57P01-57P03 (server shutting down, crashed, starting).
 */
export function connectionLost(err: unknown): boolean {
  if (err instanceof BulwarkAuditError) return err.code === ErrorCodes.AUDIT_STORE_UNAVAILABLE;
  for (const e of [err, (err as { driverError?: unknown } | null)?.driverError]) {
    if (e === null || typeof e !== 'object') continue;
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === 'string' &&
      (CONNECTION_ERRNOS.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code))
    ) {
      return true;
    }
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return true;
  }
  return false;
}

/** SQLSTATE 57014: the server's statement_timeout cancelled the statement (the connection is fine). */
function statementCancelled(err: unknown): boolean {
  return (err as { driverError?: { code?: unknown } } | null)?.driverError?.code === '57014';
}

/** A bound on a pending operation; its late outcome is swallowed. */
async function within<T>(op: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  op.catch(() => undefined);
  try {
    return await Promise.race([
      op,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The query interface of one checked-out PostgreSQL connection with the store's deadlines. */
export interface PgSession {
  query(sql: string, params?: unknown[], extraMs?: number): Promise<EntryRow[]>;
  /** An UPDATE / DELETE: resolves with the number of rows it changed. */
  change(sql: string, params: unknown[]): Promise<number>;
}

/**
 * Runs `body` on one pooled PostgreSQL connection, inside a READ COMMITTED transaction when
 * `transaction` is true. Every step has a client-side deadline (`connectTimeoutMs` for the
 * connection, `statementTimeoutMs` per statement): past it the connection is destroyed, never
 * returned to the pool, and the caller gets ERR_AUDIT_STORE_UNAVAILABLE. `beforeCommit` runs
 * right before COMMIT is sent (from then on a lost connection leaves the outcome unknown).
 */
export async function runPgSession<T>(
  dataSource: DataSource,
  deadlines: PgDeadlines,
  transaction: boolean,
  body: (s: PgSession) => Promise<T>,
  beforeCommit?: () => void,
): Promise<T> {
  const { connectTimeoutMs, statementTimeoutMs, lockTimeoutMs } = deadlines;
  const qr = dataSource.createQueryRunner('master');
  let broken: unknown;
  const limit = <R>(op: Promise<R>, ms: number, what: string): Promise<R> =>
    within(op, ms, () => {
      const err = pgUnavailable(
        `PostgreSQL did not answer within ${ms} ms (${what}); the connection was dropped`,
        undefined,
        { timeoutMs: ms, step: what },
      );
      broken = err;
      return err;
    });
  const session: PgSession = {
    query: (sql, params, extraMs = 0) =>
      limit(qr.query(sql, params) as Promise<EntryRow[]>, statementTimeoutMs + extraMs, 'statement'),
    change: async (sql, params) => {
      const result = (await limit(
        qr.query(sql, params, true) as Promise<{ affected?: number }>,
        statementTimeoutMs,
        'statement',
      )) as { affected?: number };
      return result.affected ?? 0;
    },
  };
  try {
    await limit(qr.connect(), connectTimeoutMs, 'connect');
    if (!transaction) return await body(session);
    await limit(qr.startTransaction('READ COMMITTED'), statementTimeoutMs, 'begin');
    // Transaction-local, whatever the server or role default: COMMIT returns only once the WAL
    // record is flushed, a stuck lock holder cannot make appends wait forever, and the server
    // abandons a statement the client has given up on.
    await session.query(
      `SELECT set_config('synchronous_commit', 'on', true), set_config('lock_timeout', $1, true), ` +
        `set_config('statement_timeout', $2, true)`,
      [String(lockTimeoutMs), String(statementTimeoutMs + lockTimeoutMs)],
    );
    const result = await body(session);
    beforeCommit?.();
    await limit(qr.commitTransaction(), statementTimeoutMs, 'commit');
    return result;
  } catch (err) {
    if (broken === undefined && connectionLost(err)) broken = err;
    if (broken === undefined && qr.isTransactionActive) {
      await limit(qr.rollbackTransaction(), statementTimeoutMs, 'rollback').catch(() => undefined);
    }
    if ((err as { driverError?: { code?: string } })?.driverError?.code === '55P03') {
      throw deadlines.onLockTimeout();
    }
    if (broken !== undefined || statementCancelled(err)) {
      throw err instanceof BulwarkAuditError
        ? err
        : pgUnavailable('the connection to PostgreSQL was lost or timed out; nothing was stored', err);
    }
    throw err;
  } finally {
    if (broken === undefined) {
      await qr.release().catch(() => undefined);
    } else {
      // Never hand a connection in an unknown state back to the pool: destroy its socket (a
      // blackholed socket would otherwise linger until TCP gives up) and release it with the error.
      const client = (
        qr as unknown as { databaseConnection?: { connection?: { stream?: { destroy(): void } } } }
      ).databaseConnection;
      client?.connection?.stream?.destroy();
      const release = (qr as unknown as { releasePostgresConnection?: (e: unknown) => Promise<void> })
        .releasePostgresConnection;
      await (release !== undefined ? release.call(qr, broken) : qr.release()).catch(() => undefined);
    }
  }
}
