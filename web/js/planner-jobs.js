// A partition runs on the server as a background job (POST /api/plans answers 202 with it):
// the page follows GET /api/jobs/{id} until the job is done or failed, showing its progress
// per community. Leaving the page does not stop the job; the plan appears in the list once done.
import { get } from "./api.js";
import { t } from "./i18n.js";

const POLL_MS = 1000;

/** The line that says where `job` stands. */
export function jobStatus(job) {
  const p = job.progress ?? {};
  if (job.state === "queued") return t("job.queued");
  if (job.state === "failed") return t("job.failed", { error: job.error ?? "" });
  if (job.state === "done") return t("job.done", { grids: job.result?.grids ?? "–", plan: job.result_plan });
  if (p.stage === "joining") return t("job.joining", { total: p.total ?? "–" });
  return t("job.running", { done: p.done ?? 0, total: p.total ?? "–", current: p.current ?? "" });
}

/** Follow `job` until it is done or failed, calling `onChange(job)` each time it is read;
 * resolves with the finished job. */
export async function followJob(job, onChange) {
  let current = job;
  onChange(current);
  while (current.state === "queued" || current.state === "running") {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    current = (await get(`/api/jobs/${encodeURIComponent(current.id)}`)).job;
    onChange(current);
  }
  return current;
}
