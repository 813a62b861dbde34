// The content script: finds the post's text in the frame it runs in, has it scored, and highlights the sentences
// that read as AI. It runs in the extension's isolated world: the page's scripts cannot call it or read its scores.
//
// Naver Blog serves the post inside iframe#mainFrame, written in SmartEditor (.se-main-container): the script runs
// in every frame (allFrames) and the frame holding the editor's markup reports; the outer page stays quiet. Any
// other page goes through Mozilla's Readability (Firefox's Reader View), in the top frame only.
import { Readability, isProbablyReaderable } from "@mozilla/readability";
import type { PageReport, Request } from "./messages";

const SMART_EDITOR = ".se-main-container";
const NAVER_POST_FRAME = "iframe#mainFrame";
const BLOCKS = "p,div,li,h1,h2,h3,h4,h5,h6,blockquote,pre,td,th,section,article,figcaption,header,footer";
const SKIPPED = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"]);
const now = () => performance.timeOrigin + performance.now(); // epoch ms, comparable with the background's

interface Post {
  source: PageReport["source"];
  text: string;
  root: Element | null; // where the sentences are highlighted
}

/** The text under `root`, a line for each block element (paragraphs, list items), as one string. */
export function blockText(root: Node): string {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const lines: string[] = [];
  let block: Element | null = null;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || SKIPPED.has(parent.tagName)) continue;
    const nodeBlock = parent.closest(BLOCKS);
    if (nodeBlock !== block || lines.length === 0) lines.push("");
    block = nodeBlock;
    lines[lines.length - 1] += node.nodeValue ?? "";
  }
  return lines.map((line) => line.replace(/\s+/gu, " ").trim()).filter(Boolean).join("\n");
}

function findPost(): Post | null {
  const editor = document.querySelector(SMART_EDITOR);
  if (editor) return { source: "smarteditor", text: blockText(editor), root: editor };
  if (window !== window.top) return null; // a frame without the post: ads, comments, widgets
  if (document.querySelector(NAVER_POST_FRAME)) return null; // Naver's outer page: the frame reports
  if (isProbablyReaderable(document)) {
    const article = new Readability(document.cloneNode(true) as Document).parse();
    if (article?.content) {
      const text = blockText(new DOMParser().parseFromString(article.content, "text/html").body);
      if (text) return { source: "readability", text, root: document.body };
    }
  }
  return { source: "none", text: "", root: null };
}

/** The text nodes' characters under `root` without whitespace, each with where it stands in the DOM: sentences are
 * found in it whatever whitespace the page's markup puts between words. */
function squeezed(root: Element): { chars: string; at: { node: Text; offset: number }[] } {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  let chars = "";
  const at: { node: Text; offset: number }[] = [];
  for (let node = walker.nextNode() as Text | null; node; node = walker.nextNode() as Text | null) {
    if (!node.parentElement || SKIPPED.has(node.parentElement.tagName)) continue;
    const value = node.nodeValue ?? "";
    for (let offset = 0; offset < value.length; offset++) {
      if (/\s/u.test(value[offset])) continue;
      chars += value[offset];
      at.push({ node, offset });
    }
  }
  return { chars, at };
}

const HIGHLIGHTS = { ai: "tinydetect-ai", unsure: "tinydetect-unsure" } as const;
const STYLE_ID = "tinydetect-highlight-style";

/** Marks the sentences above the AI cut (red) and between the cuts (grey) with the CSS Custom Highlight API, which
 * changes no element of the page. Returns how many sentences were found in the page and marked. */
function highlight(post: Post, report: PageReport): number {
  const result = report.result;
  const registry = (CSS as unknown as { highlights?: Map<string, unknown> }).highlights;
  if (!post.root || !result || !registry) return 0;
  const page = squeezed(post.root);
  const ranges = { ai: [] as Range[], unsure: [] as Range[] };
  let from = 0;
  for (const sentence of result.sentences) {
    const bucket = sentence.p_ai > result.aiCut ? "ai" : sentence.p_ai > result.humanCut ? "unsure" : null;
    const needle = post.text.slice(sentence.start, sentence.end).replace(/\s+/gu, "");
    const found = needle ? page.chars.indexOf(needle, from) : -1;
    if (found < 0) continue;
    from = found + needle.length;
    if (!bucket) continue;
    const first = page.at[found], last = page.at[found + needle.length - 1];
    const range = document.createRange();
    range.setStart(first.node, first.offset);
    range.setEnd(last.node, last.offset + 1);
    ranges[bucket].push(range);
  }
  const Highlight = (globalThis as unknown as { Highlight: new (...ranges: Range[]) => unknown }).Highlight;
  registry.set(HIGHLIGHTS.ai, new Highlight(...ranges.ai));
  registry.set(HIGHLIGHTS.unsure, new Highlight(...ranges.unsure));
  if (!document.getElementById(STYLE_ID)) {
    const style = document.createElement("style");
    style.id = STYLE_ID;
    style.textContent = `::highlight(${HIGHLIGHTS.ai}) { background-color: rgba(229, 57, 53, 0.30); }
::highlight(${HIGHLIGHTS.unsure}) { background-color: rgba(158, 158, 158, 0.30); }`;
    document.head.append(style);
  }
  return ranges.ai.length + ranges.unsure.length;
}

async function run(): Promise<void> {
  const startedAt = now();
  const post = findPost();
  if (post === null) return;
  const message: Request = { type: "score-page", url: location.href, source: post.source, text: post.text,
    startedAt, extractMs: now() - startedAt };
  const reply = await chrome.runtime.sendMessage(message);
  if (!reply?.ok) throw new Error(`tinydetect: ${reply?.error ?? "no answer from the extension"}`);
  highlight(post, reply.value as PageReport);
}

void run();
