import type { AddressInfo } from 'node:net';
import { createTransport } from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import type { AuditEvent } from '../../src/audit/audit-event';
import { BulwarkConfigError, BulwarkMfaError, ErrorCodes } from '../../src/errors';
import { NodemailerOtpTransport } from '../../src/mfa/nodemailer-otp-transport';
import { OtpFactor, type OtpFactorOptions } from '../../src/mfa/otp-factor';
import { MemoryOtpStore } from '../../src/mfa/otp-store';
import type { OtpMessage, OtpTransport } from '../../src/mfa/otp-transport';
import { BruteForceGuard } from '../../src/threat/brute-force-guard';

let now = Date.parse('2025-06-02T10:00:00.000Z');
const clock = (): Date => new Date(now);

/** An SMS transport as an app would write one; here it keeps the messages. */
class Outbox implements OtpTransport {
  readonly sent: OtpMessage[] = [];
  async send(message: OtpMessage): Promise<void> {
    this.sent.push(message);
  }
  get last(): string {
    return this.sent[this.sent.length - 1].code;
  }
}

function sms(options: Partial<OtpFactorOptions> = {}) {
  const outbox = new Outbox();
  const store = new MemoryOtpStore();
  const factor = new OtpFactor({ store, transport: outbox, channel: 'sms', clock, ...options });
  return { outbox, store, factor };
}

async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BulwarkMfaError) return error.code;
    throw error;
  }
  throw new Error('expected a BulwarkMfaError');
}

