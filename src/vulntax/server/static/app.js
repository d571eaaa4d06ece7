// vulntax analyst page: plain JavaScript, no framework, nothing loaded from elsewhere.
// Everything the user typed or the server answered is put in the page as text nodes,
// never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  const MITRE = {
    cwe: (id) => `https://cwe.mitre.org/data/definitions/${id.split("-")[1]}.html`,
    capec: (id) => `https://capec.mitre.org/data/definitions/${id.split("-")[1]}.html`,
    attack: (id) => `https://attack.mitre.org/techniques/${id.replace(".", "/")}/`,
  };
  const EXAMPLE =
    "SQL injection vulnerability in the login page of Acme Help Desk 4.2 allows remote " +
    "unauthenticated attackers to execute arbitrary SQL commands via the username parameter.";

  // -- small DOM helpers ---------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const link = (href, text, cls) =>
    el("a", { href, class: cls, target: "_blank", rel: "noopener noreferrer" }, text);
  const pct = (p) => `${(p * 100).toFixed(p >= 0.995 || p < 0.005 ? 0 : 1)} %`;
  const fill = (node, ...children) => node.replaceChildren(...children.flat(Infinity));

  // -- talking to the server -----------------------------------------------------------
  class Problem extends Error {}

  async function api(path, body) {
    let response;
    try {
      response = await fetch(path, body === undefined ? {} : {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw new Problem("The vulntax server cannot be reached. Is `vulntax serve` still running?");
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch (err) {
      answer = null;
    }
    if (!response.ok) {
      const message = answer && typeof answer.error === "string"
        ? answer.error : `the server answered ${response.status} ${response.statusText}`;
      throw new Problem(message);
    }
    return answer;
  }

  // -- CVE JSON records ----------------------------------------------------------------
  // The same rule as vulntax's readers: exactly "en" wins over regional tags (en-US).
  function englishText(descriptions) {
    if (!Array.isArray(descriptions)) return null;
    let regional = null;
    for (const item of descriptions) {
      if (!item || typeof item.lang !== "string" || typeof item.value !== "string") continue;
      if (!item.value.trim()) continue;
      const lang = item.lang.toLowerCase();
      if (lang === "en") return item.value.trim();
      if (regional === null && (lang.startsWith("en-") || lang.startsWith("en_"))) {
        regional = item.value.trim();
      }
    }
    return regional;
  }

  // {id, description} from a pasted CVE JSON 5 or NVD 2.0 record; null for plain text.
  function fromRecord(text) {
    const trimmed = text.trim();
    if (!trimmed.startsWith("{")) return null;
    let record;
    try {
      record = JSON.parse(trimmed);
    } catch (err) {
      return null; // text that merely starts with a brace is classified as it is
    }
    if (Array.isArray(record.vulnerabilities)) {
      if (record.vulnerabilities.length !== 1) {
        throw new Problem(`This NVD file holds ${record.vulnerabilities.length} records; paste one.`);
      }
      record = record.vulnerabilities[0];
    }
    if (record && typeof record.cve === "object" && record.cve !== null) record = record.cve;
    let id = null;
    let descriptions;
    if (record && typeof record.cveMetadata === "object" && record.cveMetadata !== null) {
      id = record.cveMetadata.cveId || null;
      const cna = (record.containers || {}).cna || {};
      if (record.cveMetadata.state === "REJECTED") {
        const why = englishText(cna.rejectedReasons);
        throw new Problem(`${id || "This record"} was rejected${why ? `: ${why}` : ""}; there is nothing to classify.`);
      }
      descriptions = cna.descriptions;
    } else if (record && Array.isArray(record.descriptions)) {
      id = record.id || null;
      descriptions = record.descriptions;
    } else {
      throw new Problem(
        "This JSON is not a CVE record: expected a CVE JSON 5 record (with cveMetadata) " +
        "or an NVD record (with descriptions).");
    }
    const description = englishText(descriptions);
    if (!description) throw new Problem(`${id || "This record"} has no English description.`);
    return { id: typeof id === "string" ? id : null, description };
  }

  // -- rendering -----------------------------------------------------------------------
  function scoredList(node, items, kind, emptyText) {
    if (!items.length) {
      fill(node, el("li", { class: "empty" }, emptyText));
      return;
    }
    fill(node, items.map((item) =>
      el("li", {},
        link(MITRE[kind](item.id), item.id, "sid"),
        el("span", { class: "sname" }, item.name),
        el("span", { class: "p" }, pct(item.p)))));
  }

  function renderTree(path, names) {
    // path: ["CWE-707", "CWE-74", "CWE-79"], root first; drawn as nested lists
    let inner = null;
    for (let depth = path.length - 1; depth >= 0; depth -= 1) {
      const id = path[depth];
      const leaf = depth === path.length - 1;
      const node = el("span", { class: leaf ? "node leaf" : "node" },
        link(MITRE.cwe(id), id, "node-id"),
        el("span", { class: "node-name" }, names[id] || ""),
        leaf ? el("span", { class: "visually-hidden" }, "(predicted)") : null);
      const item = el("li", {}, node, inner ? el("ul", {}, inner) : null);
      inner = item;
    }
    fill($("cwe-tree"), inner);
  }

  function renderCwe(cwe) {
    fill($("cwe-main"),
      link(MITRE.cwe(cwe.id), cwe.id, "id"),
      el("span", { class: "cwe-name" }, cwe.name),
      el("br"),
      el("span", { class: "confidence" }, `confidence ${pct(cwe.confidence)}`));
    const notes = [];
    if (cwe.abstain) {
      notes.push(el("p", { class: "note" },
        "Low confidence: treat this CWE as a guess and check the alternatives."));
    }
    if (cwe.usage && !cwe.usage.startsWith("Allowed")) {
      notes.push(el("p", { class: "note" },
        `MITRE marks ${cwe.id} as ${cwe.usage} for vulnerability mapping.`));
    }
    fill($("cwe-notes"), notes);
    const names = {};
    names[cwe.id] = cwe.name;
    renderTree(cwe.path, names);
    const others = cwe.top.filter((t) => t.id !== cwe.id);
    scoredList($("cwe-top"), others, "cwe", "No other candidate.");
  }

  // an abstained score is shown as "not enough information", never as a number
  // (the JSON still carries the most probable vector)
  function renderCvss(cvss, metricNames, prefix = "cvss") {
    const severity = $(`${prefix}-severity`);
    if (cvss.abstain) {
      $(`${prefix}-score`).textContent = "";
      severity.textContent = "not enough information";
      severity.className = "severity sev-abstain";
    } else {
      $(`${prefix}-score`).textContent = cvss.base_score.toFixed(1);
      severity.textContent = cvss.severity;
      severity.className = `severity sev-${cvss.severity.toLowerCase()}`;
    }
    $(`${prefix}-vector`).textContent = cvss.vector;
    fill($(`${prefix}-metrics`), Object.entries(cvss.metrics).map(([metric, info]) => {
      const label = (metricNames && metricNames[metric]) ? metricNames[metric].name : "";
      const bar = el("span", { class: info.p >= 0.7 ? "fill" : "fill low" });
      bar.style.width = `${Math.round(info.p * 100)}%`;
      const dist = Object.entries(info.dist).map(([v, p]) => `${v} ${pct(p)}`).join(" · ");
      return el("tr", { "data-metric": metric },
        el("td", { class: "metric" },
          el("abbr", { title: label || metric }, metric), " ",
          el("span", { class: "mname" }, label)),
        el("td", { class: "value" }, `${info.name} (${info.value})`),
        el("td", {},
          el("div", { class: "prob" },
            el("span", { class: "bar", "aria-hidden": "true" }, bar),
            el("span", { class: "pct" }, pct(info.p))),
          el("span", { class: "dist" }, dist)));
    }));
  }

  // evidence terms are lower-cased words or word pairs of the model's input; find each in
  // the original text whatever the case and punctuation between its words, and mark the
  // union of what they cover
  function termRanges(text, terms) {
    const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const ranges = [];
    for (const { term } of terms) {
      const words = term.trim().split(/\s+/).filter(Boolean).map(escape);
      if (!words.length) continue;
      const pattern = new RegExp(
        `(?<![\\p{L}\\p{N}])${words.join("[^\\p{L}\\p{N}]+")}(?![\\p{L}\\p{N}])`, "giu");
      for (const match of text.matchAll(pattern)) {
        ranges.push([match.index, match.index + match[0].length]);
      }
    }
    ranges.sort((a, b) => a[0] - b[0]);
    const merged = [];
    for (const range of ranges) {
      const last = merged[merged.length - 1];
      if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
      else merged.push([...range]);
    }
    return merged;
  }

  function renderEvidence(text, evidence, which) {
    const terms = which === "cwe" ? evidence.cwe || [] : (evidence.cvss || {})[which] || [];
    fill($("evidence-terms"), terms.length
      ? ["Terms, strongest first: ", terms.map((t) => el("span", { class: "term" }, t.term))]
      : [el("span", { class: "empty" }, "The model named no evidence for this answer.")]);
    const out = [];
    let last = 0;
    for (const [start, end] of termRanges(text, terms)) {
      if (start > last) out.push(text.slice(last, start));
      out.push(el("mark", {}, text.slice(start, end)));
      last = end;
    }
    out.push(text.slice(last));
    fill($("evidence-text"), out);
  }

  function renderEvidenceChoices(text, prediction, metricNames) {
    const choices = [["cwe", `CWE (${prediction.cwe.id})`]];
    for (const metric of Object.keys(prediction.cvss.metrics)) {
      const name = metricNames && metricNames[metric] ? metricNames[metric].name : metric;
      choices.push([metric, name]);
    }
    const group = $("evidence-for");
    const legend = group.querySelector("legend");
    const controls = choices.flatMap(([value, label], i) => {
      const input = el("input", {
        type: "radio", name: "evidence", id: `ev-${value}`, value, checked: i === 0,
      });
      input.addEventListener("change", () => renderEvidence(text, prediction.evidence, value));
      return [input, el("label", { for: `ev-${value}` }, label)];
    });
    fill(group, legend, controls);
    renderEvidence(text, prediction.evidence, "cwe");
  }

  function renderWarnings(warnings) {
    fill($("warnings"), (warnings || []).map((w) =>
      el("p", { class: "note warning", "data-code": w.code }, w.message)));
  }

  function render(prediction, text, metricNames) {
    $("record-id").textContent = prediction.id ? `for ${prediction.id}` : "";
    renderWarnings(prediction.warnings);
    renderCwe(prediction.cwe);
    renderCvss(prediction.cvss, metricNames);
    $("cvss4-card").hidden = !prediction.cvss4;
    if (prediction.cvss4) renderCvss(prediction.cvss4, null, "cvss4");
    scoredList($("capec-list"), prediction.capec, "capec", "No attack pattern above 1 %.");
    scoredList($("attack-list"), prediction.attack, "attack", "No technique above 1 %.");
    renderEvidenceChoices(text, prediction, metricNames);
    $("results").hidden = false;
  }

  // names of the path's ancestors and of the CVSS metrics come from the look-up routes
  async function enrich(prediction, text, ticket) {
    const [cweInfo, cvssInfo] = await Promise.allSettled([
      api(`/v1/cwe/${encodeURIComponent(prediction.cwe.id)}`),
      api(`/v1/cvss?vector=${encodeURIComponent(prediction.cvss.vector)}`),
    ]);
    if (ticket !== current) return;
    if (cweInfo.status === "fulfilled") {
      const names = Object.fromEntries(cweInfo.value.path.map((n) => [n.id, n.name]));
      renderTree(prediction.cwe.path, names);
    }
    if (cvssInfo.status === "fulfilled") {
      const checked = document.querySelector('input[name="evidence"]:checked');
      renderCvss(prediction.cvss, cvssInfo.value.metric_names);
      renderEvidenceChoices(text, prediction, cvssInfo.value.metric_names);
      if (checked) {
        const again = $(`ev-${checked.value}`);
        if (again) { again.checked = true; renderEvidence(text, prediction.evidence, checked.value); }
      }
    }
  }

  // -- the form ------------------------------------------------------------------------
  let current = 0;

  function showError(message) {
    const box = $("error");
    fill(box, el("strong", {}, "Could not classify"), message);
    box.hidden = false;
  }
  function clearError() {
    $("error").hidden = true;
    $("text").removeAttribute("aria-invalid");
  }
  function busy(on) {
    $("submit").disabled = on;
    $("status").textContent = on ? "Classifying…" : "";
  }

  async function classify() {
    clearError();
    const raw = $("text").value;
    let text = raw;
    let id = null;
    try {
      const record = fromRecord(raw);
      if (record) ({ description: text, id } = record);
    } catch (err) {
      $("text").setAttribute("aria-invalid", "true");
      $("results").hidden = true;
      showError(err.message);
      return;
    }
    if (!text.trim()) {
      $("text").setAttribute("aria-invalid", "true");
      $("results").hidden = true;
      showError("Paste a vulnerability description (or a CVE JSON record) first.");
      $("text").focus();
      return;
    }
    const ticket = ++current;
    busy(true);
    try {
      const body = id ? { description: text, id } : { description: text };
      const prediction = await api("/v1/predict", body);
      if (ticket !== current) return;
      render(prediction, text, null);
      // the status line says what the cards say: an abstained answer is no answer
      const cwe = prediction.cwe.abstain ? `${prediction.cwe.id} (low confidence)` : prediction.cwe.id;
      const cvss = prediction.cvss.abstain
        ? "not enough information"
        : `${prediction.cvss.base_score.toFixed(1)} ${prediction.cvss.severity}`;
      $("status").textContent = `Done: ${cwe}, CVSS ${cvss}.`;
      $("submit").disabled = false;
      enrich(prediction, text, ticket).catch(() => {});
    } catch (err) {
      if (ticket !== current) return;
      busy(false);
      $("results").hidden = true; // never leave an answer to another text on show
      showError(err instanceof Problem ? err.message : String(err));
    }
  }

  async function about() {
    try {
      const v = await api("/v1/version");
      const catalogs = `CWE ${v.catalog.cwe} · CAPEC ${v.catalog.capec} · ATT&CK ${v.catalog.attack}`;
      $("about").textContent = `model ${v.model.name} ${v.model.version} · ${catalogs}`;
      $("footer-model").textContent = `vulntax ${v.vulntax}`;
    } catch (err) {
      $("about").textContent = "server not reachable";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("form").addEventListener("submit", (event) => {
      event.preventDefault();
      classify();
    });
    $("text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        classify();
      }
    });
    $("example").addEventListener("click", () => {
      $("text").value = EXAMPLE;
      $("text").focus();
    });
    $("clear").addEventListener("click", () => {
      $("text").value = "";
      clearError();
      $("results").hidden = true;
      $("status").textContent = "";
      $("text").focus();
    });
    $("copy-vector").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText($("cvss-vector").textContent);
        $("status").textContent = "Vector copied.";
      } catch (err) {
        $("status").textContent = "Copy failed: select the vector and copy it by hand.";
      }
    });
    about();
  });
})();
