// The sign-in box of the office and planner pages (OAuth2 password → bearer token).
import { signIn, signOut, signedIn } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

/** Show a sign-in form in `box` until the user signs in; then call `onSignedIn()`. */
export function requireSignIn(box, onSignedIn) {
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
