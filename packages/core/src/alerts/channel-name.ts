import { configError } from '../util/options';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Channel names end up in routes, spool directory names and audit events: a safe, short token. */
export function checkChannelName(name: unknown, path: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw configError(path, 'must be 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit');
  }
  return name;
}
