// What the extension's parts say to each other (chrome.runtime messages). Nothing leaves the browser: the page's own
// scripts see none of it (content scripts run in an isolated world; results live in chrome.storage.session, which
// content scripts and pages cannot read), and no part of the extension makes a network request.

export interface SentenceScore {
  start: number; // UTF-16 offsets in the scored text
  end: number;
  p_ai: number;
}

export interface Result {
  label: string; // AI, HUMAN or UNSURE
  probability: number; // P(AI) of the whole text
  reason: string | null; // why UNSURE
  language: string;
  aiCut: number; // the cuts of the text's language, for colouring sentences
  humanCut: number;
  sentences: SentenceScore[];
  scoreMs: number; // the model's time for the whole text
  sentencesMs: number; // and for its sentences, after the badge is set
}

export interface PageReport {
  url: string;
  source: "smarteditor" | "readability" | "none"; // where the text came from
  text: string; // what was scored (kept for corrections; extension storage only)
  result: Result | null; // null: no article on the page
  extractMs: number; // finding the post's text in the page
  totalMs: number; // from the content script's start to the badge set
  checkedAt: string;
}

export type Request =
  | { type: "score-page"; url: string; source: PageReport["source"]; text: string; startedAt: number; extractMs: number }
  | { type: "check-tab"; tabId: number }
  | { type: "correct"; tabId: number; label: "HUMAN" | "AI" }
  | { type: "forget-corrections" }
  | { type: "settings-changed" }
  | { type: "scorer"; action: "score" | "sentences"; text: string }
  | { type: "scorer"; action: "correct"; text: string; label: "HUMAN" | "AI" }
  | { type: "scorer"; action: "forget" | "warm" };

export interface Settings {
  mode: "click" | "automatic"; // automatic: on every page of `sites`, once the user granted them
  sites: string[]; // match patterns, e.g. https://blog.naver.com/*
}

export const DEFAULT_SETTINGS: Settings = { mode: "click", sites: ["https://blog.naver.com/*", "https://m.blog.naver.com/*"] };

export const reportKey = (tabId: number) => `tab-${tabId}`;

export async function loadSettings(): Promise<Settings> {
  const stored = await chrome.storage.local.get("settings");
  return { ...DEFAULT_SETTINGS, ...(stored.settings as Partial<Settings> | undefined) };
}
