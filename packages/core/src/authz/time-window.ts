import type { TimeWindowDefinition, Weekday } from './policy-document';

/**
 * Local wall-clock windows ("weekdays 08:00-18:00 in Europe/Berlin"). The instant is converted
 * with Intl.DateTimeFormat in the window's IANA zone, so daylight-saving shifts are the zone
 * database's job, not ours. Conversions are cached per epoch minute: a zone's offset is a whole
 * number of minutes for every modern zone, so the local minute is stable within a UTC minute.
 */

export const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const WEEKDAY_BY_SHORT: Readonly<Record<string, number>> = {
  Sun: 0,
  Mon: 1,
  Tue: 2,
  Wed: 3,
  Thu: 4,
  Fri: 5,
  Sat: 6,
};
const CLOCK_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** `HH:MM` -> minutes after midnight; `24:00` only when `allowEndOfDay`. `undefined` if malformed. */
export function parseClockTime(value: string, allowEndOfDay: boolean): number | undefined {
  if (allowEndOfDay && value === '24:00') return 24 * 60;
  const m = CLOCK_RE.exec(value);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** A formatter for the zone, or `undefined` when Intl does not know the zone. */
export function zoneFormatter(timeZone: string): Intl.DateTimeFormat | undefined {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      });
    } catch {
      return undefined; // RangeError: unknown time zone
    }
    formatters.set(timeZone, f);
  }
  return f;
}

export interface LocalTime {
  /** 0 = Sunday. */
  day: number;
  /** Minutes after local midnight. */
  minute: number;
}

export interface CompiledTimeWindow {
  test(epochMs: number): boolean;
  local(epochMs: number): LocalTime;
}

export function compileTimeWindow(def: TimeWindowDefinition): CompiledTimeWindow {
  const formatter = zoneFormatter(def.timeZone)!;
  const start = parseClockTime(def.start, false)!;
  const end = parseClockTime(def.end, true)!;
  const days = new Uint8Array(7);
  for (const d of def.days ?? WEEKDAYS) days[WEEKDAYS.indexOf(d)] = 1;
  const wraps = end <= start;

  let cachedMinute = NaN;
  let cached: LocalTime = { day: 0, minute: 0 };
  const local = (epochMs: number): LocalTime => {
    const epochMinute = Math.floor(epochMs / 60_000);
    if (epochMinute === cachedMinute) return cached;
    let day = 0;
    let hour = 0;
    let minute = 0;
    for (const part of formatter.formatToParts(epochMs)) {
      if (part.type === 'weekday') day = WEEKDAY_BY_SHORT[part.value];
      else if (part.type === 'hour') hour = Number(part.value);
      else if (part.type === 'minute') minute = Number(part.value);
    }
    cached = { day, minute: hour * 60 + minute };
    cachedMinute = epochMinute;
    return cached;
  };

  return {
    local,
    test(epochMs) {
      if (!Number.isFinite(epochMs)) return false;
      const t = local(epochMs);
      if (!wraps) return days[t.day] === 1 && t.minute >= start && t.minute < end;
      // 22:00-06:00: the evening part belongs to today's window, the small hours to yesterday's.
      if (t.minute >= start) return days[t.day] === 1;
      return t.minute < end && days[(t.day + 6) % 7] === 1;
    },
  };
}
