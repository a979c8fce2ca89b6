import { parseMasterKey } from '../../src/crypto/master-key';
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
