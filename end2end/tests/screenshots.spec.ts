// The README's screenshots (docs/img/screenshot-*.png), taken on every run
// of the browser tests so that they always show the app as it is: a desktop
// in the light and the dark theme, and a 360 px phone.
import { expect, test, type Browser } from "@playwright/test";
import { closeContexts, log, newContext, newPerson, send, signUp } from "./helpers";

test.afterEach(closeContexts);

const OUT = "../docs/img";

async function someone(browser: Browser, name: string, displayName: string, options = {}) {
  const context = await newContext(browser, options);
  const page = await context.newPage();
  // A short handle, as people pick them (unique enough for one run).
  const handle = `${name.toLowerCase()}_${Math.random().toString(36).slice(2, 6)}`;
  const person = { ...newPerson(name), displayName, handle };
  await signUp(page, person);
  await expect(page.getByRole("status")).toHaveText("Live");
  return { page, person };
}

test("the README's screenshots", async ({ browser }) => {
  const desktop = { viewport: { width: 1280, height: 760 } };
  const ann = await someone(browser, "Ann", "Ann Lee", desktop);
  const bob = await someone(browser, "Bob", "Bob Okafor", {
    viewport: { width: 360, height: 740 },
    hasTouch: true,
    isMobile: true,
  });
  // Plain names: the rooms are entered by id, so other tests' rooms with
  // the same names do not matter.
  const ids: string[] = [];
  for (const name of ["Design reviews", "Team lounge", "Release planning"]) {
    const response = await ann.page.request.post("/api/create_room", { form: { name, private: "false" } });
    expect(response.status()).toBe(200);
    ids.push((await response.json()).id);
  }
  const lounge = ids[1];
  const joined = await bob.page.request.post("/api/join_room", { form: { room_id: lounge } });
  expect(joined.status()).toBe(200);
  const topic = await ann.page.request.post("/api/update_room", {
    form: { room_id: lounge, topic: "Coffee, cats and the week's news" },
  });
  expect(topic.status()).toBe(200);
  // A direct message, so the sidebar shows one.
  const direct = await bob.page.request.post("/api/open_direct", { form: { handles: ann.person.handle } });
  expect(direct.status()).toBe(200);
  const sent = await bob.page.request.post("/api/send_message", {
    form: { room_id: (await direct.json()).id, body: "Lunch on Friday?", client_msg_id: `dm-${Date.now()}` },
  });
  expect(sent.status()).toBe(200);
  await ann.page.goto(`/rooms/${lounge}`);
  await bob.page.goto(`/rooms/${lounge}`);
  for (const page of [ann.page, bob.page]) {
    await page.locator("body[data-hydrated]").waitFor();
    await expect(page.getByRole("status")).toHaveText("Live");
  }
  await send(ann.page, "Morning! The new layout is live: phones get one pane at a time.");
  await send(bob.page, `@${ann.person.handle} just tried it on my phone, the back button is where my thumb is.`);
  await send(ann.page, "Avatars are generated from your initials, so people are easy to tell apart.");
  await send(bob.page, "And Ctrl+K jumps to a room by a few letters. Lovely.");
  await expect(log(ann.page).getByRole("article")).toHaveCount(4);
  await expect(log(bob.page).getByRole("article")).toHaveCount(4);

  // No hover effects in the pictures.
  await ann.page.mouse.move(1, 1);
  await bob.page.mouse.move(1, 1);
  await ann.page.emulateMedia({ colorScheme: "light" });
  await ann.page.screenshot({ path: `${OUT}/screenshot-desktop-light.png` });
  await ann.page.emulateMedia({ colorScheme: "dark" });
  await ann.page.screenshot({ path: `${OUT}/screenshot-desktop-dark.png` });
  await bob.page.screenshot({ path: `${OUT}/screenshot-phone.png` });
});
