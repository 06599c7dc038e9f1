// Edits of a draft plan through POST /api/plans/{id}/edits, with undo and redo.
//
// A plan's revisions are immutable and an edit names the revision it starts from, so undo is
// itself an edit: the inverse of a move (the same cells back to the grid they came from, under
// that grid's code after the edit). Merge, split and reshape have no exact inverse in the API,
// so they empty the undo stack instead of pretending (see web/README.md).
import { ApiError, post } from "./api.js";

/** The code `code` continues under after an edit (its diff's `recoded` pairs). */
function after(code, diff) {
  return diff.recoded.find((pair) => pair.old_code === code)?.new_code ?? code;
}

export class EditHistory {
  /** `planId` at `revision`; `onChange(result)` after every applied edit, undo or redo. */
  constructor(planId, revision, onChange) {
    this.planId = planId;
    this.revision = revision;
    this.onChange = onChange;
    this.done = [];
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

  /** Apply `edit` ({operation, …}; a move also names `from_grid`, for its undo). */
  async apply(edit) {
    const result = await this._send(edit);
    if (edit.operation === "move" && edit.from_grid) this.done.push({ edit, result });
    else this.done = [];
    this.undone = [];
    this.onChange(result, "apply");
    return result;
  }

  async undo() {
    const last = this.done.pop();
    if (!last) return null;
    const { edit, result } = last;
    const inverse = {
      operation: "move",
      cells: edit.cells,
      to_grid: after(edit.from_grid, result.diff),
      from_grid: after(edit.to_grid, result.diff),
    };
    let undone;
    try {
      undone = await this._send(inverse);
    } catch (error) {
      this.done.push(last);
      throw error;
    }
    // Redo moves the cells again, to the target grid under its code now.
    this.undone.push({
      edit: { ...edit, to_grid: after(inverse.from_grid, undone.diff), from_grid: after(inverse.to_grid, undone.diff) },
    });
    this.onChange(undone, "undo");
    return undone;
  }

  async redo() {
    const next = this.undone.pop();
    if (!next) return null;
    let result;
    try {
      result = await this._send(next.edit);
    } catch (error) {
      this.undone.push(next);
      throw error;
    }
    this.done.push({ edit: next.edit, result });
    this.onChange(result, "redo");
    return result;
  }
}

export { ApiError };
