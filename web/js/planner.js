// Planners (/planner): a plan's grids coloured by deviation from the target, a panel per grid,
// auto-partition, edits (paint atoms to a neighbouring grid, merge, split along a line, reshape)
// with their validation and diff, undo/redo, comparison with the plan in force, publish, export.
// Paint: a click moves one compound; Shift+click gathers several; a drag across compounds
// (mouse down on one, over the others, up) gathers them too, previewed as it goes, and commits
// them as one edit when the mouse is released.
import L from "./geoman.js";
import { del, download, get, post, put, role } from "./api.js";
import { h } from "./dom.js";
import { installSwitch, language, onLanguageChange, t, translate } from "./i18n.js";
import { createMap, loadConfig, toLonLatGeometry } from "./map.js";
import { EditHistory } from "./planner-edits.js";
import { renderComparison, renderGrid, renderHistory, renderPreview, renderResult } from "./planner-panels.js";
import { renderGridTable } from "./planner-table.js";
import { followJob, jobStatus } from "./planner-jobs.js";
import { confirmPublish } from "./planner-publish.js";
import { showSubmission, waiting } from "./planner-submit.js";
import { gridStyle, legend } from "./planner-style.js";
import { requireSignIn } from "./signin.js";

const ATOM_STYLE = { color: "#3e4c59", weight: 0.6, dashArray: "2 3", fillOpacity: 0, fillColor: "#000" };
const CHANGED_STYLE = { color: "#7b3294", weight: 2, dashArray: null, fillColor: "#c2a5cf", fillOpacity: 0.7 };
const PREVIEW_STYLE = { color: "#1d4ed8", weight: 2, dashArray: null, fillColor: "#1d4ed8", fillOpacity: 0.45 };
// Geoman's tooltips, in the page's language: drawing ends with a double-click here.
const GEOMAN_TEXTS = {
  "zh-CN": { firstVertex: "单击放置第一个点", continueLine: "单击继续，双击结束", finishLine: "双击结束", finishPoly: "双击结束" },
  en: { firstVertex: "Click to place the first point", continueLine: "Click to go on; double-click to finish", finishLine: "Double-click to finish", finishPoly: "Double-click to finish" },
};

async function main() {
  installSwitch(document.getElementById("lang"));
  const config = await loadConfig();
  const view = createMap(document.getElementById("map"), config);
  legend().addTo(view.map);
  const geomanLanguage = () => view.map.pm.setLang(`gridmap-${language()}`, { tooltips: GEOMAN_TEXTS[language()] }, language() === "en" ? "en" : "zh");
  geomanLanguage();
  onLanguageChange(geomanLanguage);
  requireSignIn(document.getElementById("account"), () => start(view));
}

