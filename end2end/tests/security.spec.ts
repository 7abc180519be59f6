import { expect, test } from "@playwright/test";
import {
  closeContexts,
  createRoom,
  log,
  newContext,
  openUserMenu,
  personIn,
  send,
  signIn,
  uniqueRoom,
} from "./helpers";

test.afterEach(closeContexts);

const corpus = [
  "<img src=x onerror=alert(1)>",
  "<script>alert(2)</script>",
  '"><svg onload=alert(3)>',
  "javascript:alert(4)",
  "<a href=\"javascript:alert(5)\">click</a>",
  "{{7*7}} ${alert(6)}",
];

// The same through the formatting: bold, code, a quote, a list, a link
// whose address is not a web address. Each is shown as the text inside.
const formatted: [string, string][] = [
  ["**<img src=x onerror=alert(11)>**", "<img src=x onerror=alert(11)>"],
  ["`<script>alert(12)</script>`", "<script>alert(12)</script>"],
  ["> <svg onload=alert(13)>", "<svg onload=alert(13)>"],
  ["- <img src=y onerror=alert(14)>", "<img src=y onerror=alert(14)>"],
  ["[click](javascript:alert(15))", "[click](javascript:alert(15))"],
  ["```\n<iframe src=javascript:alert(16)>\n```", "<iframe src=javascript:alert(16)>"],
];

test("markup in messages, room names and display names is shown as text and never runs", async ({
  browser,
}) => {
  const ann = await personIn(browser, "Ann");
  let dialogs = 0;
  ann.page.on("dialog", async (dialog) => {
    dialogs += 1;
    await dialog.dismiss();
  });

  const roomName = `${uniqueRoom("R")} <img src=x onerror=alert(7)>`;
  await createRoom(ann.page, roomName);
  await openUserMenu(ann.page, ann.person.displayName);
  await ann.page.getByRole("button", { name: "Edit name" }).click();
  await ann.page.getByRole("textbox", { name: "Display name" }).fill("<b onmouseover=alert(8)>Ann</b>");
  await ann.page.getByRole("button", { name: "Save" }).click();
  await expect(ann.page.getByRole("banner").getByText("<b onmouseover=alert(8)>Ann</b>")).toBeVisible();

  for (const text of corpus) {
    await send(ann.page, text);
  }
  for (const [typed] of formatted) {
    await send(ann.page, typed);
  }
  for (const text of corpus) {
    await expect(log(ann.page).getByRole("article").filter({ hasText: text })).toHaveCount(1);
  }
  for (const [, shown] of formatted) {
    await expect(log(ann.page).getByRole("article").filter({ hasText: shown })).toHaveCount(1);
  }
  await expect(ann.page.getByRole("heading", { name: roomName })).toBeVisible();
  await expect(ann.page.locator("main img, main svg:not(.icon), main script, main iframe, header b")).toHaveCount(0);
  // The app's icons are in its controls, never in what people wrote, and
  // no link either.
  await expect(log(ann.page).locator(".body svg, .body a, .body img")).toHaveCount(0);
  expect(dialogs).toBe(0);
});

test("a refused send says Slow down with the wait, and keeps the draft", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const room = uniqueRoom("Fast");
  await createRoom(ann.page, room);
  const roomId = ann.page.url().split("/rooms/")[1];
  // Use up this room's burst through the API.
  let refused = false;
  for (let i = 0; i < 200 && !refused; i++) {
    const response = await ann.page.request.post("/api/send_message", {
      form: { room_id: roomId, body: `burst ${i}`, client_msg_id: `burst-${i}` },
    });
    refused = response.status() === 429;
  }
  expect(refused).toBe(true);

  const box = ann.page.getByRole("textbox", { name: "Message" });
  await box.fill("one more thing");
  await box.press("Enter");
  await expect(ann.page.getByRole("alert")).toContainText(/Slow down: try again in \d+ s\./);
  await expect(box).toHaveValue("one more thing");
  await expect(log(ann.page).locator(".message.pending")).toHaveCount(0);
});

test("signing out everywhere else ends the other browser's session", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const other = await (await newContext(browser)).newPage();
  await signIn(other, ann.person.email, ann.person.password);
  await expect(other.getByRole("status")).toHaveText("Live");

  await openUserMenu(ann.page, ann.person.displayName);
  await ann.page.getByRole("button", { name: "Account" }).click();
  const sessions = ann.page.getByRole("list", { name: "Sessions" });
  await expect(sessions.getByRole("listitem")).toHaveCount(2);
  await ann.page.getByRole("button", { name: "Sign out everywhere else" }).click();
  await expect(ann.page.getByText("Signed out 1 other session(s).")).toBeVisible();
  await expect(sessions.getByRole("listitem")).toHaveCount(1);

  // The other browser's event stream ends, and it is signed out.
  await expect(other.getByRole("status")).toHaveText("Reconnecting…");
  await other.reload();
  await expect(other).toHaveURL(/\/login$/);
});
