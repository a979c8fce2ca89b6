import { parseMasterKey, unwrapWithMasterKey, wrapWithMasterKey } from '../../src/crypto/master-key';
import { ErrorCodes } from '../../src/errors';

// `bulwark keys generate` creates DATA keys (and needs a master key to wrap them); the command that
// makes a master key is `bulwark keys master`. Pointing users at `generate` sent them in a circle.
describe('master key errors point at `bulwark keys master`', () => {
  it.each([
    ['missing', undefined],
    ['empty', '   '],
    ['too short', 'abc'],
    ['not 32 bytes of hex', 'ab'.repeat(31)],
  ])('%s', (_name, text) => {
    let err: unknown;
    try {
      parseMasterKey(text, 'BULWARK_MASTER_KEY');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: ErrorCodes.CRYPTO_KEY_PROVIDER });
    const message = (err as Error).message;
    expect(message).toContain('`bulwark keys master`');
    expect(message).not.toContain('keys generate');
    expect(message).toContain('BULWARK_MASTER_KEY');
    if (text !== undefined && text.trim() !== '') expect(message).not.toContain(text); // never echoed
  });
});

// The ring's secret and subject keys are wrapped under reserved ids (`$ring`, `$subject:<ref>`):
// internals an operator cannot act on, and a subject reference has no place in an error message.
describe('unwrap failures name keys as a user knows them', () => {
  const wrongKey = Buffer.alloc(32, 1);
  const wrapped = wrapWithMasterKey(Buffer.alloc(32, 2), Buffer.alloc(32, 3), { keyId: 'x', version: 1 });
  const messageFor = (keyId: string): string => {
    try {
      unwrapWithMasterKey(wrongKey, wrapped, { keyId, version: 1 });
    } catch (err) {
      expect(err).toMatchObject({ code: ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED });
      return (err as Error).message;
    }
    throw new Error('unwrapped with the wrong master key');
  };

  it.each([
    ['$ring', "the key ring's internal secret"],
    ['$subject:3f9a0c', "a data subject's key"],
    ['pii', 'the data key "pii" v1'],
  ])('%s', (keyId, described) => {
    const message = messageFor(keyId);
    expect(message).toContain(`Cannot unwrap ${described}: wrong master key`);
    expect(message).not.toContain('$ring');
    expect(message).not.toContain('3f9a0c');
  });
});
