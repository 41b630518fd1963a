// Text clean-up applied to every user/item/review text before it reaches a tokenizer.

const NAMED_ENTITIES: Record<string, string> = { amp: "&", quot: '"', apos: "'", lt: "<", gt: ">", nbsp: " " };

/** Decodes the HTML entities found in review dumps (&#34;, &#x27;, &amp;, ...); unknown ones stay as they are. */
export function decodeHtmlEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);/g, (whole, body: string) => {
    if (body[0] === "#") {
      const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? whole;
  });
}

/**
 * Trims and collapses whitespace, and breaks literal "user_12"/"item_7" in free text into "user 12" so that
 * raw text can never smuggle in an atomic user/item token (the RecTokenizer would read it as one).
 */
export function cleanText(text: string): string {
  return text
    .replace(/\s+/g, " ")
    .trim()
    .replace(/\b(user|item)_(\d+)\b/gi, "$1 $2");
}
