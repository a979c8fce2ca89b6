import fc from 'fast-check';
import { envelopeKind } from '../../src/crypto/envelope';
import { memoryRing } from './helpers';

describe('envelopeKind', () => {
  it('tells the four kinds the ring writes apart, from real envelopes', async () => {
    const ring = await memoryRing();
    try {
      await ring.createKey('pii');
      expect(envelopeKind(ring.encrypt('pii', 'ada'))).toEqual({
        subject: false,
        deterministic: false,
        format: 2,
      });
      expect(envelopeKind(ring.encrypt('pii', 'ada', { deterministic: true }))).toEqual({
        subject: false,
        deterministic: true,
        format: 2,
      });
      expect(envelopeKind(await ring.encryptForSubject('patient-42', 'ada'))).toEqual({
        subject: true,
        deterministic: false,
        format: 2,
      });
      expect(
        envelopeKind(await ring.encryptForSubject('patient-42', 'ada', { deterministic: true })),
      ).toEqual({
        subject: true,
        deterministic: true,
        format: 2,
      });
    } finally {
      await ring.close();
    }
  });

  it('answers undefined for plaintext, look-alike prefixes and non-strings', () => {
    for (const value of [
      'ada@example.com',
      '',
      'bw1',
      'bw1x.a.1.b.c',
      'bw3.a.1.b.c',
      'BW1.a',
      '.bw1.',
      'bw1sdd.a.b.c',
      'bw1ds.a.b.c',
      'bw0.a.1.b.c',
      'bw1s',
      'bw2sd',
      'bw\u0131.a.1.b.c',
    ]) {
      expect(envelopeKind(value)).toBeUndefined();
    }
    for (const value of [undefined, null, 42, Buffer.from('bw1.a'), { toString: () => 'bw1.a' }]) {
      expect(envelopeKind(value)).toBeUndefined();
    }
  });

  it('reads only the prefix: a well-prefixed malformed value is an envelope for the decryptor to refuse', () => {
    expect(envelopeKind('bw1.not-an-envelope')).toEqual({ subject: false, deterministic: false, format: 1 });
    expect(envelopeKind('bw1s.')).toEqual({ subject: true, deterministic: false, format: 1 });
    expect(envelopeKind('bw2sd.')).toEqual({ subject: true, deterministic: true, format: 2 });
  });

  it('agrees with the format grammar on any string (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc
            .tuple(
              fc.constantFrom(
                'bw1',
                'bw1d',
                'bw1s',
                'bw1sd',
                'bw2',
                'bw2d',
                'bw2s',
                'bw2sd',
                'bw1ds',
                'bw1x',
                'bw3',
                'bw',
                'bw1sdd',
              ),
              fc.string(),
            )
            .map(([prefix, rest]) => prefix + rest),
        ),
        (value) => {
          // The whole kind, not only "is an envelope" (envelopeKind reads character codes).
          const m = /^bw([12])(s)?(d)?\./.exec(value);
          const expected =
            m === null
              ? undefined
              : { subject: m[2] !== undefined, deterministic: m[3] !== undefined, format: Number(m[1]) };
          expect(envelopeKind(value)).toEqual(expected);
        },
      ),
    );
  });
});
