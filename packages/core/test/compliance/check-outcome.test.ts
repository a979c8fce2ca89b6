import { listProblems } from '../../src/compliance/checks/check-outcome';

describe('listProblems (the problems part of a check summary)', () => {
  it('is undefined when every group is empty', () => {
    expect(listProblems([])).toBeUndefined();
    expect(
      listProblems([
        ['a', []],
        ['b', []],
      ]),
    ).toBeUndefined();
  });

  it('names each group with items, in order, and leaves empty groups out', () => {
    expect(
      listProblems([
        ['no lawful basis', ['ads', 'crm']],
        ['unused', []],
        ['register defects', ['x: y']],
      ]),
    ).toBe('no lawful basis: ads, crm; register defects: x: y');
  });

  it('shortens a long group like list() does', () => {
    const many = Array.from({ length: 40 }, (_, i) => `f${i}`);
    const out = listProblems([['fields', many]])!;
    expect(out.startsWith('fields: f0, f1,')).toBe(true);
    expect(out).toMatch(/ and \d+ more$/);
  });
});
