// tinydetect.core.sentences and tinydetect.runtime.sentences (the "window" method), line for line: one splitting rule
// and one way to score a sentence on every surface. Spans here are UTF-16 offsets (JavaScript's string indices, what
// DOM ranges take); Python's are code points. The browser tests check both find the same sentences.
import type { Detector } from "./detector";

const SENTENCE_END = /[.!?\u2026\u3002\uff01\uff1f]+["'\u201d\u2019)\]\u300d\u300f]*(?=\s|$)|\n/gu;
export const WINDOW = 1; // neighbours on each side
export const MAX_SENTENCES = 256;

export interface SentenceScore {
  start: number;
  end: number;
  p_ai: number;
}

/** [start, end) of each sentence, trimmed of whitespace, empty ones dropped. */
export function sentenceSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  let start = 0;
  for (const boundary of text.matchAll(SENTENCE_END)) {
    const end = boundary.index + boundary[0].length;
    addTrimmed(spans, text, start, end);
    start = end;
  }
  addTrimmed(spans, text, start, text.length);
  return spans;
}

function addTrimmed(spans: [number, number][], text: string, start: number, end: number): void {
  const piece = text.slice(start, end);
  const leading = piece.length - piece.replace(/^\s+/u, "").length;
  const trailing = piece.length - piece.replace(/\s+$/u, "").length;
  if (leading < piece.length) spans.push([start + leading, end - trailing]);
}

export function sentences(text: string): string[] {
  return sentenceSpans(text).map(([start, end]) => text.slice(start, end));
}

/** Each sentence with WINDOW sentences before and after it, as they stand in the text. */
export function windows(text: string, spans: [number, number][], width = WINDOW): string[] {
  const last = spans.length - 1;
  return spans.map((_, i) => text.slice(spans[Math.max(0, i - width)][0], spans[Math.min(last, i + width)][1]));
}

/** P(AI) of each sentence read with its neighbours (runtime.sentences.sentence_scores, method "window"). */
export async function scoreSentences(detector: Detector, text: string): Promise<SentenceScore[]> {
  const spans = sentenceSpans(text).slice(0, MAX_SENTENCES);
  const scores: SentenceScore[] = [];
  const pieces = windows(text, spans);
  for (let i = 0; i < spans.length; i++) {
    scores.push({ start: spans[i][0], end: spans[i][1], p_ai: detector.probabilityOf(await detector.embed(pieces[i])) });
  }
  return scores;
}
