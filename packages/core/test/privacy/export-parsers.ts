/**
 * Minimal, independent parsers used to read Bulwark's exports back in tests: an RFC 4180 CSV
 * reader and a small XML 1.0 element parser (no regular expressions, no DTDs). They are strict:
 * malformed input throws, so an escaping bug in the writer fails the test.
 */

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  let quoted = false;
  let cellStarted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = text[i];
        if (next !== ',' && next !== '\r' && next !== undefined)
          throw new Error(`CSV: text after closing quote at ${i}`);
        continue;
      }
      cell += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (cellStarted) throw new Error(`CSV: quote inside unquoted cell at ${i}`);
      quoted = true;
      cellStarted = true;
      i++;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
      cellStarted = false;
      i++;
    } else if (c === '\r') {
      if (text[i + 1] !== '\n') throw new Error(`CSV: bare CR at ${i}`);
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      cellStarted = false;
      i += 2;
    } else if (c === '\n') {
      throw new Error(`CSV: bare LF at ${i}`);
    } else {
      cell += c;
      cellStarted = true;
      i++;
    }
  }
  if (quoted) throw new Error('CSV: unterminated quote');
  if (cellStarted || row.length > 0) throw new Error('CSV: last row not terminated by CRLF');
  return rows;
}

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:';

export function parseXml(input: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`XML: ${msg} at ${i}`);
  };
  const skipWs = () => {
    while (i < input.length && ' \t\r\n'.includes(input[i]!)) i++;
  };
  const expect = (s: string) => {
    if (!input.startsWith(s, i)) fail(`expected ${s}`);
    i += s.length;
  };
  const name = (): string => {
    const start = i;
    while (i < input.length && NAME_CHARS.includes(input[i]!)) i++;
    if (i === start) fail('expected a name');
    return input.slice(start, i);
  };
  const decode = (raw: string, inAttr: boolean): string => {
    let out = '';
    for (let k = 0; k < raw.length; k++) {
      const ch = raw[k]!;
      if (ch === '<') fail('raw < in content');
      if (ch === '&') {
        const end = raw.indexOf(';', k);
        if (end < 0) fail('unterminated entity');
        const ent = raw.slice(k + 1, end);
        if (ent === 'amp') out += '&';
        else if (ent === 'lt') out += '<';
        else if (ent === 'gt') out += '>';
        else if (ent === 'quot') out += '"';
        else if (ent === 'apos') out += "'";
        else if (ent.startsWith('#x')) out += String.fromCodePoint(parseInt(ent.slice(2), 16));
        else if (ent.startsWith('#')) out += String.fromCodePoint(parseInt(ent.slice(1), 10));
        else fail(`unknown entity ${ent}`);
        k = end;
        continue;
      }
      // XML end-of-line handling and attribute-value normalisation.
      if (ch === '\r') {
        if (raw[k + 1] === '\n') k++;
        out += inAttr ? ' ' : '\n';
      } else if (inAttr && (ch === '\n' || ch === '\t')) out += ' ';
      else out += ch;
    }
    return out;
  };
  const element = (): XmlElement => {
    expect('<');
    const el: XmlElement = { name: name(), attrs: {}, children: [], text: '' };
    for (;;) {
      skipWs();
      if (input.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (input[i] === '>') {
        i++;
        break;
      }
      const attr = name();
      skipWs();
      expect('=');
      skipWs();
      const q = input[i];
      if (q !== '"' && q !== "'") fail('expected a quote');
      i++;
      const end = input.indexOf(q!, i);
      if (end < 0) fail('unterminated attribute');
      if (attr in el.attrs) fail(`duplicate attribute ${attr}`);
      el.attrs[attr] = decode(input.slice(i, end), true);
      i = end + 1;
    }
    for (;;) {
      if (input.startsWith('</', i)) {
        i += 2;
        if (name() !== el.name) fail(`mismatched end tag for ${el.name}`);
        skipWs();
        expect('>');
        return el;
      }
      if (input[i] === '<') {
        el.children.push(element());
        continue;
      }
      const next = input.indexOf('<', i);
      if (next < 0) fail('unterminated element');
      el.text += decode(input.slice(i, next), false);
      i = next;
    }
  };
  if (input.startsWith('<?xml', i)) {
    const end = input.indexOf('?>', i);
    if (end < 0) fail('unterminated declaration');
    i = end + 2;
  }
  skipWs();
  const root = element();
  skipWs();
  if (i !== input.length) fail('content after the root element');
  return root;
}
