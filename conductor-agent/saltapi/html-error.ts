/**
 * salt-api sends most errors as CherryPy's default HTML page (`<title>401 Unauthorized</title>`,
 * `<h2>…</h2><p>message</p>`), and the generic 500 as JSON. This pure parser pulls the status
 * line and message out of either, and never throws on odd input.
 */

export interface ParsedErrorBody {
  /** e.g. `401 Unauthorized` (from `<h2>`/`<title>`), when present. */
  title?: string;
  /** The human message (`<p>…</p>` or the JSON `return`), entities decoded; '' when none. */
  message: string;
  /** A traceback, when salt-api runs with `debug: True`. */
  traceback?: string;
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  '#39': "'",
  '#x27': "'",
  nbsp: ' ',
};

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, name: string) => {
    const lower = name.toLowerCase();
    if (ENTITIES[lower] !== undefined) return ENTITIES[lower]!;
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return m;
  });
}

const text = (html: string): string =>
  decodeEntities(html.replace(/<[^>]*>/g, ''))
    .replace(/\s+/g, ' ')
    .trim();

/** Parse an error body (HTML page, JSON `{status, return}`, or anything else). */
export function parseErrorBody(body: string, contentType = ''): ParsedErrorBody {
  const trimmed = body.trim();
  if (/json/i.test(contentType) || trimmed.startsWith('{')) {
    try {
      const doc = JSON.parse(trimmed) as { return?: unknown; status?: unknown };
      const message = typeof doc.return === 'string' ? doc.return : JSON.stringify(doc.return ?? doc);
      return { message, ...(doc.status !== undefined ? { title: String(doc.status) } : {}) };
    } catch {
      /* fall through to HTML/text */
    }
  }
  const h2 = /<h2[^>]*>([\s\S]*?)<\/h2>/i.exec(body)?.[1];
  const title = h2 ?? /<title[^>]*>([\s\S]*?)<\/title>/i.exec(body)?.[1];
  const p = /<p[^>]*>([\s\S]*?)<\/p>/i.exec(body)?.[1];
  const tb = /<pre[^>]*id=["']traceback["'][^>]*>([\s\S]*?)<\/pre>/i.exec(body)?.[1];
  if (title !== undefined || p !== undefined) {
    const out: ParsedErrorBody = { message: p !== undefined ? text(p) : '' };
    if (title !== undefined) out.title = text(title);
    if (tb && text(tb)) out.traceback = decodeEntities(tb).trim().slice(0, 4000);
    return out;
  }
  return { message: text(body).slice(0, 500) };
}
