import { Filter } from 'ldapts';

/**
 * RFC 4515 §3: escapes a value for an LDAP search filter (`*`, `(`, `)`, `\` and NUL become `\2a`,
 * `\28`, `\29`, `\5c`, `\00`), so `*)(uid=*` typed as a user name matches nothing instead of
 * widening the filter. ldapts' escaper, re-exported under Bulwark's name.
 */
export function escapeFilterValue(value: string): string {
  return Filter.escape(value);
}

/**
 * RFC 4514 §2.4: escapes a value for one RDN of a distinguished name (`"+,;<>\` and `=`, a leading
 * `#` or space, a trailing space, and NUL as `\00`), so a user name cannot add an RDN or move the DN
 * to another subtree. (ldapts' own DN escaping quotes values, which RFC 4514 no longer allows.)
 */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\0') out += '\\00';
    else if ('"+,;<>\\='.includes(ch)) out += `\\${ch}`;
    else if ((i === 0 && (ch === '#' || ch === ' ')) || (i === value.length - 1 && ch === ' '))
      out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

/** Fills `{{name}}` placeholders of a filter or DN template with escaped values. */
export function fillTemplate(
  template: string,
  values: Readonly<Record<string, string>>,
  escape: (value: string) => string,
): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? escape(values[name]!) : whole,
  );
}
