// The detector's tokenizer in the page: tokenizer.json through Hugging Face's tokenizers.js, with two gaps of that
// library filled from files the `web` stage writes, so the page's ids equal the Rust `tokenizers` runtime's (the
// browser tests compare them on every val text):
//
// - tokenizers.js approximates SentencePiece's `Precompiled` normalizer with NFKC (its source says so) and ignores the
//   map. Ours is not plain NFKC: it carries the robustness rules (no invisible characters, look-alike letters mapped,
//   case folded: tinydetect.modeling.normalization). The stage writes that map as a table, character -> output, read
//   off the Rust normalizer itself (charmap.json); the page runs it in the Precompiled step's place.
// - tokenizers.js's Unigram model has no byte fallback: a character outside the vocabulary becomes [UNK], where
//   SentencePiece and the Rust runtime spell it as its UTF-8 bytes (<0xEC><0x9B><0x83>). The page asks the model not to
//   fuse unknown characters and spells each one in bytes, as they do.
import { Tokenizer } from "@huggingface/tokenizers";

type TokenizerJson = {
  model: { type: string; vocab: [string, number][]; unk_id: number; byte_fallback?: boolean };
  post_processor: { special_tokens: Record<string, { ids: number[] }> };
  truncation: { max_length: number } | null;
  normalizer: unknown;
};

type NormalizerStep = { normalize(text: string): string; config?: { type?: string }; normalizers?: NormalizerStep[] };

export class DetectorTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly unkId: number;
  private readonly byteIds: Map<number, number> | null;
  private readonly clsId: number;
  private readonly sepId: number;
  readonly maxLength: number;

  constructor(json: TokenizerJson, charmap: Record<string, string>) {
    this.tokenizer = new Tokenizer(json as never, {});
    replacePrecompiledStep(this.tokenizer, charmap);
    const model = (this.tokenizer as unknown as { model: { fuse_unk: boolean } }).model;
    model.fuse_unk = false; // one [UNK] per unknown character, so each can be spelled in bytes
    this.unkId = json.model.unk_id;
    this.byteIds = json.model.byte_fallback ? byteFallbackIds(json.model.vocab) : null;
    this.clsId = json.post_processor.special_tokens["[CLS]"].ids[0];
    this.sepId = json.post_processor.special_tokens["[SEP]"].ids[0];
    this.maxLength = json.truncation?.max_length ?? 512;
  }

  /** [CLS] pieces [SEP], the pieces cut to fit maxLength, as the Rust runtime truncates before its template. */
  encode(text: string): number[] {
    const { ids, tokens } = this.tokenizer.encode(text, { add_special_tokens: false });
    const pieces: number[] = [];
    ids.forEach((id, index) => pieces.push(...this.spell(id, tokens[index])));
    return [this.clsId, ...pieces.slice(0, this.maxLength - 2), this.sepId];
  }

  private spell(id: number, piece: string): number[] {
    if (id !== this.unkId || this.byteIds === null) return [id];
    const bytes = [...new TextEncoder().encode(piece)].map((byte) => this.byteIds!.get(byte));
    return bytes.every((byteId) => byteId !== undefined) ? (bytes as number[]) : [id];
  }
}

function byteFallbackIds(vocab: [string, number][]): Map<number, number> {
  const ids = new Map<number, number>();
  vocab.forEach(([piece], id) => {
    const match = /^<0x([0-9A-F]{2})>$/.exec(piece);
    if (match) ids.set(parseInt(match[1], 16), id);
  });
  return ids;
}

/** Each code point through the table (characters it does not list stay). */
export function applyCharmap(text: string, charmap: Record<string, string>): string {
  let out = "";
  for (const character of text) out += charmap[character] ?? character;
  return out;
}

function replacePrecompiledStep(tokenizer: Tokenizer, charmap: Record<string, string>): void {
  const root = (tokenizer as unknown as { normalizer: NormalizerStep | null }).normalizer;
  const steps = root?.normalizers ?? [];
  const index = steps.findIndex((step) => step?.config?.type === "Precompiled");
  if (index < 0) {
    if (Object.keys(charmap).length > 0) throw new Error("charmap.json given, but tokenizer.json has no Precompiled step");
    return;
  }
  steps[index] = { normalize: (text: string) => applyCharmap(text, charmap) };
}
