import fc from 'fast-check';
import { MemoryWindowCounter } from '../../src/threat/memory-window-counter';

describe('MemoryWindowCounter', () => {
  it("counts per key in a fixed window that starts at the key's first request", () => {
    let now = 1_000_000;
    const counter = new MemoryWindowCounter(60, () => now);
    expect(counter.take('a')).toEqual({ count: 1, msBeforeNext: 60_000 });
    now += 10_000;
    expect(counter.take('a')).toEqual({ count: 2, msBeforeNext: 50_000 });
    expect(counter.take('b')).toEqual({ count: 1, msBeforeNext: 60_000 });
    now += 49_999;
    expect(counter.take('a')).toEqual({ count: 3, msBeforeNext: 1 });
    now += 1; // a's window is over: a new one starts with this request
    expect(counter.take('a')).toEqual({ count: 1, msBeforeNext: 60_000 });
    expect(counter.take('b')).toEqual({ count: 2, msBeforeNext: 10_000 });
  });

  it('drops ended windows, so memory holds the keys of about two windows at most', () => {
    let now = 0;
    const counter = new MemoryWindowCounter(1, () => now);
    for (let i = 0; i < 1000; i++) counter.take(`client-${i}`);
    expect(counter.size).toBe(1000);
    now += 1000; // every window ended; the next count sweeps them
    counter.take('late');
    expect(counter.size).toBe(1);
  });

  it('agrees with a plain model of fixed windows for any sequence of requests', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 2500 })), {
          maxLength: 200,
        }),
        (requests) => {
          let now = 0;
          const counter = new MemoryWindowCounter(2, () => now);
          const model = new Map<string, { count: number; endsAt: number }>();
          for (const [key, advance] of requests) {
            now += advance;
            let w = model.get(key);
            if (w === undefined || w.endsAt <= now) model.set(key, (w = { count: 0, endsAt: now + 2000 }));
            w.count++;
            expect(counter.take(key)).toEqual({ count: w.count, msBeforeNext: w.endsAt - now });
          }
        },
      ),
    );
  });
});