function start(view) {
  const { map } = view;
  const $ = (id) => document.getElementById(id);
  const state = { plan: null, grids: null, target: 3000, selected: null, mode: "select", history: null, missing: new Map(), areas: new Map() };
  const gridsLayer = view.geoJSON(null, { style: (f) => gridStyle(f, { target: state.target, selected: f.properties.code === state.selected }), onEachFeature: (f, layer) => layer.on("click", () => onGrid(f.properties.code)) }).addTo(map);
  const atomsLayer = view.geoJSON(null, {
    style: () => ATOM_STYLE,
    onEachFeature: (f, layer) => {
      layer.on("click", (event) => onAtom(f, layer, event));
      layer.on("mousedown", (event) => onAtomDown(f, layer, event));
      layer.on("mouseover", () => onAtomOver(f, layer));
    },
  }).addTo(map);
  const labelsLayer = L.layerGroup().addTo(map);
  state.batch = [];
  state.drag = null; // the compounds a drag has crossed, while the mouse is down
  // Locked grids, kept by the server (every planner sees them; the server refuses an edit that
  // changes one): grid code → who locked it. Paint refuses them at once, before asking.
  state.locks = new Map();
  const locked = () => state.locks;
  const setLocks = (locks) => { state.locks = new Map((locks ?? []).map((l) => [l.grid, l.locked_by])); };
  async function toggleLock(code) {
    const path = `/api/plans/${encodeURIComponent(state.plan.id)}/grids/${encodeURIComponent(code)}/lock`;
    try {
      const answer = state.locks.has(code) ? await del(path) : await put(path);
      setLocks(answer.locks);
      say("");
    } catch (error) {
      failed(error);
    }
    showSelected();
  }
  /** Whether painting `grid` into the selected grid is allowed (else say why). */
  function paintable(grid) {
    if (state.plan?.status !== "draft") {
      say(t("planner.nodraft"), true);
      return false;
    }
    const lockedGrid = [grid, state.selected].find((code) => state.locks.has(code));
    if (lockedGrid) {
      say(t("planner.islocked", { grid: lockedGrid, by: state.locks.get(lockedGrid) }), true);
      return false;
    }
    return true;
  }

  /** The gathered compounds' preview: each grid's totals after the move, and a commit button. */
  function previewBatch() {
    const moved = new Map();
    for (const { feature } of state.batch) {
      const { grid, residents } = feature.properties;
      moved.set(grid, (moved.get(grid) ?? 0) - residents);
      moved.set(state.selected, (moved.get(state.selected) ?? 0) + residents);
    }
    const totals = (code) => state.grids.features.find((f) => f.properties.code === code)?.properties;
    renderPreview($("preview"), {
      atom: { residents: moved.get(state.selected) },
      to: totals(state.selected),
      from: null,
      target: state.target,
      others: [...moved].filter(([code]) => code !== state.selected).map(([code, delta]) => [totals(code), delta]),
      onCommit: commitBatch,
      count: state.batch.length,
    });
  }

  function commitBatch() {
    const batch = state.batch;
    state.batch = [];
    if (!batch.length) return;
    performance.mark("gridmap:paint");
    edit({ operation: "move", cells: batch.map((b) => b.feature.properties.cell), to_grid: state.selected }).then((ok) => {
      if (!ok) for (const { layer } of batch) layer.setStyle(ATOM_STYLE);
      $("preview").hidden = true;
    });
  }

  function cancelBatch() {
    for (const { layer } of state.batch) layer.setStyle(ATOM_STYLE);
    state.batch = [];
    $("preview").hidden = true;
  }
  const buildingsLayer = L.layerGroup().addTo(map);
  $("work").hidden = false;
  translate($("work"));

  const say = (text, isError = false) => {
    $("message").textContent = text;
    $("message").className = isError ? "error" : "hint";
  };
  // A refusal the messages know says what to do, in the page's language; others as they came.
  const failed = (error) => {
    if (error.body?.error === "grid_locked") {
      say(t("refusal.locked", { grid: error.body.grid, by: error.body.locked_by }), true);
      return;
    }
    const key = error.body?.error === "stale_revision" ? "refusal.stale" : `refusal.${error.body?.reason}`;
    say(t(key) !== key ? t(key) : `${t("error")}: ${error.body?.detail ?? error.message}`, true);
  };

  // A plan in the list: its state, and whether it waits for an admin or was sent back.
  const planLabel = (p) => {
    const mark = waiting(p) ? ` · ${t("planner.waiting")}` : p.status === "draft" && p.submission?.state === "refused" ? ` · ${t("planner.refused")}` : "";
    return `${p.id} · ${p.name} (${t(`planner.${p.status === "published" ? "published" : "draft"}`)}${p.status === "archived" ? " archived" : ""}${mark})`;
  };

  async function loadPlans(selectId) {
    let { plans } = await get("/api/plans");
    const admin = role() === "admin";
    // Admins see the drafts submitted to them first (marked), and open the first of them.
    if (admin) plans = [...plans.filter(waiting), ...plans.filter((p) => !waiting(p))];
    const chosen = selectId ?? (admin ? plans.find(waiting)?.id : undefined) ?? plans.findLast((p) => p.status === "draft")?.id ?? plans.findLast((p) => p.status === "published")?.id;
    $("plan").replaceChildren(...plans.map((p) => h("option", { value: p.id, selected: p.id === chosen, dataset: { waiting: String(waiting(p)) } }, planLabel(p))));
    if (chosen) await loadPlan(chosen);
  }

  function showSubmitted() {
    showSubmission($("submission"), state.plan, {
      changed(submission) {
        const before = state.plan.submission;
        state.plan = { ...state.plan, submission };
        const option = $("plan").querySelector(`option[value="${CSS.escape(state.plan.id)}"]`);
        if (option) option.textContent = planLabel(state.plan);
        say(t(submission?.state === "refused" ? "submit.refusedsaid" : submission ? "submit.done" : before ? "submit.withdrawn" : "submit.none"));
        showSubmitted();
      },
      failed,
    });
    document.body.dataset.submission = state.plan?.submission?.state ?? "none";
  }
  onLanguageChange(() => state.plan && showSubmitted());

  async function loadPlan(id, { fit = true } = {}) {
    const atoms = fetchAtoms(id); // in parallel with the grids
    atoms.catch(() => {}); // its failure is reported where it is awaited, below
    const answer = await get(`/api/plans/${encodeURIComponent(id)}`);
    state.plan = answer.plan;
    state.target = answer.plan.params?.target ?? 3000;
    if (!state.history || state.history.planId !== id) state.history = new EditHistory(id, answer.revision, afterEdit, answer.revisions);
    state.history.revision = answer.revision;
    state.revisions = answer.revisions;
    showHistory();
    state.grids = answer.grids;
    setLocks(answer.locks);
    showSubmitted();
    state.pending = (answer.publications ?? []).filter((p) => p.pending).map((p) => p.valid_from).sort()[0] ?? null;
    gridsLayer.clearLayers().addData(answer.grids);
    if (fit && !state.drawn) view.fitOnce(gridsLayer);
    updateButtons();
    if (!state.drawn) {
      state.drawn = true;
      performance.mark("gridmap:first-render");
    }
    drawAtoms(await atoms);
    showSelected();
    // Last: tests and benchmarks wait on these for "the page shows this revision".
    document.body.dataset.plan = id;
    document.body.dataset.status = answer.plan.status;
    document.body.dataset.revision = String(answer.revision);
  }

  function areaCommunities() {
    const code = $("area").value;
    return code ? state.areas.get(code) : [];
  }

  /** The atoms of plan `id` in the chosen area (null when no area is chosen). */
  function fetchAtoms(id) {
    const communities = areaCommunities();
    if (!communities.length || !id) return Promise.resolve(null);
    return get(`/api/plans/${encodeURIComponent(id)}/atoms`, { community: communities });
  }

  function drawAtoms(atoms) {
    atomsLayer.clearLayers();
    buildingsLayer.clearLayers();
    $("comparison").hidden = true;
    if (!atoms) return;
    atomsLayer.addData(atoms);
    document.body.dataset.atoms = String(atoms.features.length);
  }

  async function loadAtoms() {
    drawAtoms(await fetchAtoms(state.plan?.id));
  }

  function showTable() {
    const communities = new Set(areaCommunities());
    const shown = (state.grids?.features ?? []).filter((f) => communities.has(f.properties.community_code));
    renderGridTable($("grid-table"), shown, { target: state.target, missing: state.missing, selected: state.selected, onSelect: onGrid });
  }

  /** Labels on the map for the chosen area's grids: the grid's number and its residents. */
  function showLabels() {
    labelsLayer.clearLayers();
    const communities = new Set(areaCommunities());
    gridsLayer.eachLayer((layer) => {
      const p = layer.feature.properties;
      if (!communities.has(p.community_code)) return;
      const text = `${p.code.slice(-3)} · ${p.residents.toLocaleString()}${locked().has(p.code) ? ` 🔒 ${locked().get(p.code)}` : ""}`;
      labelsLayer.addLayer(L.tooltip({ permanent: true, direction: "center", className: "grid-label", interactive: false }).setLatLng(layer.getBounds().getCenter()).setContent(text));
    });
  }

  function showSelected() {
    showTable();
    showLabels();
    const feature = state.grids?.features.find((f) => f.properties.code === state.selected);
    if (!feature) {
      $("grid").hidden = true;
      return;
    }
    renderGrid($("grid"), feature.properties, { target: state.target, missing: state.missing.get(feature.properties.code) ?? (state.plan.status === "published" ? [] : undefined), locked: locked().has(feature.properties.code), lockedBy: locked().get(feature.properties.code), onLock: state.plan.status === "draft" ? () => toggleLock(feature.properties.code) : null });
    gridsLayer.setStyle((f) => ({ ...gridStyle(f, { target: state.target, selected: f.properties.code === state.selected }), dashArray: locked().has(f.properties.code) ? "6 4" : null }));
  }

  function onGrid(code) {
    if (state.mode === "merge" && state.selected && code !== state.selected) {
      edit({ operation: "merge", grids: [state.selected, code] });
      return;
    }
    state.selected = code;
    showSelected();
  }

  /** Add a compound to the gathered ones (once), previewed at once. */
  function gather(feature, layer) {
    if (!state.batch.some((b) => b.feature === feature)) state.batch.push({ feature, layer });
    layer.setStyle(PREVIEW_STYLE);
    previewBatch();
  }

  // The drag brush: the map does not pan while the mouse is down on a compound in paint mode;
  // each compound crossed is gathered; the release commits them as one edit. A press and
  // release on one compound is a click, left to onAtom.
  function onAtomDown(feature, layer, event) {
    if (state.mode !== "paint" || !state.selected || event.originalEvent?.shiftKey || event.originalEvent?.button) return;
    map.dragging.disable();
    state.drag = [{ feature, layer }];
    state.dragged = false;
  }

  function onAtomOver(feature, layer) {
    if (!state.drag || state.drag.some((d) => d.feature === feature)) return;
    state.drag.push({ feature, layer });
    if (!state.dragged) {
      performance.mark("gridmap:paint");
      state.dragged = true;
    }
    for (const d of state.drag) {
      if (d.feature.properties.grid !== state.selected && !state.batch.some((b) => b.feature === d.feature) && paintable(d.feature.properties.grid)) gather(d.feature, d.layer);
    }
    performance.mark("gridmap:paint-preview");
  }

  function endDrag() {
    if (!state.drag) return;
    const dragged = state.dragged;
    state.drag = null;
    map.dragging.enable();
    if (!dragged) return;
    state.swallowClick = true; // the click that ends a drag is not a paint of its own
    setTimeout(() => { state.swallowClick = false; }, 0);
    if (state.batch.length) commitBatch();
  }
  document.addEventListener("mouseup", endDrag);

  function onAtom(feature, layer, event) {
    const { grid, cell } = feature.properties;
    if (state.swallowClick) {
      state.swallowClick = false;
      return;
    }
    if (state.mode === "paint" && state.selected && grid !== state.selected) {
      if (!paintable(grid)) return;
      // Shift+click gathers compounds (a brush); Enter or the preview's button moves them all
      // as one edit.
      if (event?.originalEvent?.shiftKey || state.batch.length) {
        gather(feature, layer);
        return;
      }
      // Previewed at once in the browser (the atom recoloured, both grids' totals); the server
      // then commits the edit and stays the judge: a refusal takes the preview back.
      performance.mark("gridmap:paint");
      layer.setStyle(PREVIEW_STYLE);
      const totals = (code) => state.grids.features.find((f) => f.properties.code === code)?.properties;
      renderPreview($("preview"), { atom: feature.properties, from: totals(grid), to: totals(state.selected), target: state.target });
      performance.mark("gridmap:paint-preview");
      performance.measure("gridmap:paint-to-preview", "gridmap:paint", "gridmap:paint-preview");
      edit({ operation: "move", cells: [cell], to_grid: state.selected, from_grid: grid }).then((ok) => {
        if (!ok) layer.setStyle(ATOM_STYLE);
        $("preview").hidden = true;
        performance.mark("gridmap:paint-commit");
        performance.measure("gridmap:paint-to-commit", "gridmap:paint", "gridmap:paint-commit");
      });
      return;
    }
    onGrid(grid);
  }

  async function edit(request) {
    if (state.plan?.status !== "draft") {
      say(t("planner.nodraft"), true);
      return;
    }
    performance.mark("gridmap:edit-start");
    try {
      await state.history.apply(request);
      return true;
    } catch (error) {
      failed(error);
      if (error.status === 409) await loadPlan(state.plan.id, { fit: false });
      return false;
    }
  }

  /** Put an edit's answer on the map: its communities' grids replace theirs, nothing else is
   * fetched but the area's atoms (a district plan's grids are megabytes). */
  function replaceGrids(result) {
    const edited = new Set(result.communities);
    const kept = state.grids.features.filter((f) => !edited.has(f.properties.community_code));
    state.grids = { ...state.grids, features: [...kept, ...result.grids.features] };
    gridsLayer.eachLayer((layer) => {
      if (edited.has(layer.feature.properties.community_code)) gridsLayer.removeLayer(layer);
    });
    gridsLayer.addData(result.grids);
  }

  async function afterEdit(result, how) {
    // The selected grid may have been renumbered by the edit.
    state.selected = result.diff.recoded.find((p) => p.old_code === state.selected)?.new_code ?? state.selected;
    replaceGrids(result);
    await loadAtoms();
    showSelected();
    document.body.dataset.revision = String(result.revision.number);
    // The head moved: a submission of an earlier revision is stale now, not after a reload.
    const submission = state.plan.submission && { ...state.plan.submission, stale: state.plan.submission.revision !== result.revision.number };
    state.plan = { ...state.plan, head: result.revision.number, submission };
    showSubmitted();
    performance.mark(`gridmap:edit-${how}-drawn`);
    performance.measure("gridmap:edit", "gridmap:edit-start", `gridmap:edit-${how}-drawn`);
    say("");
    renderResult($("result"), result, {
      canDiscard: how === "apply" && state.history.canUndo,
      onKeep: () => { $("result").hidden = true; },
      onDiscard: () => history("undo"),
    });
    updateButtons();
    state.revisions = [...(state.revisions ?? []), result.revision];
    showHistory();
    document.body.dataset.applied = String(result.revision.number);
  }

  function showHistory() {
    renderHistory($("history"), state.revisions ?? [], state.history?.revision);
  }

  async function history(which) {
    performance.mark("gridmap:edit-start");
    try {
      await state.history[which]();
    } catch (error) {
      failed(error);
    }
  }

  function updateButtons() {
    const draft = state.plan?.status === "draft";
    for (const button of $("tools").querySelectorAll("[data-mode]")) {
      button.disabled = !draft;
      button.setAttribute("aria-pressed", String(state.mode === button.dataset.mode));
    }
    $("undo").disabled = !state.history?.canUndo;
    $("redo").disabled = !state.history?.canRedo;
    // Publishing needs the admin role (the server refuses anyone else): planners do not see it.
    $("publish").hidden = role() !== "admin";
    $("publish").disabled = !draft;
  }

  function setMode(mode) {
    state.mode = state.mode === mode ? "select" : mode;
    map.pm.disableDraw();
    // The double-click that finishes a line or an outline must not zoom the map too.
    if (state.mode === "split" || state.mode === "reshape") map.doubleClickZoom.disable();
    else map.doubleClickZoom.enable();
    if (state.mode === "paint") say(t("planner.clickatom"));
    if (state.mode === "merge") say(t("planner.mergewith"));
    if ((state.mode === "split" || state.mode === "reshape") && state.selected) {
      say(t(state.mode === "split" ? "planner.drawline" : "planner.drawpolygon"));
      map.pm.enableDraw(state.mode === "split" ? "Line" : "Polygon", { snappable: false, finishOn: "dblclick" });
    }
    updateButtons();
  }

  map.on("pm:create", ({ layer }) => {
    const geometry = toLonLatGeometry(layer, view.lonLatOf);
    layer.remove();
    const mode = state.mode;
    state.mode = "select";
    setTimeout(() => map.doubleClickZoom.enable(), 400); // after the finishing double-click
    updateButtons();
    if (mode === "split") edit({ operation: "split", grid: state.selected, line: geometry });
    if (mode === "reshape") edit({ operation: "reshape", grid: state.selected, polygon: geometry });
  });

  async function loadAreas() {
    const [streets, communities] = await Promise.all([get("/api/layers/streets"), get("/api/layers/communities")]);
    const groups = streets.features.map((street) => {
      const mine = communities.features.filter((c) => c.properties.parent_code === street.properties.code);
      state.areas.set(street.properties.code, mine.map((c) => c.properties.code));
      for (const c of mine) state.areas.set(c.properties.code, [c.properties.code]);
      return h(
        "optgroup",
        { label: street.properties.name },
        h("option", { value: street.properties.code }, `${street.properties.name}（${mine.length}）`),
        mine.map((c) => h("option", { value: c.properties.code }, `· ${c.properties.short_name ?? c.properties.name}`)),
      );
    });
    $("area").append(...groups);
  }

  async function compare() {
    try {
      const diff = await get(`/api/plans/${encodeURIComponent(state.plan.id)}/diff`, { against: "published" });
      const recoded = new Map(diff.recoded.map((p) => [p.old_code, p.new_code]));
      const changed = [];
      atomsLayer.eachLayer((layer) => {
        const { grid, published_grid: was } = layer.feature.properties;
        const moved = was !== null && (recoded.get(was) ?? was) !== grid;
        layer.setStyle(moved ? CHANGED_STYLE : ATOM_STYLE);
        if (moved) changed.push(layer);
      });
      buildingsLayer.clearLayers();
      let count = 0;
      if (changed.length) {
        const bounds = L.featureGroup(changed).getBounds();
        const sw = view.lonLatOf(bounds.getSouthWest());
        const ne = view.lonLatOf(bounds.getNorthEast());
        const buildings = await get("/api/layers/buildings", { bbox: [...sw, ...ne].map((v) => v.toFixed(6)).join(",") });
        for (const building of buildings.features) {
          const shape = view.geoJSON(building);
          const centre = shape.getBounds().getCenter();
          if (changed.some((layer) => layer.getBounds().contains(centre) && inside(centre, layer))) {
            shape.setStyle({ color: "#e66101", weight: 2, fillOpacity: 0.9 }).addTo(buildingsLayer);
            count += 1;
          }
        }
      }
      document.body.dataset.changedAtoms = String(changed.length);
      renderComparison($("comparison"), diff, changed.length, count);
    } catch (error) {
      failed(error);
    }
  }

  $("plan").addEventListener("change", () => { state.selected = null; state.history = null; loadPlan($("plan").value).catch(failed); });
  $("area").addEventListener("change", async () => {
    showTable();
    await loadAtoms().catch(failed);
    if (atomsLayer.getLayers().length) map.fitBounds(atomsLayer.getBounds());
  });
  for (const button of $("tools").querySelectorAll("[data-mode]")) button.addEventListener("click", () => setMode(button.dataset.mode));
  $("undo").addEventListener("click", () => history("undo"));
  $("redo").addEventListener("click", () => history("redo"));
  $("compare").addEventListener("click", compare);
  $("new-draft").addEventListener("click", async () => {
    try {
      const made = await post("/api/plans", { mode: "copy", from_plan: state.plan?.id });
      state.history = null;
      await loadPlans(made.plan.id);
    } catch (error) {
      failed(error);
    }
  });
  $("partition").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const communities = areaCommunities();
    const button = event.target.querySelector("button[type=submit]");
    const bar = $("job-progress");
    say("…");
    button.disabled = true;
    try {
      const queued = await post("/api/plans", { mode: "partition", communities: communities.length ? communities : undefined, target: Number(form.get("target")), tolerance: Number(form.get("tolerance")) });
      bar.hidden = false;
      const job = await followJob(queued.job, (now) => {
        say(jobStatus(now), now.state === "failed");
        bar.max = now.progress?.total || 1;
        bar.value = now.progress?.done ?? 0;
        document.body.dataset.jobState = now.state;
      });
      if (job.state === "done") {
        state.history = null;
        await loadPlans(job.result_plan);
        say(jobStatus(job));
      }
    } catch (error) {
      failed(error);
    } finally {
      button.disabled = false;
      bar.hidden = true;
    }
  });
  // Ctrl+Z undo, Ctrl+Y (or Ctrl+Shift+Z) redo, Esc leaves the tool (not while typing).
  document.addEventListener("keydown", (event) => {
    if (event.target.closest?.("input, textarea, select, dialog")) return;
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "z" && !event.shiftKey && state.history?.canUndo) {
      event.preventDefault();
      history("undo");
    } else if ((event.ctrlKey || event.metaKey) && (key === "y" || (key === "z" && event.shiftKey)) && state.history?.canRedo) {
      event.preventDefault();
      history("redo");
    } else if (event.key === "Enter" && state.batch.length) {
      event.preventDefault();
      commitBatch();
    } else if (event.key === "Escape" && state.batch.length) {
      cancelBatch();
    } else if (event.key === "Escape" && state.mode !== "select") {
      setMode(state.mode);
      say("");
    }
  });
  $("publish").addEventListener("click", async () => {
    try {
      const chosen = await confirmPublish(state.plan);
      if (!chosen) return;
      const done = await post(`/api/plans/${encodeURIComponent(state.plan.id)}/publish`, chosen);
      await loadMissing();
      await loadPlans(state.plan.id);
      const pending = done.publications.some((p) => p.pending);
      say(pending ? t("publish.scheduled", { date: chosen.effective_from }) : t("planner.published"));
      document.body.dataset.effective = done.effective_from ?? "";
    } catch (error) {
      failed(error);
    }
  });
  $("export").addEventListener("click", () => download(`/api/plans/${encodeURIComponent(state.plan.id)}/export`, { format: "geojson" }).catch(failed));

  async function loadMissing() {
    try {
      const { grids } = await get("/api/staff/missing-roles");
      state.missing = new Map(grids.map((g) => [g.grid_code, g.missing]));
    } catch {
      state.missing = new Map();
    }
  }

  Promise.all([loadAreas(), loadMissing()])
    .then(() => loadPlans())
    .then(() => { document.body.dataset.ready = "true"; })
    .catch(failed);
}

/** Whether `latlng` lies in the polygon(s) of `layer` (even-odd rule, outer rings and holes). */
function inside(latlng, layer) {
  const rings = layer.getLatLngs().flat(Infinity).length ? flatten(layer.getLatLngs()) : [];
  let odd = false;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [a, b] = [ring[i], ring[j]];
      if (a.lat > latlng.lat !== b.lat > latlng.lat && latlng.lng < ((b.lng - a.lng) * (latlng.lat - a.lat)) / (b.lat - a.lat) + a.lng) odd = !odd;
    }
  }
  return odd;
}

function flatten(latlngs) {
  return latlngs.length && latlngs[0] instanceof L.LatLng ? [latlngs] : latlngs.flatMap(flatten);
}

main();
