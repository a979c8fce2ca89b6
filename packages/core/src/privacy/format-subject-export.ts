import { BulwarkPrivacyError, ErrorCodes } from '../errors';
import type { SubjectDataLabel, SubjectDataValue } from './subject-data-source';

/**
 * The access / portability export (GDPR Art. 15, Art. 20: "structured, commonly used and
 * machine-readable format"). Schema `bulwark-subject-export/1`, stable; every field carries its
 * classification label.
 *
 * JSON: this object as is.
 *
 * CSV (RFC 4180, CRLF line ends, UTF-8): header
 *   `source,record_type,record_id,field,classification,value_type,value`
 * then one row per field. `value_type` is string | number | boolean | null | json; a json value is
 * its JSON text. Every cell is quoted. Formula-injection guard (OWASP "CSV Injection"): a cell, or
 * any piece of it after a `,` `;` TAB `|` CR or LF (a spreadsheet may split on any of them), that
 * starts (after spaces and quotes) with `=` `+` `-` `@` TAB, CR or a full-width `＝＋－＠` gets a
 * `'` in front, so spreadsheet software shows it as text: `Asthma;=1+1` is written
 * `"Asthma;'=1+1"`. This also applies to negative numbers (`'-5`).
 *
 * XML 1.0 (UTF-8):
 *   <subjectExport format requestId subjectId generatedAt>
 *     <source id description>
 *       <record type id?>
 *         <field name classification type [encoding="base64"]>value</field>
 * Text and attributes are escaped (`& < > " '`, and CR / LF / TAB in attributes as character
 * references so parsers keep them). A value holding a character XML 1.0 cannot carry (control
 * characters, lone surrogates, U+FFFE/U+FFFF) is emitted base64 (UTF-8) with `encoding="base64"`.
 */
export interface SubjectExport {
  format: typeof SUBJECT_EXPORT_FORMAT;
  requestId: string;
  subjectId: string;
  generatedAt: string;
  sources: SubjectExportSource[];
}

export interface SubjectExportSource {
  id: string;
  description: string;
  records: SubjectExportRecord[];
}

export interface SubjectExportRecord {
  type: string;
  id?: string;
  fields: SubjectExportField[];
}

export interface SubjectExportField {
  name: string;
  classification: SubjectDataLabel;
  value: SubjectDataValue;
}

export type SubjectExportFormat = 'json' | 'csv' | 'xml';

export interface FormattedSubjectExport {
  format: SubjectExportFormat;
  contentType: string;
  /** Suggested file name. */
  filename: string;
  body: string;
}

export const SUBJECT_EXPORT_FORMAT = 'bulwark-subject-export/1';
export const SUBJECT_EXPORT_CSV_HEADER = [
  'source',
  'record_type',
  'record_id',
  'field',
  'classification',
  'value_type',
  'value',
] as const;

