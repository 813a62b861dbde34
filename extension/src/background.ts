// The background: runs the content script where the user asks (the toolbar button, activeTab) or on the sites they
// chose (optional host permissions), sends each post's text to the scorer, and shows the label on the badge.
import { type PageReport, type Request, type Result, type SentenceScore, loadSettings, reportKey } from "./messages";

const BADGE: Record<string, { text: string; color: string }> = {
  AI: { text: "AI", color: "#c62828" },
  HUMAN: { text: "HUM", color: "#2e7d32" },
  UNSURE: { text: "?", color: "#757575" },
};
const CONTENT_SCRIPT = "content.js";
const OFFSCREEN_PAGE = "offscreen.html";

let offscreenReady: Promise<void> | null = null;

/** The scorer: in the offscreen document where the browser has them (Chromium), else in this page (Firefox). */
async function callScorer<T>(request: Extract<Request, { type: "scorer" }>): Promise<T> {
  if (!chrome.offscreen) {
    const scorer = await import("./scorer");
    if (request.action === "score") return (await scorer.score(request.text)) as T;
    if (request.action === "sentences") return (await scorer.sentences(request.text)) as T;
    if (request.action === "correct") return (await scorer.correct(request.text, request.label)) as T;
    if (request.action === "warm") return (await scorer.warm()) as T;
    return (await scorer.forget()) as T;
  }
  offscreenReady ??= chrome.offscreen.createDocument({
    url: OFFSCREEN_PAGE, reasons: [chrome.offscreen.Reason.WORKERS],
    justification: "runs the detector's WebAssembly model on the device",
  }).catch((error: Error) => {
    if (!error.message.includes("single offscreen")) throw error; // one already open (the worker restarted)
  });
  await offscreenReady;
  const reply = await chrome.runtime.sendMessage(request);
  if (!reply?.ok) throw new Error(reply?.error ?? "the scorer did not answer");
  return reply.value as T;
}

async function showBadge(tabId: number, result: Result | null): Promise<void> {
  const badge = result ? BADGE[result.label] : { text: "–", color: "#9e9e9e" };
  await chrome.action.setBadgeText({ tabId, text: badge.text });
  await chrome.action.setBadgeBackgroundColor({ tabId, color: badge.color });
  const title = result ? `tinydetect: ${result.label}, P(AI) ${result.probability.toFixed(2)}${result.reason ? ` (${result.reason})` : ""}`
    : "tinydetect: no article found on this page";
  await chrome.action.setTitle({ tabId, title });
}

/** The label on the badge first, then the sentences (the slower part) into the report the panel shows. */
async function scorePage(tabId: number, message: Extract<Request, { type: "score-page" }>): Promise<PageReport> {
  const text = message.text;
  const result = text.trim() ? await callScorer<Result>({ type: "scorer", action: "score", text }) : null;
  await showBadge(tabId, result);
  // both clocks are epoch milliseconds (timeOrigin + now): from the content script's start to the badge set
  const totalMs = performance.timeOrigin + performance.now() - message.startedAt;
  if (result) {
    const started = performance.now();
    result.sentences = await callScorer<SentenceScore[]>({ type: "scorer", action: "sentences", text });
    result.sentencesMs = performance.now() - started;
  }
  const report: PageReport = { url: message.url, source: message.source, text, result, extractMs: message.extractMs,
    totalMs, checkedAt: new Date().toISOString() };
  await chrome.storage.session.set({ [reportKey(tabId)]: report });
  return report;
}

async function correct(tabId: number, label: "HUMAN" | "AI"): Promise<PageReport> {
  const key = reportKey(tabId);
  const report = (await chrome.storage.session.get(key))[key] as PageReport | undefined;
  if (!report?.text) throw new Error("check the page first: there is no text to correct");
  report.result = await callScorer<Result>({ type: "scorer", action: "correct", text: report.text, label });
  await showBadge(tabId, report.result);
  await chrome.storage.session.set({ [key]: report });
  return report;
}

let registering: Promise<string[]> = Promise.resolve([]);

/** The content script on the user's sites, in automatic mode, for the origins they granted. One registration at a
 * time: two at once (the install event and a settings change) would both unregister, then both register the id. */
function registerAutomatic(): Promise<string[]> {
  registering = registering.catch(() => []).then(registerNow);
  return registering;
}

async function registerNow(): Promise<string[]> {
  await chrome.scripting.unregisterContentScripts({ ids: ["automatic"] }).catch(() => undefined);
  const settings = await loadSettings();
  if (settings.mode !== "automatic") return [];
  const granted = [];
  for (const site of settings.sites) {
    if (await chrome.permissions.contains({ origins: [site] })) granted.push(site);
  }
  if (granted.length) {
    await chrome.scripting.registerContentScripts([{ id: "automatic", matches: granted, js: [CONTENT_SCRIPT],
      allFrames: true, runAt: "document_idle", persistAcrossSessions: true }]);
    // the model loads now (about 1.5 s on 2 cores), not when the first post asks for its badge
    void callScorer({ type: "scorer", action: "warm" }).catch(() => undefined);
  }
  return granted;
}

// the panel, the options and the offscreen document; a content script's sender.url is the web page's own
const fromExtensionPage = (sender: chrome.runtime.MessageSender) =>
  sender.id === chrome.runtime.id && (sender.url ?? "").startsWith(chrome.runtime.getURL(""));

async function handle(message: Request, sender: chrome.runtime.MessageSender): Promise<unknown> {
  if (sender.id !== chrome.runtime.id) throw new Error("not from this extension");
  if (message.type === "score-page") {
    if (sender.tab?.id === undefined) throw new Error("score-page comes from a tab's content script");
    return scorePage(sender.tab.id, message);
  }
  if (!fromExtensionPage(sender)) throw new Error(`${message.type} is for the extension's own pages`);
  switch (message.type) {
    case "check-tab":
      await chrome.scripting.executeScript({ target: { tabId: message.tabId, allFrames: true }, files: [CONTENT_SCRIPT] });
      return null;
    case "correct":
      return correct(message.tabId, message.label);
    case "forget-corrections":
      return callScorer({ type: "scorer", action: "forget" });
    case "settings-changed":
      return registerAutomatic();
    default:
      return undefined;
  }
}

chrome.runtime.onMessage.addListener((message: Request, sender, reply) => {
  if (message.type === "scorer") return false; // for the offscreen document
  handle(message, sender).then((value) => reply({ ok: true, value }), (error: Error) => reply({ ok: false, error: error.message }));
  return true;
});

chrome.runtime.onInstalled.addListener(() => void registerAutomatic());
chrome.runtime.onStartup.addListener(() => void registerAutomatic());
chrome.permissions.onRemoved.addListener(() => void registerAutomatic());

// for the tests and the benchmark (driven through the service worker, as a user's settings page would)
Object.assign(globalThis, { tinydetect: { registerAutomatic } });
