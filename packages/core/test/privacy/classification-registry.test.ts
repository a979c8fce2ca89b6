import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import {
  ClassificationRegistry,
  defaultClassificationRegistry,
} from '../../src/privacy/classification-registry';

describe('ClassificationRegistry', () => {
  it('registers, replaces and lists fields sorted by entity then field', () => {
    const r = new ClassificationRegistry();
    r.register({ entity: 'User', field: 'email', category: 'personal', encrypted: false });
    r.register({ entity: 'Patient', field: 'diagnosis', category: 'phi', encrypted: true, purpose: 'care' });
    r.register({ entity: 'User', field: 'email', category: 'personal', encrypted: true, blindIndexed: true });
    expect(r.list().map((f) => `${f.entity}.${f.field}`)).toEqual(['Patient.diagnosis', 'User.email']);
    expect(r.get('User', 'email')).toEqual({
      entity: 'User',
      field: 'email',
      category: 'personal',
      encrypted: true,
      blindIndexed: true,
    });
    expect(r.get('Patient', 'diagnosis')?.purpose).toBe('care');
    expect(r.list('User')).toHaveLength(1);
    expect(r.redactionMap('Patient')).toEqual({ diagnosis: 'phi' });
  });

  it('reports classified fields stored in clear', () => {
    const r = new ClassificationRegistry();
    r.register({ entity: 'Card', field: 'pan', category: 'cardholder', encrypted: true });
    r.register({ entity: 'Card', field: 'holder', category: 'personal', encrypted: false });
    expect(r.unencrypted().map((f) => f.field)).toEqual(['holder']);
  });

  it('rejects bad input with a config error naming the path', () => {
    const r = new ClassificationRegistry();
    const bad = [
      { entity: '', field: 'a', category: 'phi', encrypted: true },
      { entity: 'A', field: 'a', category: 'secret', encrypted: true },
      { entity: 'A', field: 'a', category: 'phi', encrypted: 'yes' },
      { entity: 'A', field: 'a', category: 'phi', encrypted: true, purpose: '' },
    ];
    for (const input of bad) {
      let caught: unknown;
      try {
        r.register(input as never);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(BulwarkConfigError);
      expect((caught as BulwarkConfigError).code).toBe(ErrorCodes.CONFIG_INVALID);
      expect(String((caught as BulwarkConfigError).details?.path)).toMatch(/^classification\./);
    }
    expect(r.list()).toEqual([]);
  });

  it('returns frozen entries and supports unregister / clear', () => {
    const r = new ClassificationRegistry();
    const e = r.register({ entity: 'A', field: 'b', category: 'sensitive', encrypted: false });
    expect(Object.isFrozen(e)).toBe(true);
    expect(r.unregister('A', 'b')).toBe(true);
    expect(r.get('A', 'b')).toBeUndefined();
    r.register({ entity: 'A', field: 'c', category: 'sensitive', encrypted: false });
    r.clear();
    expect(r.list()).toEqual([]);
    expect(defaultClassificationRegistry).toBeInstanceOf(ClassificationRegistry);
  });
});
