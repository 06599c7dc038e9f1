// The sign-in box of the office and planner pages (OAuth2 password → bearer token).
import { onExpiry, signIn, signOut, signedIn } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

/** Show a sign-in form in `box` until the user signs in; then call `onSignedIn()`. */
export function requireSignIn(box, onSignedIn) {
  onExpiry(signInAgain);
  if (signedIn()) {
    showSignOut(box);
    onSignedIn();
    return;
  }
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "stack card", id: "signin" },
    h("h2", {}, t("signin.title")),
    h("label", { for: "signin-user" }, t("signin.user")),
    h("input", { id: "signin-user", name: "username", autocomplete: "username", required: true }),
    h("label", { for: "signin-password" }, t("signin.password")),
    h("input", { id: "signin-password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("button", { class: "primary", type: "submit" }, t("signin.submit")),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      await signIn(data.get("username"), data.get("password"));
    } catch (failure) {
      error.textContent = `${t("signin.failed")}: ${failure.message}`;
      error.hidden = false;
      return;
    }
    showSignOut(box);
    onSignedIn();
  });
  box.replaceChildren(form);
}

function showSignOut(box) {
  box.replaceChildren(
    h("button", { type: "button", onclick: () => { signOut(); location.reload(); } }, t("signin.out")),
  );
}

let pending = null;

/** The sign-in expired: a modal dialog signs in again over the page (forms keep what was
 * typed); resolves when signed in, rejects when the user cancels. One dialog at a time. */
export function signInAgain() {
  if (pending) return pending;
  pending = new Promise((resolve, reject) => {
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const dialog = h(
      "dialog",
      { class: "card confirm", id: "signin-again", "aria-labelledby": "signin-again-title" },
      h("form", { class: "stack" },
        h("h2", { id: "signin-again-title" }, t("signin.expired")),
        h("p", { class: "hint" }, t("signin.kept")),
        h("label", { for: "again-user" }, t("signin.user")),
        h("input", { id: "again-user", name: "username", autocomplete: "username", required: true }),
        h("label", { for: "again-password" }, t("signin.password")),
        h("input", { id: "again-password", name: "password", type: "password", autocomplete: "current-password", required: true }),
        h("div", { class: "row" },
          h("button", { class: "primary", type: "submit" }, t("signin.submit")),
          h("button", { type: "button", "data-testid": "signin-cancel", onclick: () => dialog.close() }, t("publish.cancel"))),
        error),
    );
    const form = dialog.querySelector("form");
    let done = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      try {
        await signIn(data.get("username"), data.get("password"));
      } catch (failure) {
        error.textContent = `${t("signin.failed")}: ${failure.message}`;
        error.hidden = false;
        return;
      }
      done = true;
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      pending = null;
      if (done) resolve();
      else reject(new Error(t("signin.expired")));
    });
    document.body.append(dialog);
    dialog.showModal();
  });
  return pending;
}