/** A wrong code that differs from the sent one. */
const wrong = (code: string): string => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('OtpFactor', () => {
  describe('by e-mail through a real SMTP server (smtp-server) and nodemailer', () => {
    let server: SMTPServer;
    const received: Array<{ to: string[]; raw: string }> = [];
    let port: number;

    beforeAll(async () => {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            received.push({
              to: session.envelope.rcptTo.map((r) => r.address),
              raw: Buffer.concat(chunks).toString('utf8'),
            });
            callback();
          });
        },
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.server.address() as AddressInfo).port;
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('delivers the code by e-mail, and the code in the message signs the user in once', async () => {
      const transporter = createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
      const events: AuditEvent[] = [];
      const factor = new OtpFactor({
        store: new MemoryOtpStore(),
        channel: 'email',
        transport: new NodemailerOtpTransport({ transporter, from: '"Clinic" <no-reply@clinic.example>' }),
        audit: { append: async (e) => events.push(e) },
        clock,
      });
      const { expiresAt, challenge } = await factor.send('u1', 'alice@clinic.example', { ip: '192.0.2.7' });
      expect(Date.parse(expiresAt) - now).toBe(300_000);
      expect(received).toHaveLength(1);
      expect(received[0].to).toEqual(['alice@clinic.example']);
      expect(received[0].raw).toMatch(/^Subject: Your verification code\r?$/m);
      const code = /verification code is (\d{6})/.exec(received[0].raw)![1];
      await expect(factor.verify('u1', challenge, code)).resolves.toMatchObject({
        userId: 'u1',
        method: 'email-otp',
      });
      expect(await errorCode(factor.verify('u1', challenge, code))).toBe(ErrorCodes.MFA_INVALID_CODE);
      expect(events.map((e) => [e.action, e.details?.method, e.details?.step, e.outcome])).toEqual([
        ['auth.mfa', 'email-otp', 'send', 'success'],
        ['auth.mfa', 'email-otp', 'verify', 'success'],
        ['auth.mfa', 'email-otp', 'verify', 'failure'],
      ]);
      expect(JSON.stringify(events)).not.toContain(code);
      transporter.close();
    });

    it('answers ERR_MFA_DELIVERY and keeps no code when the SMTP server cannot be reached', async () => {
      const transporter = createTransport({
        host: '127.0.0.1',
        port: 1,
        secure: false,
        connectionTimeout: 2000,
      });
      const store = new MemoryOtpStore();
      const factor = new OtpFactor({
        store,
        channel: 'email',
        transport: new NodemailerOtpTransport({ transporter, from: 'no-reply@clinic.example' }),
        clock,
      });
      expect(await errorCode(factor.send('u1', 'alice@clinic.example'))).toBe(ErrorCodes.MFA_DELIVERY);
      expect(await store.getCode('u1')).toBeUndefined();
    });

    it('refuses a recipient list or a header injection in the address', async () => {
      const transport = new NodemailerOtpTransport({
        transporter: { sendMail: async () => undefined },
        from: 'no-reply@clinic.example',
      });
      const factor = new OtpFactor({ store: new MemoryOtpStore(), channel: 'email', transport, clock });
      for (const to of ['a@x.test, b@y.test', 'a@x.test\r\nBcc: b@y.test']) {
        expect(await errorCode(factor.send('u1', to))).toBe(ErrorCodes.MFA_DELIVERY);
      }
    });
  });

  it('stores only a keyed hash of the code', async () => {
    const { factor, store, outbox } = sms();
    await factor.send('u1', '+15550100');
    const record = await store.getCode('u1');
    expect(record?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(record)).not.toContain(outbox.last);
  });

  it('refuses an expired code', async () => {
    const { factor, outbox } = sms({ ttlSec: 60 });
    const { challenge } = await factor.send('u1', '+15550100');
    now += 61_000;
    expect(await errorCode(factor.verify('u1', challenge, outbox.last))).toBe(ErrorCodes.MFA_INVALID_CODE);
  });

  it('refuses the code after maxAttempts wrong tries, even if the right one comes next', async () => {
    const { factor, outbox } = sms({ maxAttempts: 3 });
    const { challenge } = await factor.send('u1', '+15550100');
    const code = outbox.last;
    for (let i = 0; i < 3; i++)
      expect(await errorCode(factor.verify('u1', challenge, wrong(code)))).toBe(ErrorCodes.MFA_INVALID_CODE);
    expect(await errorCode(factor.verify('u1', challenge, code))).toBe(ErrorCodes.MFA_INVALID_CODE);
  });

  it('stays locked after one more wrong try than allowed: neither verify nor a resend starts over', async () => {
    const { factor, outbox } = sms({ maxAttempts: 2 });
    const { challenge } = await factor.send('u1', '+15550100');
    const code = outbox.last;
    for (let i = 0; i < 3; i++)
      expect(await errorCode(factor.verify('u1', challenge, wrong(code)))).toBe(ErrorCodes.MFA_INVALID_CODE);
    expect(await errorCode(factor.send('u1', '+15550100'))).toBe(ErrorCodes.MFA_LOCKED);
    expect(await errorCode(factor.verify('u1', challenge, code))).toBe(ErrorCodes.MFA_INVALID_CODE);
    expect(outbox.sent).toHaveLength(1);
    // Locked until the exhausted code expires, then a new code may be sent.
    now += 301_000;
    await expect(factor.send('u1', '+15550100')).resolves.toMatchObject({ challenge: expect.any(String) });
  });

  it('a failed delivery puts the pending code back with its attempt count', async () => {
    const store = new MemoryOtpStore();
    let fail = false;
    const sent: string[] = [];
    const transport: OtpTransport = {
      send: async (m) => {
        if (fail) throw new Error('gateway down');
        sent.push(m.code);
      },
    };
    const factor = new OtpFactor({ store, transport, channel: 'sms', clock, maxAttempts: 3 });
    const { challenge } = await factor.send('u1', '+15550100');
    for (let i = 0; i < 2; i++) await errorCode(factor.verify('u1', challenge, wrong(sent[0]!)));
    fail = true;
    expect(await errorCode(factor.send('u1', '+15550100'))).toBe(ErrorCodes.MFA_DELIVERY);
    expect((await store.getCode('u1'))?.attempts).toBe(2);
    // One guess left, on the code actually delivered.
    expect(await errorCode(factor.verify('u1', challenge, wrong(sent[0]!)))).toBe(
      ErrorCodes.MFA_INVALID_CODE,
    );
    expect(await errorCode(factor.send('u1', '+15550100'))).toBe(ErrorCodes.MFA_LOCKED);
  });

  it('does not reset the attempt count by sending a new code', async () => {
    const { factor, outbox } = sms({ maxAttempts: 2 });
    const { challenge } = await factor.send('u1', '+15550100');
    for (let i = 0; i < 2; i++) await errorCode(factor.verify('u1', challenge, wrong(outbox.last)));
    expect(await errorCode(factor.send('u1', '+15550100'))).toBe(ErrorCodes.MFA_LOCKED);
    expect(outbox.sent).toHaveLength(1);
  });

  it('a new code replaces the pending one', async () => {
    const { factor, outbox } = sms();
    const { challenge: firstChallenge } = await factor.send('u1', '+15550100');
    const first = outbox.last;
    let { challenge } = await factor.send('u1', '+15550100');
    // (one chance in a million that a resend draws the same code: draw again)
    while (outbox.last === first) ({ challenge } = await factor.send('u1', '+15550100'));
    expect(await errorCode(factor.verify('u1', firstChallenge, first))).toBe(ErrorCodes.MFA_INVALID_CODE);
    expect(await errorCode(factor.verify('u1', challenge, first))).toBe(ErrorCodes.MFA_INVALID_CODE);
    await expect(factor.verify('u1', challenge, outbox.last)).resolves.toMatchObject({ method: 'sms-otp' });
  });

  it('refuses a code sent for one login attempt on another (bound to its challenge)', async () => {
    const { factor, outbox } = sms({ maxAttempts: 3 });
    const { challenge } = await factor.send('u1', '+15550100');
    const code = outbox.last;
    const forged = 'A'.repeat(22);
    expect(await errorCode(factor.verify('u1', forged, code))).toBe(ErrorCodes.MFA_INVALID_CODE);
    expect(await errorCode(factor.verify('u1', 'not a challenge', code))).toBe(ErrorCodes.MFA_INVALID_CODE);
    // Each try under a wrong challenge counted as a wrong code: one attempt is left.
    await expect(factor.verify('u1', challenge, code)).resolves.toMatchObject({ method: 'sms-otp' });
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('accepts one of two racing requests with the right code', async () => {
    const { factor, outbox } = sms();
    const { challenge } = await factor.send('u1', '+15550100');
    const results = await Promise.allSettled([
      factor.verify('u1', challenge, outbox.last),
      factor.verify('u1', challenge, outbox.last),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('counts wrong codes in a brute-force guard across codes', async () => {
    const guard = new BruteForceGuard({ account: { maxFailures: 2, windowSec: 60, lockoutSec: 60 } });
    const { factor, outbox } = sms({ guard });
    const { challenge } = await factor.send('u1', '+15550100');
    for (let i = 0; i < 2; i++) await errorCode(factor.verify('u1', challenge, wrong(outbox.last)));
    expect(await errorCode(factor.verify('u1', challenge, outbox.last))).toBe(ErrorCodes.MFA_LOCKED);
  });

  it('refuses malformed input with typed errors', async () => {
    const { factor } = sms();
    const { challenge } = await factor.send('u1', '+15550100');
    expect(await errorCode(factor.verify('u1', challenge, 42 as never))).toBe(
      ErrorCodes.MFA_INVALID_ARGUMENT,
    );
    expect(await errorCode(factor.verify('u1', challenge, 'x'.repeat(10_000)))).toBe(
      ErrorCodes.MFA_INVALID_CODE,
    );
    expect(await errorCode(factor.verify('', challenge, '123456'))).toBe(ErrorCodes.MFA_INVALID_ARGUMENT);
    expect(
      () => new OtpFactor({ store: new MemoryOtpStore(), transport: new Outbox(), channel: 'fax' as never }),
    ).toThrow(BulwarkConfigError);
    expect(() => sms({ hashKey: new Uint8Array(8) })).toThrow(/hashKey/);
  });
});
