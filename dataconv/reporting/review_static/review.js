// The review page of `dataconv review` (served by dataconv/reporting/review_server.py).
// Every label and prediction is shown with textContent, never parsed as HTML. Each key
// press is one step of a queue, done in order; a decision is shown as made only once the
// server has answered that the corrections file holds it.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const page = {rows: [], decisions: [], current: 0, decided: 0, out: ""};
let steps = Promise.resolve();

function withToken(path) {
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

async function call(path, body) {
  const init = body === undefined ? {} :
    {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  let response;
  try {
    response = await fetch(withToken(path), init);
  } catch (e) {
    throw new Error("not saved: the review server is not answering (restart dataconv review; " +
                    "every decision shown as saved is in " + page.out + ")");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.error || "the server answered " + response.status);
  }
  return data;
}

function described(decision) {
  if (!decision) return "";
  return decision.action === "relabel" ? "relabel → " + decision.text : decision.action;
}

function addCell(tr, value, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = value;
  tr.appendChild(td);
  return td;
}

function render() {
  const body = document.getElementById("rows");
  page.rows.forEach((row, i) => {
    const tr = document.createElement("tr");
    tr.dataset.row = String(i);
    addCell(tr, String(i + 1), "num");
    const img = document.createElement("img");
    img.loading = "lazy";
    img.alt = "no image";
    img.src = withToken("/image?row=" + i);
    addCell(tr, "").appendChild(img);
    addCell(tr, row.label, "text label");
    addCell(tr, row.prediction, "text prediction");
    addCell(tr, row.cer.toFixed(2), "num");
    addCell(tr, row.confidence === null ? "" : row.confidence.toFixed(3), "num");
    addCell(tr, "", "decision");
    addCell(tr, row.source_id, "id");
    tr.addEventListener("click", () => queue(() => show(i)));
    body.appendChild(tr);
    mark(i);
  });
}

function rowElement(i) {
  return document.querySelector('tr[data-row="' + i + '"]');
}

function mark(i) {
  const tr = rowElement(i);
  const decision = page.decisions[i];
  tr.classList.remove("relabel", "drop", "keep");
  if (decision) tr.classList.add(decision.action);
  tr.querySelector("td.decision").textContent = described(decision);
}

function show(i) {
  if (!page.rows.length) return;
  const previous = rowElement(page.current);
  if (previous) previous.classList.remove("current");
  page.current = Math.max(0, Math.min(i, page.rows.length - 1));
  const tr = rowElement(page.current);
  tr.classList.add("current");
  tr.scrollIntoView({block: "nearest"});
  document.getElementById("progress").textContent =
    page.decided + " of " + page.rows.length + " decided · row " + (page.current + 1) + " of " + page.rows.length;
}

function say(message, bad) {
  const status = document.getElementById("status");
  status.textContent = message;
  status.classList.toggle("bad", Boolean(bad));
}

function took(answer) {
  page.decisions[answer.row] = answer.decision;
  page.decided = answer.decided;
  mark(answer.row);
}

async function decide(action, text) {
  const row = page.current;
  const answer = await call("/api/decide", {row: row, action: action, text: text});
  took(answer);
  say("saved row " + (row + 1) + ": " + described(answer.decision));
  show(row + 1 < page.rows.length ? row + 1 : row);
}

async function undo() {
  const answer = await call("/api/undo", {});
  took(answer);
  say("undone: row " + (answer.row + 1) + (answer.decision ? " is back to " + described(answer.decision) : " is undecided"));
  show(answer.row);
}

function typed() {
  // The correction box for the current row; resolves with the text, or null when cancelled.
  const box = document.getElementById("typing");
  const input = document.getElementById("correction");
  document.getElementById("typing-row").textContent = String(page.current + 1);
  input.value = page.rows[page.current].prediction;
  box.hidden = false;
  input.focus();
  input.select();
  return new Promise((resolve) => {
    input.onkeydown = (event) => {
      if (event.key !== "Enter" && event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      input.onkeydown = null;
      box.hidden = true;
      input.blur();
      resolve(event.key === "Enter" ? input.value : null);
    };
  });
}

async function correct() {
  const text = await typed();
  if (text !== null) await decide("relabel", text);
}

const KEYS = {
  a: () => decide("accept"),
  k: () => decide("keep"),
  d: () => decide("drop"),
  t: correct,
  u: undo,
  n: () => show(page.current + 1),
  ArrowDown: () => show(page.current + 1),
  p: () => show(page.current - 1),
  ArrowUp: () => show(page.current - 1),
};

function queue(step) {
  steps = steps.then(step).catch((error) => say(error.message, true));
}

document.addEventListener("keydown", (event) => {
  if (!document.getElementById("typing").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  const step = KEYS[event.key];
  if (!step) return;
  event.preventDefault();
  queue(step);
});

queue(async () => {
  const state = await call("/api/state");
  Object.assign(page, {rows: state.rows, decisions: state.decisions, decided: state.decided, out: state.out});
  if (!page.rows.length) {
    say("nothing to review");
    return;
  }
  render();
  show(state.start);
  say(page.decided ? "resumed: " + page.decided + " decided before, saved in " + page.out
                   : "decisions are saved to " + page.out + " as you make them");
});
