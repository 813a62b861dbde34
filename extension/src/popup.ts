// The panel: the label of the current tab's post, P(AI), why UNSURE, each sentence's score, and the corrections.
// URL parameter tab=<id> opens it for that tab (the tests and the benchmark; the toolbar opens it for the active one).
import { type PageReport, type Request, reportKey } from "./messages";

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  label: element("label"), detail: element("detail"), check: element<HTMLButtonElement>("check"),
  markHuman: element<HTMLButtonElement>("mark-human"), markAi: element<HTMLButtonElement>("mark-ai"),
  sentences: element<HTMLOListElement>("sentences"), options: element<HTMLAnchorElement>("options"),
};

async function currentTab(): Promise<number> {
  const asked = new URLSearchParams(location.search).get("tab");
  if (asked) return Number(asked);
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  if (tab?.id === undefined) throw new Error("no active tab");
  return tab.id;
}

async function send(message: Request): Promise<unknown> {
  const reply = await chrome.runtime.sendMessage(message);
  if (!reply?.ok) throw new Error(reply?.error ?? "the extension did not answer");
  return reply.value;
}

function show(report: PageReport | undefined): void {
  ui.sentences.replaceChildren();
  const result = report?.result;
  ui.markHuman.disabled = ui.markAi.disabled = !result;
  if (!report) return;
  if (!result) {
    ui.label.textContent = "no article found";
    ui.label.className = "label";
    ui.detail.textContent = "This page has no post to read (Reader View finds none either).";
    return;
  }
  ui.label.textContent = result.label;
  ui.label.className = `label ${result.label.toLowerCase()}`;
  const why = result.reason ? ` Unsure: ${result.reason}.` : "";
  ui.detail.textContent = `P(AI) = ${result.probability.toFixed(3)}.${why} ${result.sentences.length} sentences, ` +
    `${Math.round(report.totalMs)} ms (${report.source}).`;
  for (const sentence of result.sentences) {
    const item = document.createElement("li");
    item.className = sentence.p_ai > result.aiCut ? "ai" : sentence.p_ai > result.humanCut ? "unsure" : "human";
    const score = document.createElement("span");
    score.className = "p";
    score.textContent = sentence.p_ai.toFixed(2);
    item.append(score, report.text.slice(sentence.start, sentence.end)); // text nodes: the page's words are not HTML
    ui.sentences.append(item);
  }
}

async function main(): Promise<void> {
  const tabId = await currentTab();
  const key = reportKey(tabId);
  show((await chrome.storage.session.get(key))[key] as PageReport | undefined);
  chrome.storage.session.onChanged.addListener((changes) => {
    if (changes[key]) show(changes[key].newValue as PageReport);
  });
  const guard = (action: () => Promise<unknown>) => async () => {
    try {
      await action();
    } catch (error) {
      ui.detail.textContent = `error: ${(error as Error).message}`;
    }
  };
  ui.check.addEventListener("click", guard(() => send({ type: "check-tab", tabId })));
  ui.markHuman.addEventListener("click", guard(() => send({ type: "correct", tabId, label: "HUMAN" })));
  ui.markAi.addEventListener("click", guard(() => send({ type: "correct", tabId, label: "AI" })));
  ui.options.addEventListener("click", (event) => {
    event.preventDefault();
    void chrome.runtime.openOptionsPage();
  });
}

void main();
