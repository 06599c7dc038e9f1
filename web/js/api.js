// The gridmap HTTP API, same origin only. A signed-in user's bearer token is kept in
// sessionStorage (it lives as long as the tab) and sent with every call.

const TOKEN_KEY = "gridmap.token";
const ROLE_KEY = "gridmap.role";

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body?.detail;
    const text = typeof detail === "string" ? detail : JSON.stringify(detail ?? body);
    super(`${status}: ${text}`);
    this.status = status;
    this.body = body;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signedIn() {
  return token() !== null;
}

/** OAuth2 password sign-in (POST /api/token); keeps the token; returns {role, …}. */
export async function signIn(username, password) {
  const form = new URLSearchParams({ username, password });
  const answer = await fetch("/api/token", { method: "POST", body: form });
  const body = await answer.json().catch(() => null);
  if (!answer.ok) throw new ApiError(answer.status, body);
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  sessionStorage.setItem(ROLE_KEY, body.role);
  return body;
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ROLE_KEY);
}

/** The signed-in user's role (public, staff, planner, admin), as /api/token said; or null. */
export function role() {
  return sessionStorage.getItem(ROLE_KEY);
}

// Called when a signed-in call answers 401 (the token expired): it asks the user to sign in
// again without leaving the page (signin.js installs a dialog) and resolves once signed in.
let reauthenticate = null;

/** Install `ask` (returns a promise, resolved when signed in again, rejected when not). */
export function onExpiry(ask) {
  reauthenticate = ask;
}

/** Call `path` (with `params` as the query); JSON in and out; ApiError on any non-2xx.
 * A 401 on a call made with a token (it expired) asks to sign in again, then retries once:
 * nothing typed on the page is lost. */
export async function request(path, { method = "GET", params, body, retried = false } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(name, one);
  }
  const headers = { Accept: "application/json, application/geo+json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (answer.status === 204) return null;
  const data = await answer.json().catch(() => null);
  if (!answer.ok) {
    if (answer.status === 401) {
      const hadToken = headers.Authorization !== undefined;
      signOut();
      if (hadToken && reauthenticate && !retried) {
        await reauthenticate();
        return request(path, { method, params, body, retried: true });
      }
    }
    throw new ApiError(answer.status, data);
  }
  return data;
}

export const get = (path, params) => request(path, { params });
export const post = (path, body, params) => request(path, { method: "POST", body, params });
export const patch = (path, body) => request(path, { method: "PATCH", body });
export const put = (path, body) => request(path, { method: "PUT", body });
export const del = (path) => request(path, { method: "DELETE" });

/** A download of `path` as a file (with the token), saved under the server's file name. */
export async function download(path, params) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params ?? {})) url.searchParams.set(name, value);
  const answer = await fetch(url, { headers: { Authorization: `Bearer ${token()}` } });
  if (!answer.ok) throw new ApiError(answer.status, await answer.json().catch(() => null));
  const disposition = answer.headers.get("Content-Disposition") ?? "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? "export";
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await answer.blob());
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  return name;
}

/** GET `path` unless it is unchanged since `etag` (If-None-Match): {changed: false} on 304,
 * else {changed: true, etag, data}. For polling: an unchanged answer costs no body. */
export async function getIfChanged(path, params, etag) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (etag) headers["If-None-Match"] = etag;
  const answer = await fetch(url, { headers, cache: "no-store" });
  if (answer.status === 304) return { changed: false, etag };
  if (answer.status === 401) return { changed: true, etag: null, data: await request(path, { params }) };
  const data = await answer.json().catch(() => null);
  if (!answer.ok) throw new ApiError(answer.status, data);
  return { changed: true, etag: answer.headers.get("ETag"), data };
}

/** POST a multipart form (a file upload) to `path`, with the token; JSON back. A 401 (the
 * token expired) asks to sign in again and retries once, as `request` does. */
export async function upload(path, form, retried = false) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const answer = await fetch(new URL(path, location.origin), { method: "POST", headers, body: form });
  const data = await answer.json().catch(() => null);
  if (!answer.ok) {
    if (answer.status === 401 && headers.Authorization && reauthenticate && !retried) {
      signOut();
      await reauthenticate();
      return upload(path, form, true);
    }
    throw new ApiError(answer.status, data);
  }
  return data;
}

/** An object URL of the image (or any file) at `path`, fetched with the token: an <img> cannot
 * send it itself. The caller revokes it (URL.revokeObjectURL) when the image goes. */
export async function objectUrl(path) {
  const answer = await fetch(new URL(path, location.origin), {
    headers: token() ? { Authorization: `Bearer ${token()}` } : {},
  });
  if (!answer.ok) throw new ApiError(answer.status, await answer.json().catch(() => null));
  return URL.createObjectURL(await answer.blob());
}
