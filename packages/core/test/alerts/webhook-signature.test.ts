import { BulwarkAlertError, BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { signWebhook, verifyWebhook } from '../../src/alerts/webhook-signature';

// Published example of the Standard Webhooks reference libraries (standard-webhooks/standard-webhooks,
// libraries/javascript/src/webhook.test.ts, "sign function works"; MIT licence).
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const at = (sec: number) => () => new Date(sec * 1000);
const headers = (signature = SPEC.signature, ts = String(SPEC.timestamp), id = SPEC.id) => ({
  'webhook-id': id,
  'webhook-timestamp': ts,
  'webhook-signature': signature,
});

function reason(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BulwarkAlertError);
    expect((err as BulwarkAlertError).code).toBe(ErrorCodes.ALERT_WEBHOOK_INVALID);
    return (err as BulwarkAlertError).details?.reason as string;
  }
  return undefined;
}

describe('Standard Webhooks signatures', () => {
  it('signs the specification example exactly', () => {
    expect(signWebhook(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
  });

  it('verifies the specification example (with or without the whsec_ prefix, among other signatures)', () => {
    expect(verifyWebhook(SPEC.secret, SPEC.body, headers(), { now: at(SPEC.timestamp + 10) })).toEqual({
      id: SPEC.id,
      timestamp: SPEC.timestamp,
    });
    const bare = SPEC.secret.slice('whsec_'.length);
    const several = `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc ${SPEC.signature}`;
    expect(() =>
      verifyWebhook(bare, Buffer.from(SPEC.body), headers(several), { now: at(SPEC.timestamp) }),
    ).not.toThrow();
  });

  it('refuses a tampered body, a forged signature, a moved id and a truncated signature', () => {
    const now = { now: at(SPEC.timestamp) };
    expect(reason(() => verifyWebhook(SPEC.secret, '{"test": 2432232315}', headers(), now))).toBe(
      'signature-mismatch',
    );
    expect(reason(() => verifyWebhook(SPEC.secret, SPEC.body, headers('v1,AAAA'), now))).toBe(
      'signature-mismatch',
    );
    expect(
      reason(() =>
        verifyWebhook(SPEC.secret, SPEC.body, headers(SPEC.signature, undefined, 'msg_other'), now),
      ),
    ).toBe('signature-mismatch');
    expect(reason(() => verifyWebhook(SPEC.secret, SPEC.body, headers('v1,'), now))).toBe(
      'signature-mismatch',
    );
    // the same MAC labelled with another scheme version is not accepted
    expect(
      reason(() =>
        verifyWebhook(SPEC.secret, SPEC.body, headers(SPEC.signature.replace('v1,', 'v1a,')), now),
      ),
    ).toBe('signature-mismatch');
  });

  it('refuses replays outside the tolerance, either way, and malformed timestamps', () => {
    expect(
      reason(() => verifyWebhook(SPEC.secret, SPEC.body, headers(), { now: at(SPEC.timestamp + 301) })),
    ).toBe('timestamp-out-of-tolerance');
    expect(
      reason(() => verifyWebhook(SPEC.secret, SPEC.body, headers(), { now: at(SPEC.timestamp - 301) })),
    ).toBe('timestamp-out-of-tolerance');
    expect(
      reason(() =>
        verifyWebhook(SPEC.secret, SPEC.body, headers(), {
          now: at(SPEC.timestamp + 3000),
          toleranceSec: 3600,
        }),
      ),
    ).toBeUndefined();
    expect(
      reason(() => verifyWebhook(SPEC.secret, SPEC.body, headers(SPEC.signature, '1e9'), { now: at(1e9) })),
    ).toBe('bad-timestamp');
  });

  it('refuses a tolerance that would disable replay protection (NaN, Infinity, negative, fractional)', () => {
    for (const toleranceSec of [Number.NaN, Infinity, -1, 1.5, 86_401]) {
      expect(() =>
        verifyWebhook(SPEC.secret, SPEC.body, headers(), { now: at(SPEC.timestamp + 10 ** 9), toleranceSec }),
      ).toThrow(BulwarkConfigError);
    }
    expect(
      reason(() =>
        verifyWebhook(SPEC.secret, SPEC.body, headers(), { now: at(SPEC.timestamp + 1), toleranceSec: 0 }),
      ),
    ).toBe('timestamp-out-of-tolerance');
  });

  it('refuses a request without the headers', () => {
    expect(reason(() => verifyWebhook(SPEC.secret, SPEC.body, {}, { now: at(SPEC.timestamp) }))).toBe(
      'missing-headers',
    );
  });

  it('refuses short or malformed secrets without echoing them', () => {
    for (const bad of ['whsec_c2hvcnQ=', 'whsec_not base64!', '']) {
      try {
        signWebhook(bad, 'id', 1, '{}');
        throw new Error('accepted');
      } catch (err) {
        expect(err).toBeInstanceOf(BulwarkConfigError);
        if (bad !== '') expect((err as Error).message).not.toContain(bad);
      }
    }
  });
});
