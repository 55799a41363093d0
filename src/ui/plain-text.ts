// Text that came from elsewhere (EB's events, an app's log) goes to our output without
// terminal control: an escape sequence in an event message must not recolour, move the
// cursor or retitle the operator's terminal, and a cron log stays plain text.

// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and two-byte escapes.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;

/** One line: escapes removed, line breaks and tabs turned into spaces, other control characters dropped. */
export function plainLine(text: string): string {
  return text
    .replace(ESCAPES, '')
    .replace(/[\t\r\n]+/g, ' ')
    .replace(/[\x00-\x1f\x7f-\x9f]/g, '')
    .trim();
}

/** Many lines: the same, but line breaks and tabs stay. */
export function plainLines(text: string): string {
  return text
    .replace(ESCAPES, '')
    .replace(/\r\n/g, '\n')
    .replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '');
}