export function formatSubjectExport(doc: SubjectExport, format: SubjectExportFormat): FormattedSubjectExport {
  const base = `subject-export-${doc.requestId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  switch (format) {
    case 'json':
      return {
        format,
        contentType: 'application/json; charset=utf-8',
        filename: `${base}.json`,
        body: toJson(doc),
      };
    case 'csv':
      return {
        format,
        contentType: 'text/csv; charset=utf-8; header=present',
        filename: `${base}.csv`,
        body: toCsv(doc),
      };
    case 'xml':
      return {
        format,
        contentType: 'application/xml; charset=utf-8',
        filename: `${base}.xml`,
        body: toXml(doc),
      };
    default:
      throw new BulwarkPrivacyError(
        ErrorCodes.PRIVACY_INVALID_ARGUMENT,
        'export format must be json, csv or xml',
        {
          path: 'format',
        },
      );
  }
}

function toJson(doc: SubjectExport): string {
  return JSON.stringify(doc, null, 2) + '\n';
}

function valueType(value: SubjectDataValue): 'string' | 'number' | 'boolean' | 'null' | 'json' {
  if (value === null) return 'null';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return typeof value as 'string' | 'number' | 'boolean';
  }
  return 'json';
}

function valueText(value: SubjectDataValue): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection"): `=` `+` `-`
 * `@`, TAB and CR, and their full-width forms (U+FF1D U+FF0B U+FF0D U+FF20), which spreadsheets in
 * East Asian locales accept as formula starts too.
 */
const FORMULA_CHARS: ReadonlySet<string> = new Set([
  '=',
  '+',
  '-',
  '@',
  '\t',
  '\r',
  '\uFF1D',
  '\uFF0B',
  '\uFF0D',
  '\uFF20',
]);
/**
 * Where a spreadsheet may start a new cell inside our text: the separators an import dialog offers
 * (`,` `;` TAB `|`, whatever the file says) and line breaks. Quoting does not protect a cell whose
 * reader splits on another separator than the writer used, so every piece is guarded.
 */
const CELL_BREAKS: ReadonlySet<string> = new Set([',', ';', '\t', '|', '\r', '\n']);
/** Skipped when looking for a formula start: spreadsheets trim spaces and strip field quotes. */
const CELL_PADDING: ReadonlySet<string> = new Set([' ', '"', '\u00A0', '\u3000']);

/**
 * Puts `'` (spreadsheets show the rest as text) before every piece of `text` that would start a
 * formula: at the start, and after every separator or line break, ignoring padding spaces and quotes.
 */
function neutralizeFormulas(text: string): string {
  let out = '';
  let pieceStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (pieceStart) {
      let j = i;
      while (j < text.length && CELL_PADDING.has(text[j]!)) j++;
      if (j < text.length && FORMULA_CHARS.has(text[j]!)) out += "'";
      pieceStart = false;
    }
    out += c;
    if (CELL_BREAKS.has(c)) pieceStart = true;
  }
  // A trailing separator starts an empty piece: nothing to guard.
  return out;
}

/**
 * One CSV cell: the formula guard (at the start and after any separator a spreadsheet may split
 * on), then RFC 4180 quoting of every cell, so no reader has to guess where a cell ends.
 */
export function csvCell(text: string): string {
  return `"${neutralizeFormulas(text).replace(/"/g, '""')}"`;
}

function toCsv(doc: SubjectExport): string {
  const rows: string[] = [SUBJECT_EXPORT_CSV_HEADER.map(csvCell).join(',')];
  for (const source of doc.sources) {
    for (const record of source.records) {
      for (const field of record.fields) {
        rows.push(
          [
            source.id,
            record.type,
            record.id ?? '',
            field.name,
            field.classification,
            valueType(field.value),
            valueText(field.value),
          ]
            .map(csvCell)
            .join(','),
        );
      }
    }
  }
  return rows.join('\r\n') + '\r\n';
}

// XML 1.0 §2.2 Char production; anything else cannot appear, even as a character reference.
// eslint-disable-next-line no-control-regex
const XML_INVALID = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

function escapeAttr(text: string): string {
  // Attribute-value normalisation (XML 1.0 §3.3.3) turns raw TAB / CR / LF into spaces;
  // character references survive it.
  return escapeText(text)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\t/g, '&#9;');
}

/** An attribute value; ids and names holding characters XML cannot carry are base64-encoded, marked `b64:`. */
function attr(name: string, value: string): string {
  const v = XML_INVALID.test(value) ? `b64:${Buffer.from(value, 'utf8').toString('base64')}` : value;
  return ` ${name}="${escapeAttr(v)}"`;
}

function toXml(doc: SubjectExport): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<subjectExport${attr('format', doc.format)}${attr('requestId', doc.requestId)}${attr('subjectId', doc.subjectId)}${attr('generatedAt', doc.generatedAt)}>`,
  );
  for (const source of doc.sources) {
    out.push(`  <source${attr('id', source.id)}${attr('description', source.description)}>`);
    for (const record of source.records) {
      out.push(
        `    <record${attr('type', record.type)}${record.id === undefined ? '' : attr('id', record.id)}>`,
      );
      for (const field of record.fields) {
        const text = valueText(field.value);
        const b64 = XML_INVALID.test(text);
        const body = b64 ? Buffer.from(text, 'utf8').toString('base64') : escapeText(text);
        out.push(
          `      <field${attr('name', field.name)}${attr('classification', field.classification)}${attr('type', valueType(field.value))}${b64 ? ' encoding="base64"' : ''}>${body}</field>`,
        );
      }
      out.push('    </record>');
    }
    out.push('  </source>');
  }
  out.push('</subjectExport>');
  return out.join('\n') + '\n';
}
