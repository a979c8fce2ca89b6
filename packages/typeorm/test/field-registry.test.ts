import { fieldRegistry, type EncryptedFieldSpec } from '../src/field-registry';

/*
 * The registry answers from a cache (the query guards and subscribers ask per query and per row);
 * a decorator that runs later, on the class or an ancestor, must still be seen.
 */
const spec = (target: EncryptedFieldSpec['target'], property: string) =>
  ({
    target,
    property,
    deterministic: false,
    bindToRow: false,
    type: 'string',
    transformer: {},
  }) as unknown as EncryptedFieldSpec;

describe('fieldRegistry', () => {
  it("gives a class its ancestors' specs, and sees specs added after it answered", () => {
    class Base {}
    class Account extends Base {}
    fieldRegistry.addEncrypted(spec(Account, 'email'));
    expect(fieldRegistry.encrypted(Account).map((s) => s.property)).toEqual(['email']);
    expect(fieldRegistry.encrypted(Base)).toEqual([]);

    // Decorators of an ancestor, and of the class itself, running after the first answer.
    fieldRegistry.addEncrypted(spec(Base, 'ssn'));
    expect(fieldRegistry.encrypted(Account).map((s) => s.property)).toEqual(['ssn', 'email']);
    fieldRegistry.addEncrypted(spec(Account, 'bio'));
    expect(fieldRegistry.encrypted(Account).map((s) => s.property)).toEqual(['ssn', 'email', 'bio']);
    expect(fieldRegistry.encrypted(Base).map((s) => s.property)).toEqual(['ssn']);

    // A blind index added later is seen too (each registry has its own cache).
    expect(fieldRegistry.blindIndexes(Account)).toEqual([]);
    fieldRegistry.addBlindIndex({ target: Account, property: 'emailIndex', source: 'email' });
    expect(fieldRegistry.blindIndexes(Account).map((s) => s.property)).toEqual(['emailIndex']);
  });

  it('answers with one frozen array per class, which callers cannot change', () => {
    class Patient {}
    fieldRegistry.addEncrypted(spec(Patient, 'diagnosis'));
    const first = fieldRegistry.encrypted(Patient);
    expect(fieldRegistry.encrypted(Patient)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => (first as EncryptedFieldSpec[]).push(spec(Patient, 'x'))).toThrow(TypeError);
    expect(fieldRegistry.encrypted('not a class')).toEqual([]);
  });
});
