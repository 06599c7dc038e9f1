// Edits of a draft plan through POST /api/plans/{id}/edits, with undo and redo.
//
// A plan's revisions are immutable and an edit names the revision it starts from, so undo and
// redo are themselves edits: `revert` to the revision before (undo) or after (redo) an edit,
// committed as a new revision. That is exact for every kind of edit: move, merge, split,
// reshape and rebalance alike.
import { ApiError, post } from "./api.js";

export class EditHistory {
  /** `planId` at `revision`; `onChange(result, how)` after every applied edit, undo or redo.
   * `revisions` (GET /api/plans/{id}'s list) rebuild the undo and redo stacks, so they
   * survive a reload: a revert to the revision before the last edit was an undo, a revert to
   * the revision after the last undone edit a redo, anything else a new edit. */
  constructor(planId, revision, onChange, revisions = []) {
    this.planId = planId;
    this.revision = revision;
    this.onChange = onChange;
    this.done = []; // [{ before, after }]: the revisions an edit went from and to
    this.undone = [];
    const ordered = [...revisions].sort((a, b) => a.number - b.number);
    for (const revision of ordered.slice(1)) {
      const to = revision.operation === "revert" ? revision.detail?.request?.to_revision : undefined;
      const last = this.done.at(-1);
      const next = this.undone.at(-1);
      if (to !== undefined && last && to === last.before) this.undone.push(this.done.pop());
      else if (to !== undefined && next && to === next.after) this.done.push(this.undone.pop());
      else {
        this.done.push({ before: revision.base ?? revision.number - 1, after: revision.number });
        this.undone = [];
      }
    }
  }

  get canUndo() {
    return this.done.length > 0;
  }

  get canRedo() {
    return this.undone.length > 0;
  }

  async _send(edit) {
    const { from_grid: _ignored, ...body } = edit;
    const result = await post(`/api/plans/${encodeURIComponent(this.planId)}/edits`, {
      ...body,
      base_revision: this.revision,
    });
    this.revision = result.revision.number;
    return result;
  }

  /** Apply `edit` ({operation, …}). */
  async apply(edit) {
    const before = this.revision;
    const result = await this._send(edit);
    this.done.push({ before, after: result.revision.number });
    this.undone = [];
    this.onChange(result, "apply");
    return result;
  }

  async undo() {
    const last = this.done.pop();
    if (!last) return null;
    let result;
    try {
      result = await this._send({ operation: "revert", to_revision: last.before });
    } catch (error) {
      this.done.push(last);
      throw error;
    }
    this.undone.push(last);
    this.onChange(result, "undo");
    return result;
  }

  async redo() {
    const next = this.undone.pop();
    if (!next) return null;
    let result;
    try {
      result = await this._send({ operation: "revert", to_revision: next.after });
    } catch (error) {
      this.undone.push(next);
      throw error;
    }
    this.done.push(next);
    this.onChange(result, "redo");
    return result;
  }
}

export { ApiError };
