// Edits of a draft plan through POST /api/plans/{id}/edits, with undo and redo.
//
// A plan's revisions are immutable and an edit names the revision it starts from, so undo and
// redo are themselves edits: `revert` to the revision before (undo) or after (redo) an edit,
// committed as a new revision. That is exact for every kind of edit: move, merge, split,
// reshape and rebalance alike.
import { ApiError, post } from "./api.js";

export class EditHistory {
  /** `planId` at `revision`; `onChange(result, how)` after every applied edit, undo or redo. */
  constructor(planId, revision, onChange) {
    this.planId = planId;
    this.revision = revision;
    this.onChange = onChange;
    this.done = []; // [{ before, after }]: the revisions an edit went from and to
    this.undone = [];
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
