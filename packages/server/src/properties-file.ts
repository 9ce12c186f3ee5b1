// A subset of Java's .properties format, enough for Kafka-style server.properties files:
// `key=value`, `key: value` or `key value`; `#` and `!` start comments; a trailing backslash continues
// the value on the next line. Later duplicates win, as in java.util.Properties.

export interface PropertyValue {
  readonly value: string;
  /** 1-based line where the key appeared, so errors can point at it. */
  readonly line: number;
}

const MAX_PROPERTIES = 10_000;

export function parseProperties(text: string): Map<string, PropertyValue> {
  const result = new Map<string, PropertyValue>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    let logical = (lines[i] ?? '').trimStart();
    if (logical === '' || logical.startsWith('#') || logical.startsWith('!')) continue;
    while (endsWithContinuation(logical) && i + 1 < lines.length) {
      i++;
      logical = logical.slice(0, -1) + (lines[i] ?? '').trimStart();
    }
    const separator = logical.search(/[=:\s]/);
    const key = separator < 0 ? logical : logical.slice(0, separator);
    let rest = separator < 0 ? '' : logical.slice(separator);
    rest = rest.replace(/^\s*[=:]?\s*/, '');
    result.set(key.trim(), { value: rest.trim(), line: startLine });
    if (result.size > MAX_PROPERTIES) {
      throw new Error(`more than ${MAX_PROPERTIES} properties`);
    }
  }
  return result;
}

function endsWithContinuation(line: string): boolean {
  const trailing = /\\+$/.exec(line);
  // An even number of backslashes is escaped backslashes, not a continuation.
  return trailing !== null && trailing[0].length % 2 === 1;
}
