// cargo-leptos starts the server and runs Playwright at once; wait here
// until the server answers its health check (it is up and Redis answers).
export default async function globalSetup(): Promise<void> {
  const baseURL = process.env.REDCHAT_BASE_URL ?? "http://127.0.0.1:3000";
  const deadline = Date.now() + 120_000;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${baseURL}/healthz`);
      if (response.ok) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`Redchat at ${baseURL} did not become healthy: ${last}`);
}
